"""Names for the devices a person is signed in on ("Chrome on Linux", "Safari on iPhone"), read
from the browser's user-agent string by ua-parser, whose rules are kept up to date upstream;
and the list of them on the Security page, with what tells one from another (this device,
when each signed in and was last active)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask_babel import format_datetime
from flask_babel import gettext as _
from ua_parser import parse

from idp.models import AuthSession

# ua-parser's names for mobile builds of a browser: a person knows them by the browser's name.
BROWSERS = {
    "Mobile Safari": "Safari",
    "Mobile Safari UI/WKWebView": "Safari",
    "Chrome Mobile": "Chrome",
    "Chrome Mobile iOS": "Chrome",
    "Chrome Mobile WebView": "Chrome",
    "Firefox Mobile": "Firefox",
    "Firefox iOS": "Firefox",
    "Edge Mobile": "Edge",
    "Samsung Internet": "Samsung Internet",
}
SYSTEMS = {"Mac OS X": "macOS", "Chrome OS": "ChromeOS"}
# On these systems the device says more than the system: "Safari on iPhone", not "on iOS".
NAMED_BY_DEVICE = {"iOS", "iPadOS"}
OTHER = "Other"


def device_name(user_agent: str | None) -> str:
    """The browser and the system it runs on, in words; the browser or the system alone when
    only one is known, and "Unknown device" when neither is."""
    found = parse(user_agent or "")
    browser = found.user_agent.family if found.user_agent else OTHER
    system = found.os.family if found.os else OTHER
    if system in NAMED_BY_DEVICE and found.device and found.device.family in ("iPhone", "iPad"):
        system = found.device.family
    browser = BROWSERS.get(browser, browser)
    system = SYSTEMS.get(system, system)
    if browser != OTHER and system != OTHER:
        return _("%(browser)s on %(os)s", browser=browser, os=system)
    if browser != OTHER:
        return browser
    if system != OTHER:
        return _("A device running %(os)s", os=system)
    return _("Unknown device")


@dataclass(frozen=True)
class SignedInDevice:
    """A row of *Where you are signed in*: what tells it from the others."""

    session: AuthSession
    name: str
    current: bool
    signed_in: datetime
    last_active: datetime
    label: str  # names its sign-out button to a screen reader: unique among the buttons


def _when(moment: datetime) -> str:
    return _("%(when)s UTC", when=format_datetime(moment, "d MMM y HH:mm"))


def signed_in_devices(sessions: list[AuthSession], current_sid: str) -> list[SignedInDevice]:
    """The sessions as devices: this one first, then the most recently active. Each is named
    ("Chrome on Linux") and labelled with its name and sign-in time, and a number when two
    would still sound alike."""
    rows = sorted(
        sessions,
        key=lambda s: (s.sid != current_sid, -(s.last_seen_at or s.auth_time).timestamp()),
    )
    devices: list[SignedInDevice] = []
    heard: dict[str, int] = {}
    for s in rows:
        name = device_name(s.user_agent)
        label = _("%(device)s, signed in %(when)s", device=name, when=_when(s.auth_time))
        heard[label] = heard.get(label, 0) + (s.sid != current_sid)  # this one has no button
        if heard[label] > 1:
            label = _("%(label)s (%(number)d)", label=label, number=heard[label])
        devices.append(
            SignedInDevice(
                session=s,
                name=name,
                current=s.sid == current_sid,
                signed_in=s.auth_time,
                last_active=s.last_seen_at or s.auth_time,
                label=label,
            )
        )
    return devices
