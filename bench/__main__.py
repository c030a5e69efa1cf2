"""``python -m bench [NAME ...]``: run the benchmarks (all by default) and print their tables.

Each module under bench/ exposes ``main()`` (prints a table) and ``run() -> list[dict]``.
They are meant for a quiet machine: numbers taken while other work runs are not comparable.
"""

from __future__ import annotations

import importlib
import sys
import time

from rich.console import Console

# Order: cheap first, so a partial run still says something.
BENCHMARKS = ["synth", "range_error", "trackers", "latency", "detector", "retrain", "service"]


def main(argv: list[str]) -> int:
    names = argv or BENCHMARKS
    unknown = sorted(set(names) - set(BENCHMARKS))
    if unknown:
        Console(stderr=True).print(f"unknown benchmark(s) {unknown}; known: {BENCHMARKS}")
        return 2
    console = Console()
    for name in names:
        console.rule(f"bench.{name}")
        start = time.perf_counter()
        importlib.import_module(f"bench.{name}").main()
        console.print(f"[dim]bench.{name} took {time.perf_counter() - start:.1f} s[/]")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
