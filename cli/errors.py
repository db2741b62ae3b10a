"""The edge of every command: any failure becomes a one-line message and an exit code."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any

import click

from core.errors import SearchError

DEBUG = os.environ.get("POISK_DEBUG") == "1"
INTERRUPTED = 130  # the shell's code for a command stopped by Ctrl+C (128 + SIGINT)


def one_line_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn any failure into a one-line message and exit code 1 (POISK_DEBUG=1: traceback);
    Ctrl+C exits with 130, as the shell expects of an interrupted command."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            raise click.exceptions.Exit(INTERRUPTED) from None
        except (click.ClickException, click.Abort, click.exceptions.Exit):
            raise
        except SearchError as exc:
            raise click.ClickException(str(exc)) from exc
        except Exception as exc:  # the edge of the program: nothing escapes as a traceback
            if DEBUG:
                raise
            message = f"{type(exc).__name__}: {exc} (POISK_DEBUG=1 shows the traceback)"
            raise click.ClickException(" ".join(message.split())) from exc

    return wrapper
