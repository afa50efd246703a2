"""The plugin host gives a UI plugin what Stash's plugin manual documents, in a real browser:
a probe plugin (tests/rig/plugin_host/probe-plugin.js) uses each part and notes what it saw."""

from __future__ import annotations

import re
import shutil

import pytest

from tests.rig.browser import missing, open_tab
from tests.rig.plugin_host.server import HERE, PluginHost
from tests.rig.stash_runner import StashRunner

if missing():
    pytest.skip(missing(), allow_module_level=True)
from playwright.sync_api import expect  # noqa: E402 - after the skip: absent where it skips

MANIFEST = """\
name: Probe
description: Uses each part of PluginApi.
version: "0.1"
exec: [python, "{pluginDir}/none.py"]
interface: raw
ui:
  javascript: [probe-plugin.js]
"""
LIBRARIES = {"ReactRouterDOM", "Bootstrap", "Intl", "FontAwesomeSolid", "FontAwesomeRegular",
             "FontAwesomeBrands", "Mousetrap", "MousetrapPause"}  # fmt: skip


@pytest.fixture
def host(stash, tmp_path):
    plugin = tmp_path / "probe"
    plugin.mkdir()
    (plugin / "probe.yml").write_text(MANIFEST, encoding="utf-8")
    shutil.copy(HERE / "probe-plugin.js", plugin)
    connection = stash.server_connection(plugin, tmp_path / "stash-config")
    with StashRunner(plugin, connection) as runner, PluginHost(stash, runner) as server:
        yield server


@pytest.fixture
def page(browser, host):
    errors: list[str] = []
    tab = open_tab(browser, host.url, errors=errors)
    yield tab
    tab.context.close()
    assert errors == []


def test_patches_before_instead_and_after_as_the_manual_says(page, host, stash):
    stash.add_scene(title="Alpha", files=[("/m/a.mp4", 1)])
    stash.add_scene(title="Beta", files=[("/m/b.mp4", 2)])
    page.goto(host.url + "/scenes")
    expect(page.locator(".scene-card .probe-after")).to_have_count(2)
    # React calls a component with (props, context): the render's result comes third
    assert page.evaluate("window.probe.after[0]") == {"count": 3, "lastIsElement": True}
    inner = page.locator(".scene-card .probe-outer .probe-inner")
    expect(inner).to_have_text(["instead of Alpha", "instead of Beta"])
    expect(page.locator(".card-section-title")).to_have_count(0)  # the original never ran
    expect(page.locator(".probe-nav")).to_have_count(2)  # collapsed menu and desktop bar


def test_routes_components_libraries_events_and_toasts(page, host):
    page.goto(host.url + "/scenes")
    page.locator(".probe-nav").last.click()
    expect(page).to_have_url(re.compile(r"/plugin/probe$"))
    expect(page.locator(".probe-greeting")).to_have_text("Hello 1,234.5")
    expect(page.locator(".probe-page svg.fa-bell")).to_have_count(1)
    probe = page.evaluate("window.probe")
    assert probe["libraries"].keys() == LIBRARIES and "missing" not in probe["libraries"].values()
    assert probe["locations"] == ["/scenes", "/plugin/probe"]
    toast = page.locator(".toast-container .toast")
    page.locator(".probe-toast").click()
    expect(toast).to_contain_text("probe says hi")
    # an error, then a success in the same instant: the error outranks it and stays
    click_both = "['.probe-error', '.probe-toast'].forEach(b => document.querySelector(b).click())"
    page.evaluate(click_both)
    expect(toast).to_contain_text("probe failed")
    expect(toast).to_have_class(re.compile(r"\bdanger\b"))


def test_a_direct_load_of_a_plugin_route_is_a_404(page, host):
    assert page.goto(host.url + "/plugin/probe").status == 404
    assert page.goto(host.url + "/plugin/probe/javascript").status == 200  # id: probe.yml
