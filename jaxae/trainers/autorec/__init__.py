"""AutoRec: rating-matrix rows with an observed mask (trainer); predicted ratings and embeddings (inference)."""
