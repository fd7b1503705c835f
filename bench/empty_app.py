"""The cheapest possible Flask endpoint, served like the provider to give the "empty-endpoint rate".

Whatever the provider's discovery or JWKS endpoint costs above this app is the provider's own
work; everything below it (gunicorn's accept-one-connection-per-request loop, WSGI, Flask routing)
is the floor any Flask endpoint on this setup pays.
"""

from flask import Flask, Response

app = Flask(__name__)


@app.get("/")
def index() -> Response:
    return Response(b"{}", mimetype="application/json")
