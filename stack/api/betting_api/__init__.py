"""Reference betting API for the alert-verification harness (see stack/api/README.md)."""
