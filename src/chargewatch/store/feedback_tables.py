"""Tables of the feedback domain (on the shared metadata)."""
