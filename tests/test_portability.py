"""What makes Windows and macOS behave like Linux here, checked on Linux (PlexSync has not
been run on Windows or macOS): UTF-8 on Stash's pipes whatever the locale, LF in every file."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import ROOT


def test_stash_pipes_are_utf8_under_a_code_page_locale(tmp_path) -> None:
    title = "Ünïcode 日本語 ✓"  # not in cp1252: Windows' default for a pipe would fail on it
    stdin = json.dumps({"server_connection": {}, "args": {"mode": title}}, ensure_ascii=False)
    env = {**os.environ, "PYTHONIOENCODING": "cp1252", "PLEXSYNC_DATA_DIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, str(ROOT / "plexsync.py")],
        input=stdin.encode("utf-8"),
        capture_output=True,
        env=env,
    )
    assert done.returncode == 1
    stderr = done.stderr.decode("utf-8")  # strict: every byte is UTF-8
    assert stderr.startswith("\x01e\x02PlexSync: unknown operation") and title in stderr
    assert "Traceback" not in stderr and "Logging error" not in stderr
    assert title in json.loads(done.stdout)["error"]


def test_every_text_file_is_stored_and_checked_out_with_lf() -> None:
    listed = subprocess.run(
        ["git", "ls-files", "--eol"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert listed
    for line in listed:
        info = line.partition("\t")[0]  # "i/lf  w/lf  attr/text=auto eol=lf", then the path
        if info.split()[0] == "i/-text":  # binary (the README's screenshots): no lines at all
            continue
        assert info.split()[0] in ("i/lf", "i/none"), line  # none: no line break at all
        assert "eol=lf" in info, line
