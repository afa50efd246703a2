"""The GitHub workflows: actionlint accepts them (and rejects a broken one), and they run
the README's commands where the issue says they must."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT

WORKFLOWS = ROOT / ".github" / "workflows"
BIN = Path(sys.executable).parent
ACTIONLINT = BIN / ("actionlint.exe" if os.name == "nt" else "actionlint")


def actionlint(folder: Path) -> subprocess.CompletedProcess:
    """actionlint as dev.py runs it, on the workflows under `folder`/.github/workflows."""
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.run(
        [str(ACTIONLINT), "-no-color"], cwd=folder, env=env, capture_output=True, text=True
    )


def load(name: str) -> dict:
    workflow = yaml.safe_load((WORKFLOWS / name).read_text())
    workflow["on"] = workflow.pop(True, workflow.get("on"))  # YAML 1.1 reads `on` as true
    return workflow


def steps_run(job: dict) -> str:
    return "\n".join(step.get("run", "") for step in job["steps"])


def test_workflows_are_yaml_files_that_actionlint_accepts() -> None:
    names = sorted(path.name for path in WORKFLOWS.iterdir())
    assert names == ["ci.yaml", "publish.yaml"]  # .yml would be loaded by Stash as a manifest
    done = actionlint(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(
    ("old", "new", "complaint"),
    [
        # (actions are pinned by commit, so actionlint cannot check their inputs any more)
        ("timeout-minutes: 30", "timeout-minutes: soon", "float number literal"),
        ("needs.test.outputs.stable", "needs.test.outputs.stabel", 'property "stabel"'),
        ("runs-on: ubuntu-latest", "runs-on: ubuntu-lastest", 'label "ubuntu-lastest"'),
    ],
)
def test_actionlint_rejects_a_broken_workflow(tmp_path, old, new, complaint) -> None:
    broken = tmp_path / ".github" / "workflows"
    shutil.copytree(WORKFLOWS, broken)
    text = (broken / "publish.yaml").read_text()
    assert old in text
    (broken / "publish.yaml").write_text(text.replace(old, new))
    subprocess.run(["git", "init", "--quiet"], cwd=tmp_path, check=True)  # actionlint's project
    done = actionlint(tmp_path)
    assert done.returncode == 1, done.stdout
    assert ".github/workflows/publish.yaml" in done.stdout and complaint in done.stdout


def test_ci_runs_the_test_command_on_every_platform_and_python() -> None:
    ci = load("ci.yaml")
    assert {"push", "pull_request"} <= set(ci["on"])
    job = ci["jobs"]["test"]
    matrix = job["strategy"]["matrix"]
    assert matrix["os"] == ["ubuntu-latest", "windows-latest", "macos-latest"]
    assert matrix["python"] == ["3.10", "3.11", "3.12", "3.13"]
    assert "dev.py test" in steps_run(job)


def test_publish_tests_builds_deploys_pages_and_releases_on_a_tag() -> None:
    publish = load("publish.yaml")
    assert publish["on"]["push"]["tags"] == ["v*"]
    test = steps_run(publish["jobs"]["test"])
    assert "python3 dev.py test" in test and "channel stable" in test and "channel develop" in test
    build = steps_run(publish["jobs"]["build"])
    assert "python3 -m tools.build_dist --out" in build and '"$site/$1"' in build
    assert "channel stable" in build and "channel develop" in build
    uses = [step.get("uses", "") for job in publish["jobs"].values() for step in job["steps"]]
    assert any(u.startswith("actions/upload-pages-artifact@") for u in uses)
    assert any(u.startswith("actions/deploy-pages@") for u in uses)
    release = publish["jobs"]["release"]
    assert release["if"] == "github.ref_type == 'tag'"
    assert release["permissions"] == {"contents": "write"}
    assert "gh release create" in steps_run(release) and "tools.release notes" in steps_run(release)
