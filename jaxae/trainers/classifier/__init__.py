"""Few-label classification: an encoder and a dense head (trainer), predict / predict_proba (inference)."""
