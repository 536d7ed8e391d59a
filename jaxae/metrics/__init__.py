"""Evaluation measures: contingency tables with ACC/NMI/ARI (clustering), Frechet distances of a digit
classifier's features (frechet), word similarity and analogy scores (word_benchmarks)."""
