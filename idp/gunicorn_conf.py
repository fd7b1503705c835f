"""gunicorn settings used by ``idp serve``; every value can be overridden on the command line.

Worker model: synchronous workers, one request at a time each, ``2 x cores`` by default (the
provider's work is CPU-bound password hashing and signing plus short database queries, so more
threads would only queue behind the GIL). Instances share nothing but the database, so scale
out by adding instances behind a load balancer. ``preload_app`` imports the app once in the
master, so a bad configuration stops start-up before any worker forks.
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


def child_exit(server, worker):  # noqa: ANN001, ARG001 - gunicorn's hook signature
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


bind = os.environ.get("IDP_BIND", "127.0.0.1:5000")
workers = int(os.environ.get("IDP_WORKERS", multiprocessing.cpu_count() * 2))
worker_class = "sync"
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
loglevel = os.environ.get("IDP_LOG_LEVEL", "info")
