"""PlexSync.yml: loads under Stash's strict parser, passes the community validator, and
every task and hook it names is one the plugin handles."""

from __future__ import annotations

import json
import re
import subprocess

import pytest
import yaml

from entry.operations import TABLE
from state.jobs import RENAME_SCANS, SCENE_HOOKS
from tests.conftest import ROOT, SHARED

MANIFEST = yaml.safe_load((ROOT / "PlexSync.yml").read_text())

# The yaml keys of Stash's plugin Config structs (pkg/plugin/config.go); its decoder is
# strict, so any other key anywhere makes the whole plugin fail to load.
STASH_KEYS = {
    "top": {
        "name",
        "description",
        "url",
        "version",
        "requires",
        "exec",
        "interface",
        "errLog",
        "tasks",
        "hooks",
        "ui",
        "settings",
    },
    "task": {"name", "description", "defaultArgs", "execArgs"},
    "hook": {"name", "description", "triggeredBy", "defaultArgs", "execArgs"},
    "setting": {"displayName", "description", "type"},
    "ui": {"requires", "csp", "javascript", "css", "assets"},  # UIConfig
    "csp": {"script-src", "style-src", "connect-src"},  # PluginCSP
}
STASH_TRIGGERS = {
    f"{kind}.{op}.Post"
    for kind in (
        "Scene",
        "Performer",
        "Studio",
        "Tag",
        "Gallery",
        "Image",
        "Group",
        "Movie",
        "SceneMarker",
        "GalleryChapter",
    )
    for op in ("Create", "Update", "Destroy")
} | {"Tag.Merge.Post"}


def test_only_keys_stash_knows():
    assert set(MANIFEST) <= STASH_KEYS["top"]
    for task in MANIFEST["tasks"]:
        assert set(task) <= STASH_KEYS["task"], task
    for hook in MANIFEST["hooks"]:
        assert set(hook) <= STASH_KEYS["hook"], hook
    for key, setting in MANIFEST["settings"].items():
        assert set(setting) <= STASH_KEYS["setting"], key
        assert setting["type"] in ("STRING", "NUMBER", "BOOLEAN")
    assert set(MANIFEST["ui"]) <= STASH_KEYS["ui"]
    assert set(MANIFEST["ui"].get("csp") or {}) <= STASH_KEYS["csp"]


def test_ui_files_exist_and_need_nothing_from_outside():
    """Stash concatenates these and serves them as /plugin/PlexSync/javascript and /css; the
    UI must not load from elsewhere (no CSP entry is asked for) nor evaluate strings."""
    ui = MANIFEST["ui"]
    assert all(isinstance(v, list) for v in (ui["javascript"], ui["css"]))
    for name in ui["javascript"] + ui["css"]:
        text = (ROOT / name).read_text(encoding="utf-8")
        assert "://" not in text, name
        assert not re.search(r"\beval\s*\(|new Function\s*\(|innerHTML", text), name
    assert "csp" not in ui and "assets" not in ui


def test_raw_python_interface():
    assert MANIFEST["interface"] == "raw"
    assert MANIFEST["exec"] == ["python", "{pluginDir}/plexsync.py"]


def test_the_tasks_are_the_operation_tables_and_every_trigger_is_real():
    tasks = {task["defaultArgs"]["mode"]: task["name"] for task in MANIFEST["tasks"]}
    assert tasks == {op.name: op.task for op in TABLE if op.task}
    triggers = {t for hook in MANIFEST["hooks"] for t in hook["triggeredBy"]}
    assert triggers <= STASH_TRIGGERS
    assert triggers == set(SCENE_HOOKS) | set(RENAME_SCANS)


def test_settings_state_their_defaults():
    for key, setting in MANIFEST["settings"].items():
        text = setting["description"].lower()
        assert "default" in text or "required" in text, key


def test_the_repository_holds_exactly_one_yml():
    files = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert [f for f in files if f.endswith(".yml")] == ["PlexSync.yml"]


def test_the_community_validator_accepts_it():
    schema_path = SHARED / "stash-plugin-yaml-schema" / "community-plugin.schema.json"
    if not schema_path.exists():
        pytest.skip("../shared/stash-plugin-yaml-schema is absent (it is not part of the repo)")
    import jsonschema

    jsonschema.Draft7Validator(json.loads(schema_path.read_text())).validate(MANIFEST)
