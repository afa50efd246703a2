"""Headless Chromium for the browser tests: Debian's binary, driven by Playwright (which never
downloads a browser of its own), on pages the plugin host serves (tests/rig/plugin_host)."""

from __future__ import annotations

import contextlib
import importlib.util
import os
from pathlib import Path

from tests.rig.plugin_host.server import MISSING_REASON, installed

CHROMIUM = Path(os.environ.get("PLEXSYNC_CHROMIUM", "/usr/lib/chromium/chromium"))
WAIT_MS = 60_000  # generous: two cores shared with other work; nothing is timed, only awaited


def missing() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    if not installed():
        return MISSING_REASON
    if not CHROMIUM.is_file():
        return f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    if importlib.util.find_spec("playwright") is None:
        return "playwright is not installed"
    return None


@contextlib.contextmanager
def chromium():
    """A running headless Chromium (playwright.sync_api.Browser)."""
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=WAIT_MS)
    with sync_playwright() as driver:
        # root in CI: Chromium's sandbox needs a user namespace it cannot have there
        browser = driver.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()


def open_tab(browser, url: str, session: str | None = None, errors: list | None = None):
    """A new page at 1400x900 (with the Stash session cookie for `url`), script errors
    collected in `errors`."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    if session:
        context.add_cookies([{"name": "session", "value": session, "url": url}])
    tab = context.new_page()
    tab.set_default_timeout(WAIT_MS)
    if errors is not None:
        tab.on("pageerror", lambda error: errors.append(str(error)))
    return tab
