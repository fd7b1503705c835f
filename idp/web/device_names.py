"""Names for the devices a person is signed in on ("Chrome on Linux", "Safari on iPhone"), read
from the browser's user-agent string by ua-parser, whose rules are kept up to date upstream."""

from __future__ import annotations

from flask_babel import gettext as _
from ua_parser import parse

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
