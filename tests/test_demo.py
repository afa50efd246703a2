"""The README's main command runs the demo; CI runs it too (smaller, same code path)."""

import subprocess
import sys

from tests.conftest import ROOT


def test_the_demo_syncs_and_shows_the_result():
    result = subprocess.run(
        [sys.executable, "-m", "tests.rig.demo", "--scenes", "40"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    out = result.stdout
    assert "Plex after Sync all:" in out and "+poster" in out
    assert "Renamed in Stash" in out and "Plex showed it" in out
    assert "'failed': 0" in out and "Traceback" not in out + result.stderr
