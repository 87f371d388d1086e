"""Fixtures of the live fault tests (defined in ``live.py`` so the tests can import its helpers)."""

from faults_live.live import mailbox, start_server, webhook

__all__ = ["mailbox", "start_server", "webhook"]
