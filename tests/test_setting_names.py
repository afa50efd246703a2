"""Messages name a setting as Stash's settings page shows it (PlexSync.yml's displayName), never
by its key: the one table of names matches the manifest, every settings problem names the
setting and says what to do, and no message written in the code spells a key."""

from __future__ import annotations

import ast
import re

import pytest
import yaml

from config import load_config
from errors import ConfigError
from setting_names import NAMES, setting
from tests.conftest import ROOT

MANIFEST = yaml.safe_load((ROOT / "PlexSync.yml").read_text())["settings"]
KEY = re.compile(rf"\b({'|'.join(MANIFEST)}|plexHost|plexPort)\b")


def test_the_names_are_the_manifests_display_names():
    assert {key: entry["displayName"] for key, entry in MANIFEST.items()} == NAMES


GOOD = {"plexUrl": "http://plex:32400", "plexToken": "abcdefgh"}


@pytest.mark.parametrize(
    ("saved", "names", "says"),
    [
        ({**GOOD, "plexUrl": "plex:32400"}, "plexUrl", "http://plex:32400"),
        ({**GOOD, "plexUrl": "ftp://plex"}, "plexUrl", "http://"),
        ({**GOOD, "plexUrl": "http://plex:99999"}, "plexUrl", "port"),
        ({"plexUrl": "http://plex:32400"}, "plexToken", "X-Plex-Token"),
        ({**GOOD, "pathMap": "/a"}, "pathMap", "/data=>/media"),
        ({**GOOD, "readTimeout": -1}, "readTimeout", "empty"),
        ({**GOOD, "failAfterHours": "soon"}, "failAfterHours", "number"),
        ({**GOOD, "maxCoverMB": "big"}, "maxCoverMB", "number"),
        ({**GOOD, "plexWebUrl": "plex.lan"}, "plexWebUrl", "https://app.plex.tv/desktop"),
    ],
)
def test_a_settings_problem_names_the_setting_as_shown_and_what_to_do(saved, names, says):
    with pytest.raises(ConfigError) as caught:
        load_config(saved)
    message = str(caught.value)
    assert setting(names) in message and says in message, message
    assert not KEY.search(message), message


def _message_texts(path):
    """The text of every string literal in `path` that is more than a bare key (a bare
    "plexUrl" is a key read or written; text around a key is a message), docstrings aside."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    in_fstrings = {
        id(part)
        for node in ast.walk(tree)
        if isinstance(node, ast.JoinedStr)
        for part in ast.walk(node)
    }
    skip = docstrings | in_fstrings
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            parts = [v.value for v in node.values if isinstance(v, ast.Constant)]
            yield node.lineno, "{}".join(parts)
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in skip
            and not KEY.fullmatch(node.value)
        ):
            yield node.lineno, node.value


SOURCES = [
    path
    for path in sorted(ROOT.glob("**/*.py"))
    if path.relative_to(ROOT).parts[0] not in {"tests", "bench", "tools", "vendor", "build"}
    and not path.relative_to(ROOT).parts[0].startswith(".")
    and path.name != "setting_names.py"
]


def test_no_message_in_the_code_spells_a_setting_key():
    found = {
        f"{path.relative_to(ROOT)}:{line}": text
        for path in SOURCES
        for line, text in _message_texts(path)
        if KEY.search(text)
    }
    assert found == {}


JS_STRING = re.compile(r'"((?:[^"\\\n]|\\.)*)"|\'((?:[^\'\\\n]|\\.)*)\'')


def test_no_text_of_the_ui_spells_a_setting_key():
    found = {
        f"{path.relative_to(ROOT)}:{number}": text
        for path in sorted((ROOT / "ui").glob("*.js"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if not line.lstrip().startswith("//")
        for match in JS_STRING.finditer(line.split(" // ")[0])
        for text in [match.group(1) or match.group(2) or ""]
        if KEY.search(text) and not KEY.fullmatch(text)
    }
    assert found == {}


def test_the_check_sees_a_key_in_a_message(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        '"""Reads plexUrl."""\n'
        'settings.get("plexUrl")\n'
        'raise ConfigError(f"plexUrl {url!r} needs a scheme")\n'
        'log.info("a pathMap entry like %r would match", rule)\n'
    )
    assert [line for line, text in _message_texts(sample) if KEY.search(text)] == [3, 4]
