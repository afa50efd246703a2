"""Developer commands: `python3 dev.py test | demo | bench | dist | lock | release`.

Each command first makes sure `.venv/` exists and holds requirements-dev.txt
(re-installed only when that file or requirements.txt changes), so a fresh
clone needs nothing but Python 3.10+ and pip. Every package there is pinned by
sha256 (generated from requirements-dev.in) and pip installs in hash-checking mode.
"""

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
PLUGIN_HOST = ROOT / "tests" / "rig" / "plugin_host"  # the browser tests' page: npm packages


def ensure_venv() -> None:
    """Create the virtual environment and install the dev requirements if they changed."""
    if not PYTHON.exists():
        venv.EnvBuilder(with_pip=True).create(VENV)
    digest = hashlib.sha256(
        (ROOT / "requirements.txt").read_bytes() + (ROOT / "requirements-dev.txt").read_bytes()
    ).hexdigest()
    stamp = VENV / ".requirements.sha256"
    if stamp.exists() and stamp.read_text() == digest:
        return
    run(
        PYTHON,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--require-hashes",
        "-r",
        ROOT / "requirements-dev.txt",
    )
    stamp.write_text(digest)


def ensure_node_modules() -> None:
    """Install the plugin host's npm packages (its package-lock.json) if they changed."""
    digest = hashlib.sha256((PLUGIN_HOST / "package-lock.json").read_bytes()).hexdigest()
    stamp = PLUGIN_HOST / "node_modules" / ".package-lock.sha256"
    if stamp.exists() and stamp.read_text() == digest:
        return
    npm = shutil.which("npm")
    if npm is None:
        print("dev.py: npm is not installed, so the browser tests will skip (install Node.js)")
        return
    run(npm, "ci", "--prefix", PLUGIN_HOST, "--no-audit", "--no-fund", "--loglevel=error")
    stamp.write_text(digest)


def run(*argv) -> None:
    """Run a command from the repository root; stop with its exit code if it fails."""
    try:
        code = subprocess.call([str(a) for a in argv], cwd=ROOT)
    except FileNotFoundError:  # e.g. a platform without a wheel of a pinned dev tool
        sys.exit(f"dev.py: {argv[0]} is missing; is requirements-dev.txt installed in .venv?")
    if code:
        sys.exit(code)


def test(args: list[str]) -> None:
    run(PYTHON, "-m", "ruff", "check", ".")
    run(PYTHON, "-m", "ruff", "format", "--check", ".")
    run(PYTHON, "-m", "mypy")  # the engine and the clients: the files in pyproject.toml
    # Every workflow, so a broken one fails here and not after a push. The shellcheck
    # requirement puts the same shellcheck on PATH as on GitHub's runners.
    os.environ["PATH"] = f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"
    run(BIN / "actionlint", "-no-color")
    ensure_node_modules()
    run(PYTHON, "-m", "pytest", *args)


def demo(args: list[str]) -> None:
    run(PYTHON, "-m", "tests.rig.demo", *args)


def bench(args: list[str]) -> None:
    run(PYTHON, "-m", "bench", *args)


def dist(args: list[str]) -> None:
    run(PYTHON, "-m", "tools.build_dist", *args)


def lock(args: list[str]) -> None:
    run(PYTHON, "-m", "tools.lock", *args)


def release(args: list[str]) -> None:
    run(PYTHON, "-m", "tools.release", *args)


COMMANDS = {
    "test": test,
    "demo": demo,
    "bench": bench,
    "dist": dist,
    "lock": lock,
    "release": release,
}


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        sys.exit(f"usage: python3 dev.py {{{'|'.join(COMMANDS)}}} [args...]")
    ensure_venv()
    COMMANDS[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    main()
