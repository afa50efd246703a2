"""Issue 22: the release pipeline trusts less. The build refuses symbolic links; the Publish
workflow tests in one job and builds and deploys in another that runs no test tool; every
tool is installed by hash and every action pinned by commit; "stable" is a tag on the default
branch; the README and the manifest name no address this project does not own."""

from __future__ import annotations

import os
import re
import subprocess
import zipfile

import yaml

from tests.conftest import ROOT
from tests.rig.checkout import copy_checkout, git
from tests.test_build_pinned import build, checkout  # noqa: F401 - `checkout` is a fixture
from tests.test_release import FILES as RELEASE_FILES
from tests.test_release import run_release
from tests.test_workflows import WORKFLOWS, load, steps_run
from tools import release


def test_a_tracked_symlink_is_refused_by_the_build(checkout, tmp_path):  # noqa: F811
    host_file = tmp_path / "host" / "secret.py"
    host_file.parent.mkdir()
    host_file.write_text("HOST_SECRET = 'from outside the repository'\n")
    (checkout / "entry" / "zz_link.py").symlink_to(host_file)
    git(checkout, "add", "entry/zz_link.py")
    git(checkout, "commit", "--quiet", "-m", "a link out of the repository")
    done = build(checkout)
    zipped = checkout / "dist" / "PlexSync.zip"
    if zipped.exists():  # before: the host file shipped, under a clean version
        with zipfile.ZipFile(zipped) as archive:
            print(archive.read("entry/zz_link.py").decode())
    assert done.returncode == 1, done.stdout
    assert done.stderr == (
        "build_dist: refusing to ship symbolic links: entry/zz_link.py (a link ships what it "
        "points at, which no commit holds; commit the file itself)\n"
    )
    assert not zipped.exists()


# -- item 8: no address this project does not own


def test_the_readme_and_the_manifest_name_no_concrete_plugin_source():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    manifest = (ROOT / "PlexSync.yml").read_text(encoding="utf-8")
    for text in (readme, manifest):
        # before: https://plexsync.github.io/PlexSync/..., url: https://github.com/plexsync/...
        assert re.findall(r"https?://(?!<)[\w.-]*github\.io", text) == []
        assert "github.com/plexsync" not in text.lower()
    assert "https://<owner>.github.io/<repository>/stable/index.yml" in readme
    assert "url" not in yaml.safe_load(manifest)  # the release sets it (below)


def test_the_build_sets_the_manifests_url_from_the_repository_it_runs_in(checkout):  # noqa: F811
    done = build(checkout, "--url", "https://github.com/some-owner/some-fork")
    assert done.returncode == 0, done.stderr
    with zipfile.ZipFile(checkout / "dist" / "PlexSync.zip") as archive:
        shipped = yaml.safe_load(archive.read("PlexSync.yml"))
    assert shipped["url"] == "https://github.com/some-owner/some-fork"
    script = steps_run(load("publish.yaml")["jobs"]["build"])
    assert '--url "$GITHUB_SERVER_URL/$GITHUB_REPOSITORY"' in script


def test_the_changelog_links_to_the_repository_of_origin_without_credentials(tmp_path):
    repo = copy_checkout(ROOT, tmp_path / "repo", RELEASE_FILES)
    git(repo, "remote", "add", "origin", "https://someone:s3cret@github.com/some-owner/fork.git")
    done = run_release(repo, "1.1.0")
    assert done.returncode == 0, done.stderr
    after = (repo / "CHANGELOG.md").read_text()
    assert "[1.1.0]: https://github.com/some-owner/fork/releases/tag/v1.1.0" in after
    assert "s3cret" not in after and "someone" not in after
    git(repo, "remote", "set-url", "origin", "git@github.com:other-owner/fork2.git")
    assert release.repository_url(repo) == "https://github.com/other-owner/fork2"


# -- item 6: the Publish workflow


SHA_PIN = re.compile(r"^\s*(?:-\s+)?uses:\s+([\w.-]+/[\w./-]+)@([0-9a-f]{40})\s+#\s+v\d[\w.]*\s*$")


def test_every_action_is_pinned_by_commit():
    for path in sorted(WORKFLOWS.iterdir()):
        for line in path.read_text(encoding="utf-8").splitlines():
            if re.match(r"^\s*(?:-\s+)?uses:", line):
                assert SHA_PIN.match(line), f"{path.name}: {line.strip()}"  # before: @v7 ...


def test_no_checkout_leaves_its_token_behind():
    for name in ("ci.yaml", "publish.yaml"):
        for job in load(name)["jobs"].values():
            for step in job["steps"]:
                if step.get("uses", "").startswith("actions/checkout@"):
                    assert step["with"]["persist-credentials"] is False, (name, step)


def test_publish_tests_in_one_job_and_builds_in_another_without_the_test_tools():
    jobs = load("publish.yaml")["jobs"]
    test, build_job, deploy = jobs["test"], jobs["build"], jobs["deploy"]
    assert "python3 dev.py test" in steps_run(test)
    assert not any("upload" in step.get("uses", "") for step in test["steps"])
    assert build_job["needs"] == "test" and deploy["needs"] == "build"
    script = steps_run(build_job)
    assert "dev.py" not in script  # dev.py installs requirements-dev.txt: the test tools
    assert "requirements-dev" not in script
    assert "pip install --require-hashes --no-deps -r requirements-build.txt" in script
    assert "python3 -m tools.build_dist" in script
    # the build takes the commits the test job tested, and checks the tag still points there
    assert "needs.test.outputs.develop" in str(build_job) and "STABLE_COMMIT" in script
    release_job = jobs["release"]
    assert set(release_job["needs"]) == {"test", "build", "deploy"}


def test_the_dev_and_build_tools_are_installed_by_hash():
    for name in ("requirements-dev.txt", "requirements-build.txt"):
        text = (ROOT / name).read_text(encoding="utf-8")
        requirements = re.split(r"(?<!\\)\n", text)
        pins = [r for r in requirements if r.strip() and not r.lstrip().startswith("#")]
        assert pins, name
        for pin in pins:
            assert re.match(r"^[\w.-]+==[\w.]+( ; [^\\]+)? \\", pin), f"{name}: {pin}"
            assert "--hash=sha256:" in pin, f"{name}: {pin}"
    assert "--require-hashes" in (ROOT / "dev.py").read_text(encoding="utf-8")


def stable_choice_script() -> str:
    test_job = load("publish.yaml")["jobs"]["test"]
    step = next(s for s in test_job["steps"] if s.get("id") == "refs")
    return step["run"]


def test_stable_is_the_newest_tag_on_the_default_branch(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "--quiet", "--initial-branch=main")
    for key, value in (("user.name", "t"), ("user.email", "t@t.invalid")):
        git(repo, "config", key, value)
    git(repo, "commit", "--quiet", "--allow-empty", "-m", "one")
    git(repo, "tag", "v1.0.0")
    git(repo, "checkout", "--quiet", "-b", "side")
    git(repo, "commit", "--quiet", "--allow-empty", "-m", "not on main")
    git(repo, "tag", "v9.0.0")  # the newest tag, but not on the default branch
    git(repo, "checkout", "--quiet", "main")
    git(repo, "update-ref", "refs/remotes/origin/main", "main")
    output = tmp_path / "output"
    env = {**os.environ, "DEFAULT_BRANCH": "main", "GITHUB_OUTPUT": str(output)}
    done = subprocess.run(
        ["bash", "-c", stable_choice_script()], cwd=repo, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    outputs = dict(line.split("=", 1) for line in output.read_text().splitlines())
    assert outputs["stable"] == "v1.0.0"  # before: v9.0.0
    assert outputs["stable_commit"] == git(repo, "rev-parse", "v1.0.0^{commit}")
    assert outputs["develop"] == git(repo, "rev-parse", "main")
    assert "v9.0.0 is not on main" in done.stdout + done.stderr
