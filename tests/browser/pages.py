"""What every page a journey reaches must pass: axe-core finds nothing serious or critical,
and at 360 px wide nothing scrolls sideways. With ``SCREENSHOTS=1`` in the environment, named
pages are also photographed at desktop (1280×900) and phone (360×780) widths into
docs/screenshots/, which the README shows (off by default, so a test run leaves the
checkout as it was)."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import Any

from tests.mailbox import Mailbox, code_in, links_in, text_of

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "docs" / "screenshots"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 360, "height": 780}
BLOCKING = ("serious", "critical")
SHOOT = os.environ.get("SCREENSHOTS") == "1"
# The outermost elements whose right edge passes the viewport's, for the failure message.
TOO_WIDE = """() => {
  const over = e => e && e.getBoundingClientRect().right > innerWidth + 0.5;
  return [...document.querySelectorAll('body *')]
    .filter(e => over(e) && !over(e.parentElement))
    .slice(0, 5)
    .map(e => `${e.tagName.toLowerCase()}.${[...e.classList].join('.')}`
              + ` (${Math.round(e.getBoundingClientRect().right)} px)`);
}"""
TEMPORARY_PASSWORD = re.compile(r"Temporary password: (\S+)")


def axe_violations(page: Any, axe_js: Path) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the page as it stands."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        # Not a script tag, which the page's script-src 'self' refuses, as it should.
        page.evaluate(axe_js.read_text(encoding="utf-8"))
    violations = page.evaluate("async () => (await axe.run(document)).violations")
    return [v for v in violations if v["impact"] in BLOCKING]


def describe(violations: list[dict[str, Any]]) -> str:
    lines = []
    for v in violations:
        targets = ", ".join(" ".join(node["target"]) for node in v["nodes"][:5])
        lines.append(f"{v['id']} ({v['impact']}): {v['help']} – {targets} – {v['helpUrl']}")
    return "\n".join(lines)


# An error summary is announced (role="alert", or has the focus), and each of its links leads
# to a field that says it is invalid and is described by its error message (or, for radios and
# check boxes, sits in a fieldset that is).
SUMMARY_PROBLEMS = """() => {
  const summary = document.querySelector('.error-summary');
  if (!summary) return [];
  const problems = [];
  if (summary.getAttribute('role') !== 'alert' && document.activeElement !== summary)
    problems.push('the summary is neither role=alert nor focused');
  const errorIn = e => e && (e.getAttribute('aria-describedby') || '').split(/\\s+/)
    .map(id => id && document.getElementById(id))
    .some(d => d && d.classList.contains('field__error'));
  for (const link of summary.querySelectorAll('a')) {
    const id = (link.getAttribute('href') || '').replace(/^#/, '');
    const field = id && document.getElementById(id);
    if (!field) {
      problems.push(`"${link.textContent.trim()}" links to nothing (#${id})`);
      continue;
    }
    const choice = field.type === 'radio' || field.type === 'checkbox';
    const group = field.closest('fieldset');
    if (!choice && field.matches('input, select, textarea')
        && field.getAttribute('aria-invalid') !== 'true')
      problems.push(`#${id} has no aria-invalid`);
    if (!errorIn(field) && !errorIn(group))
      problems.push(`#${id} is not described by its error message`);
  }
  return problems;
}"""


def check(page: Any, axe_js: Path, name: str | None = None) -> None:
    """Audit the current page (axe-core, error summary, phone width) and, with a name (and
    SCREENSHOTS=1), photograph it."""
    page.wait_for_load_state("load")
    where = f"{page.url} ({page.title()})"
    found = axe_violations(page, axe_js)
    assert not found, f"axe-core on {where}:\n{describe(found)}"
    problems = page.evaluate(SUMMARY_PROBLEMS)
    assert not problems, f"error summary on {where}: " + "; ".join(problems)
    size = page.viewport_size or DESKTOP
    name = name if SHOOT else None
    if name:
        page.screenshot(path=str(SCREENSHOTS / f"{name}-desktop.png"), full_page=True)
    page.set_viewport_size(PHONE)
    try:
        if name:
            page.screenshot(path=str(SCREENSHOTS / f"{name}-phone.png"), full_page=True)
        width = page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= PHONE["width"], (
            f"{where} scrolls sideways at 360 px: {width} px wide; too wide: "
            + ", ".join(page.evaluate(TOO_WIDE))
        )
    finally:
        page.set_viewport_size(size)


def temporary_password(mailbox: Mailbox, address: str) -> str:
    message = mailbox.wait_for(address, "Your My Cambridge account", timeout=10)
    found = TEMPORARY_PASSWORD.search(text_of(message))
    assert found, f"no temporary password for {address}"
    return found.group(1)


def emailed_code(mailbox: Mailbox, address: str, count: int = 1) -> str:
    return code_in(mailbox.wait_for(address, "verification code", count=count, timeout=10))


def emailed_link(mailbox: Mailbox, address: str, subject: str, contains: str) -> str:
    message = mailbox.wait_for(address, subject, timeout=10)
    return next(link for link in links_in(message) if contains in link)


def count_of(mailbox: Mailbox, address: str, subject: str) -> int:
    return sum(subject in str(m["Subject"]) for m in mailbox.to(address))


def wait_until(predicate: Any, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "gave up waiting"
        time.sleep(0.05)
