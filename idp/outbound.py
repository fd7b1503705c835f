"""Requests the provider itself makes to addresses that clients gave it (a ``jwks_uri`` it
fetches, a ``backchannel_logout_uri`` or ``user_data_uri`` it posts to), guarded against
server-side request forgery.

Anyone holding an initial access token can register a client, and so name a URL the provider
will request from inside its own network. For such a client (unless the deployment allows it,
for development) the URL must use https and must not lead to a loopback, private, link-local,
unique-local, multicast, reserved or unspecified address. The rule is checked twice: when the
URL is registered (``check_public_url``, on what the URL spells: an address, ``localhost``)
and when it is requested (``urlopen``): the host name is resolved then, every address it
resolves to must be public, and the connection is made to the address that was checked, so a
name that resolved to a public address at registration and to an internal one now (DNS
rebinding) is refused. Guarded requests go direct (no proxy from the environment) and follow
no redirects, so neither can lead them elsewhere.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import urllib.request
from typing import Any
from urllib.parse import urlsplit

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
NAT64 = ipaddress.ip_network("64:ff9b::/96")


class RefusedAddress(OSError):
    """A guarded request to an address it must not reach (an ``OSError``, so a caller that
    counts a service it cannot reach as down treats it the same way)."""


def is_public(address: Address) -> bool:
    """Whether ``address`` is one the provider may reach on a client's behalf: globally routed
    and not multicast; an IPv4 address carried in IPv6 (mapped, 6to4, NAT64) is judged as the
    IPv4 address it carries."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.scope_id:
            return False
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return is_public(embedded)
    return address.is_global and not address.is_multicast


def _literal(host: str) -> Address | None:
    """The address a host names without a lookup: an IP literal, or one of the old IPv4
    spellings that resolvers still accept (``2130706433``, ``127.1``, ``0x7f.0.0.1``)."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


def check_public_url(uri: str) -> None:
    """A URL the provider may request for a self-registered client, as far as can be told
    without a lookup: https, to a host that is not ``localhost`` (or a name under it) nor a
    non-public address. ``ValueError`` says why not."""
    parts = urlsplit(uri)
    host = (parts.hostname or "").rstrip(".")
    if parts.scheme != "https" or not host:
        raise ValueError("must use https")
    address = _literal(host)
    if host == "localhost" or host.endswith(".localhost") or (address and not is_public(address)):
        raise ValueError("must not name a loopback, private, link-local or other internal address")


def _connect(address: tuple[str, int], timeout: Any, *args: Any) -> socket.socket:
    """``socket.create_connection``, to an address resolved and checked here: refused unless
    every address the host resolves to is public."""
    host, port = address
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in found]
    refused = [a for a in addresses if not is_public(a)]
    if refused:
        raise RefusedAddress(f"{host} resolves to a non-public address ({refused[0]})")
    problem: OSError | None = None
    for checked in dict.fromkeys(addresses):
        try:
            return socket.create_connection((str(checked), port), timeout, *args)
        except OSError as exc:
            problem = exc
    assert problem is not None
    raise problem


class _GuardedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The TLS handshake still names, and the certificate is still checked against, the
        # host; only the TCP connection goes to the checked address.
        self._create_connection = _connect


class _GuardedHTTPSHandler(urllib.request.HTTPSHandler):
    def https_open(self, req: urllib.request.Request) -> Any:
        return self.do_open(_GuardedHTTPSConnection, req)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # the 3xx answer is returned (or raised) as it is


_GUARDED = urllib.request.build_opener(
    urllib.request.ProxyHandler({}), _GuardedHTTPSHandler(), _NoRedirects()
)


def allows_private(self_registered: bool, *, deployment_allows: bool) -> bool:
    """Whether requests for a client may reach internal addresses: those an operator
    registered may (the demo's services listen on loopback); a self-registered client's only
    where the deployment allows it (``[oidc] registration_allows_private_addresses``)."""
    return not self_registered or deployment_allows


def urlopen(request: urllib.request.Request | str, *, timeout: float, allow_private: bool) -> Any:
    """Open ``request`` as ``urllib.request.urlopen`` does, guarded unless ``allow_private``
    (a URL an operator registered, or a deployment that allows internal addresses)."""
    if allow_private:
        return urllib.request.urlopen(request, timeout=timeout)  # noqa: S310  # nosec B310
    url = request if isinstance(request, str) else request.full_url
    if urlsplit(url).scheme != "https":
        raise RefusedAddress(f"{url} does not use https")
    return _GUARDED.open(request, timeout=timeout)
