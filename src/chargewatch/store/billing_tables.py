"""Tables of the billing domain (on the shared metadata)."""
