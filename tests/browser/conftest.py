"""Real-browser tests: Playwright for Python driving Debian's Chromium against a live server.

The browser is the system's (``apt-get install chromium``, /usr/bin/chromium, or the path in
``HELPDESK_SMS_CHROMIUM``); Playwright's own downloaded browsers are never used. Where the
browser or Playwright is missing these tests skip locally and fail on CI (``CI`` set): on CI
they must run.

Fixtures:
- ``browser``: one headless Chromium for the session.
- ``admin_page``: a fresh page of a 1366x900 window, logged in to the admin of the live
  server as a superuser (``ADMIN_USERNAME``/``ADMIN_PASSWORD``). Its ``url(path)`` helper
  makes a live-server address.
- ``deliver``: sends what is queued to a simulator and polls its reports, as the outbox and
  the report poller would, from the test process (the live server shares its database).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from helpdesk_sms import outbox, reports

ADMIN_USERNAME = "operator"
ADMIN_PASSWORD = "browser-test-password"
WINDOW = {"width": 1366, "height": 900}


def _unavailable(why: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"CI must run the browser tests: {why}")
    pytest.skip(why)


def chromium_path() -> str | None:
    """The system Chromium: HELPDESK_SMS_CHROMIUM, else `chromium` on PATH."""
    configured = os.environ.get("HELPDESK_SMS_CHROMIUM")
    if configured:
        return configured if os.path.exists(configured) else None
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    """One Chromium for this package's tests, closed before any other test runs.

    Playwright's synchronous API keeps an event loop running in this thread while it is open,
    which makes Django refuse ORM calls ("async context") even from plain synchronous code:
    the guard is lifted while the browser is open, and only then.
    """
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("Playwright for Python is not installed (pip install playwright)")
    executable = chromium_path()
    if executable is None:
        _unavailable("no system Chromium (apt-get install chromium)")
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            launched = playwright.chromium.launch(
                executable_path=executable, headless=True, args=["--no-sandbox"]
            )
            yield launched
            launched.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


class AdminPage:
    """A logged-in admin page plus the live server's base address."""

    def __init__(self, page: Any, base_url: str) -> None:
        self.page = page
        self.base_url = base_url

    def url(self, path: str) -> str:
        return self.base_url + path

    def goto(self, path: str) -> Any:
        return self.page.goto(self.url(path))

    def save(self, button: str = "input[name=_save]") -> None:
        """Submit an admin form and wait for the page that answers it."""
        with self.page.expect_navigation():
            self.page.click(button)


@pytest.fixture
def admin_page(browser, live_server, django_user_model) -> Iterator[AdminPage]:
    """A superuser logged in through the admin's login form, in a 1366 px wide window."""
    django_user_model.objects.create_superuser(ADMIN_USERNAME, "op@example.com", ADMIN_PASSWORD)
    context = browser.new_context(viewport=WINDOW)
    context.set_default_timeout(15_000)
    page = context.new_page()
    admin = AdminPage(page, live_server.url)
    admin.goto("/admin/login/?next=/admin/")
    page.fill("#id_username", ADMIN_USERNAME)
    page.fill("#id_password", ADMIN_PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url("**/admin/")
    yield admin
    context.close()


@pytest.fixture
def deliver() -> Callable[[Any], None]:
    """Dispatch what is queued to ``sim``, let it deliver, poll the reports."""

    def walk(sim: Any) -> None:
        outbox.dispatch()
        sim.advance(60)
        reports.poll_reports()

    return walk
