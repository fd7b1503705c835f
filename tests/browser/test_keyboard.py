"""Keyboard alone: the skip link, a visible focus, signing in and reaching a page with Tab,
Enter and Space only."""

from __future__ import annotations

from tests.browser.pages import check, count_of, emailed_code

ADDRESS = "keyboard@example.org"
PASSWORD = "tabbing otter sunrise 2026"

FOCUSED = """() => {
  const e = document.activeElement;
  const s = getComputedStyle(e);
  return {id: e.id, tag: e.tagName.toLowerCase(), text: (e.innerText || e.value || '').trim(),
          outline: s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2,
          shadow: s.boxShadow !== 'none'};
}"""


def tab_to(page, wanted, key="Tab", limit=30):
    """Press Tab until ``wanted(focused)`` holds; every stop must show where the focus is."""
    for _ in range(limit):
        page.keyboard.press(key)
        focused = page.evaluate(FOCUSED)
        if focused["tag"] != "body":
            assert focused["outline"] or focused["shadow"], f"no visible focus on {focused}"
        if wanted(focused):
            return focused
    raise AssertionError("never reached the element by Tab")


def test_sign_in_and_reach_a_page_by_keyboard(site, new_page, axe_js):
    site.idp("orgs", "create", "--code", "KB101", "--name", "Keyboard Centre")
    site.idp(
        "users", "create", "--email", ADDRESS, "--first-name", "Kay", "--last-name", "Board",
        "--password", PASSWORD, "--org", "KB101", "--role", "sfa.teacher",
    )  # fmt: skip
    page = new_page()
    page.goto(site.base + "/login")
    # The email field has the focus (autofocus); the skip link comes before it. It shows when
    # focused, and Enter moves the focus to <main>, from where Tab reaches the form.
    page.wait_for_function("() => document.activeElement.id === 'email'")  # autofocus, once run
    focused = tab_to(page, lambda f: f["text"] == "Skip to main content", key="Shift+Tab")
    assert focused["text"] == "Skip to main content"
    box = page.locator(".skip-link").bounding_box()
    assert box is not None and box["x"] >= 0 and box["y"] >= 0, "the skip link stays hidden"
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.id") == "main"

    tab_to(page, lambda f: f["id"] == "email")
    page.keyboard.type(ADDRESS)
    tab_to(page, lambda f: f["id"] == "password")
    page.keyboard.type(PASSWORD)
    codes = count_of(site.mailbox, ADDRESS, "verification code")
    tab_to(page, lambda f: f["tag"] == "button" and f["text"] == "Sign in")
    with page.expect_navigation():
        page.keyboard.press("Space")  # a button takes Space as well as Enter
    assert page.url == site.base + "/login/verify"
    # The code field has the focus already (autofocus, which the browser applies once the page
    # is shown, just after the navigation); Enter submits the form.
    page.wait_for_function("() => document.activeElement.id === 'code'")
    page.keyboard.type(emailed_code(site.mailbox, ADDRESS, codes + 1))
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url == site.base + "/"

    # To Account → Security, by Tab and Enter.
    tab_to(page, lambda f: f["tag"] == "a" and f["text"] == "Account")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    tab_to(page, lambda f: f["tag"] == "a" and f["text"] == "Security")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url == site.base + "/account/security"
    page.get_by_role("heading", name="Authenticator app").wait_for()
    check(page, axe_js)
