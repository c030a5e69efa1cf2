"""Printing a benchmark's rows (a list of same-keyed dicts) as one rich table."""

from __future__ import annotations

from typing import Any, Sequence

from rich.console import Console
from rich.table import Table


def print_rows(title: str, rows: Sequence[dict[str, Any]]) -> None:
    """One column per key of the first row; None prints as '-'."""
    table = Table(title=title)
    for key in rows[0]:
        table.add_column(key)
    for row in rows:
        table.add_row(*("-" if v is None else str(v) for v in row.values()))
    Console().print(table)
