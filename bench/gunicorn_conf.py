"""gunicorn settings for the benchmark: the provider's own ``idp/gunicorn_conf.py``, access log off.

The project's switch for the access log, ``IDP_ACCESS_LOG``, can only redirect it: an empty
value makes gunicorn fail at start-up (it tries to open the file ``""``). gunicorn's command
line can only redirect it too, and ``--access-logfile /dev/null`` still formats every line
(0.05-0.08 ms per request, a fifth of the empty endpoint's cost). So this file runs the
project's settings file as is and then turns the access log off; everything else (worker
class, timeouts, ``max_requests``, ``preload_app``) is exactly the project's.
"""

import runpy
from pathlib import Path

_PROJECT_SETTINGS = Path(__file__).resolve().parent.parent / "idp" / "gunicorn_conf.py"

globals().update(
    {k: v for k, v in runpy.run_path(str(_PROJECT_SETTINGS)).items() if not k.startswith("_")}
)
accesslog = None
