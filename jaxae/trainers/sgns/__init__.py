"""Skip-gram with negative sampling (trainer); the word tables and named embeddings (inference)."""
