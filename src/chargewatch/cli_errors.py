"""What the `chargewatch` command says when something goes wrong: one line on stderr and an exit code, never a
traceback for a mistake the person can fix (a bad argument, a server that is not running, a port that is taken, a
database that cannot be opened). Every subcommand runs inside ``report_errors``, those that other modules add
through ``register(subparsers)`` included, since ``main`` calls it around whatever ``args.func`` is.

Exit codes: 0 done; 1 the server, database or system refused (it says why); 2 the input was wrong (argparse's own
code for a usage error); 70 a bug (EX_SOFTWARE: the traceback is shown with ``-v``); 130 interrupted.
"""

from __future__ import annotations

import argparse
import errno
import re
import sys
import traceback
from collections.abc import Callable

USAGE, REFUSED, BUG, INTERRUPTED = 2, 1, 70, 130


class UserError(Exception):
    """A mistake the person can correct; ``str()`` says what and how. Exit 2 unless ``code`` says otherwise."""

    def __init__(self, message: str, code: int = USAGE):
        super().__init__(message)
        self.code = code


def _say(message: str) -> None:
    print(f"chargewatch: {message}", file=sys.stderr)


def _hide_password(text: str) -> str:
    return re.sub(r"(://[^:/@\s]+):[^@\s]*@", r"\1:***@", text)


def report_errors(run: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """Run one subcommand; turn what it raises into one line and an exit code."""
    import httpx
    from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

    from .settings import SettingError

    try:
        return run(args)
    except UserError as error:
        _say(str(error))
        return error.code
    except SettingError as error:  # an environment variable the server reads at start
        _say(str(error))
        return USAGE
    except KeyboardInterrupt:
        _say("interrupted")
        return INTERRUPTED
    except httpx.HTTPError as error:
        where = getattr(args, "api", None) or "the API"
        reason = str(error) or type(error).__name__
        _say(f"cannot reach the chargewatch API at {where}: {reason}. Is `chargewatch serve` running there? "
             f"(--api URL; $CHARGEWATCH_API_USER/_PASSWORD for its login)")
        return REFUSED
    except (ArgumentError, NoSuchModuleError) as error:
        _say(f"not a database URL (sqlite:///path or postgresql://user@host/db): {_hide_password(str(error))}")
        return USAGE
    except DBAPIError as error:
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        _say(f"database error: {_hide_password(reason)}")
        return REFUSED
    except OSError as error:
        if error.errno == errno.EADDRINUSE or "address already in use" in str(error).lower():
            _say(f"{error.strerror or error}. Another program (an earlier chargewatch?) listens there: stop it, "
                 "or choose --ocpp-port / --http-port")
        else:
            _say(f"{error.strerror or error}" + (f": {error.filename}" if error.filename else ""))
        return REFUSED
    except Exception as error:  # noqa: BLE001 - a bug: one line, the traceback on request
        if getattr(args, "verbose", False):
            traceback.print_exc()
        _say(f"unexpected error ({type(error).__name__}: {error}); this is a bug in chargewatch"
             + ("" if getattr(args, "verbose", False) else ", run with -v for the traceback"))
        return BUG
