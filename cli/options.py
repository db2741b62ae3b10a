"""The search command's options, generated from the request model (search/contract.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from search import contract


def request_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """A click option for every search parameter but the query, generated from the request
    model (search/contract.py): values are parsed and checked as the API's query string is,
    so the CLI takes exactly what the API takes and answers with the same messages."""
    for name, field in reversed(list(contract.query_options().items())):
        command = click.option(
            "--" + name.replace("_", "-"),
            name,
            metavar=contract.base_type(field).__name__.upper()
            if not contract.choices(field)
            else "|".join(contract.choices(field)),
            help=_option_help(field),
        )(command)
    return command


def _option_help(field: Any) -> str:
    """An option's help: the field's description, its range, its default."""
    text = field.description or ""
    low, high = contract.bounds(field)
    if low is not None:
        text += f" ({low}-{high})"
    default = field.default
    if default is not None:
        text += f"; default {default}"
    return text[:1].upper() + text[1:] + "."
