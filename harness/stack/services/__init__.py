"""One small module per service of the local backend; each starts its process and says when it is ready."""
