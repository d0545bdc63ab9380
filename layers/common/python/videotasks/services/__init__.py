"""Application services: each use case, composed from the domain rules and the adapters."""
