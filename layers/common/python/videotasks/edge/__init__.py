"""The HTTP and WebSocket edge: reply envelopes, the OpenAPI document and caller authentication."""
