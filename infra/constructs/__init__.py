"""The stack's parts, one construct per capability (docs/architecture.md names their ids)."""
