"""chargewatch: monitor EV charging sessions end to end (OCPP gateway, billing, faults, feedback)."""

__version__ = "0.1.0"
