"""Issue 23 in a real browser, on the rig's plugin host (see tests/test_ui_browser.py): a scene
tab that stays current, Sync now's answer as the right toast, the PlexSync page's error states
(one sentence, one action, a link to the settings; screenshots of each go to SHOTS), and the
smaller things: the nav icon's name, a visible refresh icon, a page that refreshes when its job
ends, a question before Clear, a phone menu that closes on tap."""

from __future__ import annotations

import re
import time

import pytest
import yaml

from state.jobs import SceneJob
from state.store import Failure, Store
from tests import test_ui_browser as host
from tests.conftest import PLEX_TOKEN, ROOT, add_synced_pair
from tests.rig.waiting import wait_until
from tests.test_ui_browser import SHOTS, fail, open_plex_tab, open_plexsync_page, sync_api, toast

ui, page = host.ui, host.page  # its fixtures: the host and a tab on it
SETTING_KEYS = "|".join(yaml.safe_load((ROOT / "PlexSync.yml").read_text())["settings"])
INTERNAL = re.compile(  # a job's key, an operation's name, a setting's key (the page shows names)
    rf"scan:all|sync_all|verify_repair|not in plex\b|followed background|true |\b({SETTING_KEYS})\b"
)


def scene_state_calls(server):
    return [c for c in server.graphql.operations() if c.args.get("mode") == "scene_state"]


def test_a_scene_tab_turns_from_retrying_to_synced_while_open_then_stops_asking(
    page, ui, runner, stash, plex, data_dir
):
    (scene_id, rating_key), (other, _) = add_synced_pair(stash, plex, 2)
    stash.update_scene(scene_id, title="Written while the tab is open")
    data_dir.mkdir(parents=True, exist_ok=True)
    now = time.time()
    with Store(data_dir / "state.db") as store:
        store.delay(
            SceneJob(scene_id, "t", now), now + 6, Failure(1, now), OSError("Plex said 503")
        )
    panel = open_plex_tab(page, ui, scene_id)
    sync_api.expect(panel.locator(".plexsync-state")).to_have_text("retrying")
    # A worker that lingers for the retry (due within its horizon) writes it when it falls due.
    runner.run_hook("Scene.Update.Post", int(other), input_fields=["title"])
    sync_api.expect(panel.locator(".plexsync-state")).to_have_text("synced")
    assert plex.item(rating_key).title == "Written while the tab is open"
    asked = len(scene_state_calls(ui))
    page.wait_for_timeout(5000)  # nothing pending: the tab asks no more
    assert len(scene_state_calls(ui)) == asked


def test_sync_now_says_written_or_why_not(page, ui, runner, stash, plex):
    [(scene_id, _)] = add_synced_pair(stash, plex, 1)
    missing = stash.add_scene(title="Missing", files=[("/media/new/gone.mp4", 5)])
    panel = open_plex_tab(page, ui, missing)
    panel.locator(".plexsync-sync-now").click()
    sync_api.expect(toast(page)).to_contain_text("not written yet")
    sync_api.expect(toast(page)).to_contain_text("/media/new/gone.mp4")
    sync_api.expect(panel.locator(".plexsync-state")).to_have_text("retrying")

    stash.plugin_settings["PlexSync"]["plexToken"] = "a-token-plex-refuses"
    panel = open_plex_tab(page, ui, scene_id)
    panel.locator(".plexsync-sync-now").click()
    error = page.locator(".toast-container .toast.danger")
    sync_api.expect(error).to_contain_text("Plex refused the token")
    assert "a-token-plex-refuses" not in page.content() and PLEX_TOKEN not in page.content()


STATES = ["not-configured", "settings-invalid", "plex-unreachable", "token-rejected",
          "path-map-wrong"]  # fmt: skip
SAYS = {
    "settings-invalid": ('"Plex server URL"', "http://", "Correct it in"),
    "plex-unreachable": ("Plex does not answer at", "Start Plex"),
    "token-rejected": ("Plex refused the token", "X-Plex-Token"),
    "path-map-wrong": ("/plex/videos/a.mp4", "/stash=>/plex"),
}


def put_in_state(state, runner, stash, plex):
    """The setup in one of the page's error states, after a first Sync all went well."""
    add_synced_pair(stash, plex, 2)
    runner.run_task("sync_all")
    settings = stash.plugin_settings["PlexSync"]
    if state == "not-configured":
        stash.plugin_settings = {}
    elif state == "settings-invalid":
        settings["plexUrl"] = plex.url.split("://", 1)[1]  # typed without http://
    elif state == "plex-unreachable":
        plex.down()
    elif state == "token-rejected":
        settings["plexToken"] = "a-token-plex-refuses"
        stash.add_scene(title="After the token changed", files=[("/media/videos/x.mp4", 1)])
        runner.run_task("sync_all")
    elif state == "path-map-wrong":
        stash.add_scene(title="Elsewhere", files=[("/stash/videos/a.mp4", 5)])
        plex.add_item("1", "a", files=[("/plex/videos/a.mp4", 6)])
        runner.run_task("sync_all")


@pytest.mark.parametrize("state", STATES)
def test_each_error_state_of_the_page_says_what_to_do(state, page, ui, runner, stash, plex):
    put_in_state(state, runner, stash, plex)
    screen = open_plexsync_page(page, ui)
    try:
        says_what_to_do(state, screen, page)
    finally:  # also of a page that fails: the before-shots (tests/rig/plugin_host/README.md)
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"plexsync-page-{state}.png"), full_page=True)


def says_what_to_do(state, screen, page):
    if state == "not-configured":  # the page's answer is the first run: Connect to Plex
        first_run = screen.locator(".plexsync-first-run")
        sync_api.expect(first_run).to_contain_text("PlexSync needs your Plex server")
        sync_api.expect(first_run.get_by_role("button", name="Connect to Plex")).to_be_visible()
    else:
        problem = screen.locator(".plexsync-problem")
        sync_api.expect(problem).to_have_count(1)
        for words in SAYS[state]:
            sync_api.expect(problem).to_contain_text(words)
        link = problem.locator("a.plexsync-settings-link")
        assert link.get_attribute("href").endswith("/settings?tab=plugins")
        sync_api.expect(screen.locator(".plexsync-runs")).to_contain_text("Sync all scenes to Plex")
    text = screen.inner_text()
    assert not INTERNAL.search(text), INTERNAL.search(text)
    assert "a-token-plex-refuses" not in page.content() and PLEX_TOKEN not in page.content()
    assert toast(page).count() == 0  # the page says it once, in its place


def test_the_nav_icon_is_named_with_a_tooltip(page, ui, stash, plex):
    add_synced_pair(stash, plex, 1)
    page.goto(f"{ui.url}/scenes")
    nav = page.get_by_role("link", name="PlexSync").last
    assert nav.get_attribute("title")  # a tooltip
    nav.click()
    sync_api.expect(page).to_have_url(re.compile(r"/plugin/plexsync$"))


def test_the_refresh_icon_is_visible(page, ui, stash, plex):
    add_synced_pair(stash, plex, 1)
    screen = open_plexsync_page(page, ui)
    refresh = screen.get_by_role("button", name="Refresh")
    sync_api.expect(refresh).to_be_visible()
    icon, ground = refresh.evaluate(
        """b => [getComputedStyle(b.querySelector('svg')).color,
                 getComputedStyle(document.body).backgroundColor]"""
    )
    assert contrast(icon, ground) >= 3, (icon, ground)  # WCAG's floor for a graphic


def contrast(a: str, b: str) -> float:
    def luminance(css):
        channels = [int(c) / 255 for c in re.findall(r"\d+", css)[:3]]
        lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    high, low = sorted([luminance(a), luminance(b)], reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_the_page_refreshes_when_the_job_it_started_ends(page, ui, runner, stash, plex):
    add_synced_pair(stash, plex, 2)
    screen = open_plexsync_page(page, ui)
    sync_api.expect(screen.locator(".plexsync-runs")).to_have_count(0)
    screen.get_by_role("button", name="Sync all").click()
    sync_api.expect(screen.locator(".plexsync-runs")).to_contain_text("Sync all scenes to Plex")
    sync_api.expect(screen.locator(".plexsync-runs")).to_contain_text("2 written")


def test_clear_and_clear_all_ask_first(page, ui, stash, plex, data_dir):
    pairs = add_synced_pair(stash, plex, 2)
    for scene_id, _ in pairs:
        fail(data_dir, scene_id, "Plex answered 500 three times")
    screen = open_plexsync_page(page, ui)
    rows = screen.locator(".plexsync-failed-row")
    sync_api.expect(rows).to_have_count(2)
    rows.first.locator(".plexsync-clear").click()
    dialog = page.locator(".plexsync-confirm")
    sync_api.expect(dialog).to_contain_text("Remove scene")
    dialog.locator(".plexsync-confirm-no").click()
    sync_api.expect(dialog).to_have_count(0)
    sync_api.expect(rows).to_have_count(2)
    screen.locator(".plexsync-clear-all").click()
    sync_api.expect(dialog).to_contain_text("Remove all 2 failed syncs")
    dialog.locator(".plexsync-confirm-yes").click()
    sync_api.expect(rows).to_have_count(0)


def test_on_a_phone_tapping_the_icon_closes_the_menu(browser, ui, stash, plex):
    context = browser.new_context(viewport={"width": 390, "height": 800}, has_touch=True)
    context.add_cookies([{"name": "session", "value": "ui-login-session-7", "url": ui.url}])
    phone = context.new_page()
    try:
        phone.goto(f"{ui.url}/scenes")
        phone.locator(".navbar-toggler").tap()
        menu = phone.locator(".navbar-collapse")
        sync_api.expect(menu).to_have_class(re.compile(r"\bshow\b"))
        menu.locator(".plexsync-nav").tap()
        sync_api.expect(phone).to_have_url(re.compile(r"/plugin/plexsync$"))
        wait_until(lambda: "show" not in (menu.get_attribute("class") or ""), timeout=10)
    finally:
        context.close()
