"""Small helpers shared by the CLI modules."""

from __future__ import annotations

import sys
from typing import NoReturn

from rich.console import Console

console = Console()
err_console = Console(stderr=True)


def fail(message: str, code: int = 1) -> NoReturn:
    """Print one clear sentence on stderr and exit non-zero (no traceback for user errors)."""
    err_console.print(f"[bold red]error:[/] {message}")
    sys.exit(code)
