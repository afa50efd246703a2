"""Issue 22, the smaller items: redaction and escaped tracebacks (9), the data directory's
root and where the command line finds it (10), operation arguments (11), the verify report's
policy (12), what the README says the browser sees (13). Item 14 is in test_hostile_answers."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys

import pytest

from entry import operations
from entry.hook import BadInput
from tests.conftest import ROOT

# -- 9: redaction, tracebacks in Stash's log


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("http://user:p@ss@host/x", "http://***@host/x"),  # before: http://***@ss@host/x
        ("see https://a:b@example.org:8080/?q=1@2", "see https://***@example.org:8080/?q=1@2"),
        ("mailto-free text user@host stays", "mailto-free text user@host stays"),
    ],
)
def test_every_byte_of_a_urls_user_info_is_redacted(text, shown):
    from logs import redact

    assert redact(text) == shown


def test_a_newline_in_an_exceptions_text_stays_on_its_line_in_stashs_log(capsys):
    from logs import to_stash

    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    try:
        to_stash()
        try:
            try:
                raise KeyError("inner\n\x01e\x02forged by the inner text")
            except KeyError as inner:
                raise ValueError("outer\nforged by the outer text") from inner
        except ValueError:
            logging.getLogger("plexsync.test").exception("it failed")
    finally:
        root.handlers[:], root.level = saved
    lines = capsys.readouterr().err.splitlines()
    assert lines and all(line.startswith("\x01e\x02") for line in lines), lines
    bodies = [line[3:] for line in lines]
    assert not any(body.startswith("forged") for body in bodies), bodies  # before: two
    assert "\x01" not in "".join(bodies)
    assert any("ValueError: outer\\nforged by the outer text" in body for body in bodies)
    assert any("KeyError" in body and "forged by the inner text" in body for body in bodies)


# -- 10: the data directory's root, the command line's Stash


def test_a_data_directory_through_a_link_or_of_another_owner_is_reported(tmp_path):
    from state.datadir import DataDir

    real = tmp_path / "real"
    real.mkdir(mode=0o700)
    link = tmp_path / "link"
    link.symlink_to(real)
    problems = DataDir(link).problems()
    assert any("is a symbolic link" in p and str(real) in p for p in problems), problems
    if os.name == "nt" or os.geteuid() != 0:
        return  # only root can give a folder to another user here
    theirs = tmp_path / "theirs"
    theirs.mkdir(mode=0o700)
    os.chown(theirs, 54321, -1)
    problems = DataDir(theirs).problems()
    assert any("owned by another user" in p for p in problems), problems  # before: none


def cli_status(tmp_path, stash_url):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path / "home"), "STASH_URL": stash_url}
    return subprocess.run(
        [sys.executable, str(ROOT / "plexsync.py"), "status"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


def test_the_cli_warns_when_a_stash_elsewhere_would_choose_its_data_directory(tmp_path):
    elsewhere = cli_status(tmp_path, "http://192.0.2.1:9")  # TEST-NET-1: no machine of ours
    assert "192.0.2.1" in elsewhere.stderr and "PLEXSYNC_DATA_DIR" in elsewhere.stderr
    assert "not on this machine" in elsewhere.stderr
    here = cli_status(tmp_path, "http://127.0.0.1:9")
    assert "not on this machine" not in here.stderr


def test_the_readme_says_where_the_cli_finds_its_data_directory():
    readme = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    assert "sends it the API key" in readme and "not on this machine" in readme


# -- 11: operation arguments


def scene_state(scenes):
    return operations.validate(operations.find("scene_state"), {"scenes": scenes})


@pytest.mark.parametrize(
    "bad",
    [
        "1" * 5000,  # before: ValueError (Python's int() limit), not BadInput
        "\u0661\u0662",  # Arabic-Indic 12: before, taken as 12
        " 12",
        2**70,
    ],
)
def test_a_scene_id_is_plain_ascii_digits_within_range(bad):
    with pytest.raises(BadInput, match="is not a scene id"):
        scene_state([bad])


@pytest.mark.parametrize("size", ["12", [1], {"a": 1}, -1, True, 1.5])
def test_a_files_size_is_a_whole_number_of_bytes(size):
    with pytest.raises(BadInput, match="size"):  # before: accepted
        scene_state([{"id": 1, "files": [{"path": "/a.mp4", "size": size}]}])


def test_files_per_scene_are_bounded():
    files = [{"path": f"/m/{n}.mp4", "size": n} for n in range(operations.MAX_FILES + 1)]
    with pytest.raises(BadInput, match="files"):  # before: accepted, any number
        scene_state([{"id": 1, "files": files}])
    assert scene_state([{"id": "12", "files": files[:3]}])["scenes"][0]["id"] == 12


def test_activity_accounts_ids_are_written_with_a_hash_and_digits_may_be_a_name(plex):
    from plex.client import PlexClient
    from plex.history import resolve_accounts
    from tests.conftest import PLEX_TOKEN

    numbered = plex.add_account("2024")  # a name that is all digits
    other = plex.add_account("bob")
    client = PlexClient(plex.url, PLEX_TOKEN)
    try:
        assert resolve_accounts(("2024",), client) == {numbered}  # before: account id 2024
        assert resolve_accounts((f"#{other}",), client) == {other}
        plex.reset_log()
        assert resolve_accounts((f"#{numbered}", "#1"), client) == {numbered, 1}
        assert plex.count("GET", "/accounts") == 0  # ids with '#' cost no request
        assert resolve_accounts((str(other),), client) == {other}  # no such name: an id
    finally:
        client.close()


def test_the_readme_says_how_to_write_an_account_id():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "`#5`" in readme


# -- 12: the verify report's policy


def test_the_verify_report_forbids_everything_but_its_own_style():
    from entry.verify import _html

    summary = {"scenes": 1, "seconds": 0.1, "report": "r"}
    summary.update({key: 0 for key in ("in_sync", "drifted", "missing", "unlocked")})
    from entry.verify import CATEGORIES

    summary.update({key: 0 for key in CATEGORIES})
    html = _html(summary, [])
    found = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">', html)
    assert found, html[:300]  # before: no policy at all
    policy = found.group(1)
    assert policy.startswith("default-src 'none'") and "script-src" not in policy
    assert html.index("Content-Security-Policy") < html.index("<style>")


# -- 13: what the README says the browser sees


def test_the_readme_does_not_claim_the_browser_never_sees_the_token():
    readme = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    assert "the browser never sees the Plex token" not in readme  # before: it said so
    assert "Stash itself sends every plugin's saved settings" in readme
