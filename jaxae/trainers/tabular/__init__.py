"""Tables: numeric and categorical columns in one code, row scores (trainer); encode / decode / scores of
rows (inference)."""
