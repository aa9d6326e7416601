"""Bank file parser tests (package so the helpers import relatively)."""
