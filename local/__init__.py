"""The offline stack (never deployed)."""
