"""Evaluation measures: metric sums and the masked mean (means), contingency tables with ACC/NMI/ARI
(clustering), Frechet distances of a digit classifier's features (frechet), word similarity and
analogy scores (word_benchmarks)."""
