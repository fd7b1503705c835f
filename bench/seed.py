"""Run several ``idp`` CLI commands with ``--json`` in one process; print their outputs as JSON.

Usage (the benchmark calls it with the server's environment)::

    python -m bench.seed '{"name": ["db", "upgrade"], ...}'

Each command goes through ``idp.cli.main``, exactly as the ``idp`` console script would run it;
a failing command stops the run with its exit status and its one-line error on stderr.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
from typing import Any

from idp.cli import main as idp_main


def run(argv: list[str]) -> Any:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        try:
            idp_main([*argv, "--json"])
        except SystemExit as exit_:
            if exit_.code not in (0, None):
                print(f"bench.seed: `idp {' '.join(argv)}` failed", file=sys.stderr)
                raise
    return json.loads(out.getvalue())


def main() -> None:
    commands: dict[str, list[str]] = json.loads(sys.argv[1])
    print(json.dumps({name: run(argv) for name, argv in commands.items()}))


if __name__ == "__main__":
    main()
