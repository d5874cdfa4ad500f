"""What every command module shares: the invocation's settings, the consoles, and the one place
domain errors become messages and exit codes.

It is its own module so command modules can use it without importing the root app that imports
them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from evalkit.errors import EvalkitError, StoreError, UsageError

if TYPE_CHECKING:
    from evalkit.settings import Settings
    from evalkit.store.database import Database

EXIT_REJECTED, EXIT_USAGE, EXIT_STORE = 1, 2, 3
#: as a shell reports a process stopped by SIGINT (128 + 2)
EXIT_INTERRUPTED = 130

# Piped output (CI logs, files) gets a width that fits the summary table, not 80 columns.
console = Console(width=None if Console().is_terminal else 120)
err_console = Console(stderr=True, width=None if Console(stderr=True).is_terminal else 120)


class State:
    settings: Settings


#: Filled in by the root callback before any command runs.
state = State()


def print_error(message: str) -> None:
    # Messages quote user input (values, paths, JSON), whose brackets are not Rich markup; one
    # message stays one line, so logs can be grepped.
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)


def fail(message: str, code: int) -> NoReturn:
    print_error(message)
    raise typer.Exit(code)


def open_db() -> Database:
    from evalkit.store.database import Database

    try:
        return Database.open(state.settings.resolved_database_url)
    except StoreError as exc:
        fail(str(exc), EXIT_STORE)


def translate_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Translate domain errors raised inside a command into messages and exit codes."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except UsageError as exc:
            fail(str(exc), EXIT_USAGE)
        except StoreError as exc:
            fail(str(exc), EXIT_STORE)
        except EvalkitError as exc:
            fail(str(exc), EXIT_REJECTED)

    return wrapper
