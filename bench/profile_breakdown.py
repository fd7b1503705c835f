"""Where a worker's CPU goes, from a py-spy profile: the table in bench/README.md.

    py-spy record --subprocesses -p <gunicorn master pid> -d 15 -r 200 -f raw -o refresh.txt
    .venv/bin/python bench/profile_breakdown.py refresh.txt [client-credentials.txt ...]

Each sample (one stack, on CPU) is charged to the innermost frame that belongs to a known
layer (the leaf's own package first: a socket write inside gunicorn is gunicorn's), so the
shares add up to 100 %. A second table gives inclusive shares of a few named steps (a sample
counts for every step on its stack), which is how "signing is 13 % of a refresh" is read.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

# (layer, pattern on a frame's file path), tried in order on each frame from the leaf up.
LAYERS = (
    ("RSA/EC signature (cryptography)", r"cryptography/|joserfc/_rfc7518|/_rust"),
    ("JOSE (joserfc)", r"joserfc/"),
    ("database driver (psycopg)", r"psycopg"),
    ("SQLAlchemy", r"sqlalchemy/"),
    ("Authlib", r"authlib/"),
    ("Jinja2", r"jinja2/"),
    ("Flask's extensions (Limiter, Login, Babel, WTF, SQLAlchemy)", r"flask_\w+/"),
    ("Flask, Werkzeug", r"flask/|werkzeug/"),
    ("gunicorn and sockets", r"gunicorn/|selectors\.py|socket\.py|ssl\.py|idp/gunicorn_worker"),
    ("the provider (idp/)", r"/idp/"),
    ("logging", r"logging/"),
    ("json", r"json/"),
)
# Inclusive steps: a function name pattern on any frame of the stack.
STEPS = (
    ("inside the Flask app (the rest: gunicorn)", r"Flask\.wsgi_app \("),
    ("request hooks (before and after)", r"Flask\.(preprocess_request|process_response) \("),
    ("metrics (prometheus_client)", r"prometheus_client/"),
    ("form and headers parsing", r"werkzeug/(formparser|datastructures|sansio/request)"),
    ("client authentication", r"authenticate_client"),
    ("statements (psycopg execute)", r"Cursor\.execute \(psycopg/cursor"),
    (
        "ORM session: checkout, begin, commit, close",
        r"(Session\.(commit|close|_connection_for_bind)|scoped_session\.remove) \(",
    ),
    ("ID token signed (joserfc)", r"sign_compact \(joserfc"),
    ("JSON", r"json/"),
)
FRAME = re.compile(r"^(?P<func>.+?) \((?P<file>[^:()]+)(?::\d+)?\)$")


def parse(path: Path) -> list[tuple[list[str], int]]:
    """The profile's stacks (root first) and their sample counts."""
    stacks = []
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            stacks.append((stack.split(";"), int(count)))
    return stacks


def layer_of(frames: list[str]) -> str:
    for frame in reversed(frames):
        match = FRAME.match(frame)
        file = match.group("file") if match else frame
        for name, pattern in LAYERS:
            if re.search(pattern, file):
                return name
    return "Python and the standard library (other)"


def breakdown(stacks: list[tuple[list[str], int]]) -> tuple[Counter[str], Counter[str], int]:
    layers: Counter[str] = Counter()
    steps: Counter[str] = Counter()
    total = 0
    for frames, count in stacks:
        # A process's own name heads its stacks ("process 123:..."): not a frame.
        frames = [f for f in frames if not f.startswith(("process ", "thread "))]
        total += count
        layers[layer_of(frames)] += count
        for name, pattern in STEPS:
            if any(re.search(pattern, f) for f in frames):
                steps[name] += count
    return layers, steps, total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("profiles", nargs="+", type=Path)
    opts = parser.parse_args()
    for path in opts.profiles:
        layers, steps, total = breakdown(parse(path))
        if not total:
            print(f"{path}: no samples")
            continue
        print(f"\n{path.name}: {total:,} samples on CPU")
        print(f"{'layer (innermost known frame)':<60} {'share':>6}")
        for name, count in layers.most_common():
            print(f"{name:<60} {100 * count / total:>5.1f}%")
        # The arithmetic checks itself: the layers are a partition of the samples.
        assert sum(layers.values()) == total
        print(f"\n{'step (inclusive)':<60} {'share':>6}")
        for name, _pattern in STEPS:
            print(f"{name:<60} {100 * steps[name] / total:>5.1f}%")


if __name__ == "__main__":
    main()
