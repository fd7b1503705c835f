"""gunicorn settings used by ``idp serve``; every value can be overridden on the command line.

Worker model: ``2 x cores`` workers by default, each gunicorn's threaded worker with two
threads, whose event loop reads each request whole before a thread serves it
(idp/gunicorn_worker.py): a client sending its request a byte at a time then holds a socket,
not the worker, and a request that has not arrived within ``timeout`` is dropped. The
provider's work is CPU-bound password hashing and signing plus short database queries, so
more threads would only queue behind the GIL; the second lets one request's database or SMTP
wait overlap another's work. Instances share nothing but the database, so scale
out by adding instances behind a load balancer. ``preload_app`` imports the app once in the
master, so a bad configuration stops start-up before any worker forks; the master then loads
the signing keys and compiles the templates once, and every worker forked from it inherits
them (``pre_fork``). A worker leaving after ``max_requests`` skips the interpreter's teardown
(``worker_exit``), so the master replaces it at once. Why, with figures: idp/preload.py.

gunicorn's control socket (``gunicornc``) is off: its default path is one per user
(``~/.gunicorn/gunicorn.ctl``), so every gunicorn a user starts (instances side by side, the
demo's services) would fight over it, and the first to stop would remove it for all.
"""

import multiprocessing
import os
import tempfile

# Prometheus counts per worker in files here, summed at each scrape (idp.metrics); a fresh
# directory per server start, set before the app (and prometheus_client) is imported.
_OWN_METRICS_DIR = None
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    _OWN_METRICS_DIR = tempfile.mkdtemp(prefix="idp-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = _OWN_METRICS_DIR


def on_exit(server):  # noqa: ANN001, ARG001 - gunicorn's hook signature
    if _OWN_METRICS_DIR:
        import shutil

        shutil.rmtree(_OWN_METRICS_DIR, ignore_errors=True)


def pre_fork(server, worker):  # noqa: ANN001, ARG001 - gunicorn's hook signature
    # In the master, before each fork. The count of the worker's connections, which the
    # workers share to balance them (idp/gunicorn_worker.py):
    from idp.gunicorn_worker import Balance

    if getattr(server, "_idp_balance", None) is None:
        server._idp_balance = Balance()
    worker.balance = server._idp_balance
    worker.balance_slot = server._idp_balance.claim()
    # The app, warmed once per loaded app (a reload loads a new one). Without preload_app the
    # master holds no app to warm.
    if not server.cfg.preload_app:
        return
    app = server.app.wsgi()
    if getattr(server, "_idp_warmed", None) is not app:
        import gc

        from idp import preload

        preload.warm(app)
        server._idp_warmed = app
        # What the master holds now lives as long as it does: keep the workers' garbage
        # collector from scanning it (and from touching, hence copying, its pages).
        gc.freeze()


def worker_exit(server, worker):  # noqa: ANN001, ARG001 - gunicorn's hook signature
    # Also called in the master for a worker that was already gone: nothing to do there.
    if os.getpid() != worker.pid:
        return
    import atexit
    import sys

    from idp import preload

    # gunicorn calls this while the worker's SystemExit propagates: keep its status.
    leaving = sys.exc_info()[1]
    code = leaving.code if isinstance(leaving, SystemExit) else 0
    status = 0 if code is None else code if isinstance(code, int) else 1
    try:
        preload.release(worker.wsgi)
    except Exception:  # a worker whose app never loaded, a database already gone
        server.log.warning("worker %s: database connections not closed cleanly", worker.pid)
    atexit._run_exitfuncs()  # what a normal exit would run: logging flushes its handlers
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


def child_exit(server, worker):  # noqa: ANN001, ARG001 - gunicorn's hook signature
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
    balance = getattr(server, "_idp_balance", None)
    if balance is not None:
        balance.release(getattr(worker, "balance_slot", None))


bind = os.environ.get("IDP_BIND", "127.0.0.1:5000")
workers = int(os.environ.get("IDP_WORKERS", multiprocessing.cpu_count() * 2))
worker_class = "idp.gunicorn_worker.BufferingWorker"
threads = 2
preload_app = True
timeout = 30
graceful_timeout = 30
keepalive = 2
max_requests = 10000
max_requests_jitter = 1000
accesslog = os.environ.get("IDP_ACCESS_LOG", "-") or None  # empty: no access log
# Reset-link tokens and code, state and token parameters never reach the access log.
logger_class = "idp.access_log.RedactingLogger"
access_log_format = '%(h)s %(t)s "%(r)s" %(s)s %(b)s %(M)sms "%(a)s" request_id=%({x-request-id}o)s'
errorlog = "-"
control_socket_disable = True
loglevel = os.environ.get("IDP_LOG_LEVEL", "info")
