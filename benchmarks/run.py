"""Run every vibench benchmark (``make benchmark``); arguments go to each script."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import session_throughput

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks in turn; return the worst exit status."""
    return session_throughput.main(argv)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
