"""Load benchmark for the identity provider: ``python bench/run.py`` (see bench/README.md)."""
