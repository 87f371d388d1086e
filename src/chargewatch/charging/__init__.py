"""Smart charging's shell: the service that sends neutral charging profiles through a charger's OCPP version and
records what the charger answered (``service``), and its CLI (``cli``). The rules are in ``domain.charging``."""
