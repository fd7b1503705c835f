"""Static files: pages link them by content digest, so browsers may keep them for a year and
still get an edited file with the next page."""

from __future__ import annotations

import hashlib
import re

from idp.resources import resource


def test_pages_link_static_files_by_digest_and_those_are_cached_for_a_year(client):
    page = client.get("/login").get_data(as_text=True)
    href = re.search(r'href="(/static/site\.css\?v=([0-9a-f]+))"', page)
    assert href, "the stylesheet is not linked by digest"
    css = (resource("static") / "site.css").read_bytes()
    assert href.group(2) == hashlib.sha256(css).hexdigest()[:16]

    response = client.get(href.group(1))
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_an_unversioned_or_stale_address_is_cached_briefly_and_revalidated(client):
    for address in ("/static/site.css", "/static/site.css?v=0123456789abcdef"):
        response = client.get(address)
        assert response.headers["Cache-Control"] == "public, max-age=300"
        etag = response.headers["ETag"]
        again = client.get(address, headers={"If-None-Match": etag})
        assert again.status_code == 304


def test_a_missing_static_file_is_a_plain_404(client):
    assert client.get("/static/nothing-here.css").status_code == 404
    assert client.get("/static/../pyproject.toml").status_code == 404
