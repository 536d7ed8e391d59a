"""Clustering building blocks shared by the deep-clustering families: `kmeans` (K-means in JAX) and
`metrics` (ACC, NMI and ARI from a contingency matrix)."""
