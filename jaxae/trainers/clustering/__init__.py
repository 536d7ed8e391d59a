"""The deep-clustering families (AE + K-means, DCN, DEC/IDEC, VaDE, JULE, N2D): what they share (shared),
one module per method, and what `jaxae.load` returns for them (inference)."""
