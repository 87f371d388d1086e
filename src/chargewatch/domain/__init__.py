"""The protocol-neutral model the store, the bus and the domains share (see ``model``)."""
