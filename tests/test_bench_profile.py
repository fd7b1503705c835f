"""bench/profile_breakdown.py on a made-up py-spy profile: each sample is charged to the
innermost frame of a known layer, the layers add up to every sample, and a step counts every
sample with it on the stack."""

from __future__ import annotations

from bench.profile_breakdown import breakdown, parse

SERVER = 'process 1:"gunicorn";handle (gunicorn/workers/gthread.py:1)'
APP = SERVER + ";Flask.wsgi_app (flask/app.py:2)"
PROFILE = "\n".join(
    [
        APP + ";Session.commit (sqlalchemy/orm/session.py:3)"
        ";Cursor.execute (psycopg/cursor.py:4) 30",
        APP + ";sign_compact (joserfc/_rfc7515/compact.py:5)"
        ";_RSAAlgModel.sign (joserfc/_rfc7518/jws_algs.py:6) 10",
        SERVER + ";select (selectors.py:7) 60",
    ]
)


def test_layers_partition_the_samples_and_steps_are_inclusive(tmp_path):
    path = tmp_path / "refresh.txt"
    path.write_text(PROFILE + "\n")
    layers, steps, total = breakdown(parse(path))
    assert total == 100
    assert layers == {
        "database driver (psycopg)": 30,
        "RSA/EC signature (cryptography)": 10,
        "gunicorn and sockets": 60,
    }
    assert steps["inside the Flask app (the rest: gunicorn)"] == 40
    assert steps["ORM session: checkout, begin, commit, close"] == 30
    assert steps["statements (psycopg execute)"] == 30
    assert steps["ID token signed (joserfc)"] == 10
