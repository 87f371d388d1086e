"""Tables of the faults domain (on the shared metadata)."""
