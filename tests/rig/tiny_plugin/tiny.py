"""A tiny raw-interface Stash plugin that proves tests/rig/stash_runner.py (see tiny.yaml).

It reads Stash's stdin and does what ``args.mode`` says (a task's or hook's defaultArgs).
"""

import json
import os
import subprocess
import sys
import time


def emit(document: dict) -> None:
    sys.stdout.write(json.dumps(document))


def echo(plugin_input: dict, args: dict, raw: str) -> None:
    emit({"output": plugin_input})


def env(plugin_input: dict, args: dict, raw: str) -> None:
    report = {
        "argv": sys.argv,
        "cwd": os.getcwd(),
        "executable": sys.executable,
        "pythonpath": os.environ.get("PYTHONPATH"),
        "marker": os.environ.get("TINY_MARKER"),
        "stdin_raw": raw,
    }
    emit({"output": report})


def log(plugin_input: dict, args: dict, raw: str) -> None:
    lines = [
        "\x01t\x02a trace",
        "\x01d\x02a debug",
        "\x01i\x02an info",
        "\x01w\x02a warning",
        "\x01e\x02an error",
        "\x01i\x02  padded  ",
        "not prefixed",
        "\x01p\x020.5",
        "\x01p\x021",
    ]
    sys.stderr.write("".join(line + "\n" for line in lines))
    emit({"output": "logged"})


def long_line(plugin_input: dict, args: dict, raw: str) -> None:
    sys.stderr.write("\x01i\x02" + "x" * 70_000 + "\n\x01i\x02after\n")
    emit({"output": "long"})


def fail(plugin_input: dict, args: dict, raw: str) -> None:
    sys.exit(3)


def error(plugin_input: dict, args: dict, raw: str) -> None:
    emit({"error": "boom"})
    sys.stdout.flush()
    sys.exit(2)


def sleep(plugin_input: dict, args: dict, raw: str) -> None:
    time.sleep(float(args.get("seconds", "1")))
    emit({"output": "slept"})


def _sleeper(args: dict, **streams) -> None:
    code = f"import time; time.sleep({float(args.get('seconds', '1'))})"
    subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.DEVNULL, **streams)


def spawn(plugin_input: dict, args: dict, raw: str) -> None:
    _sleeper(args)  # inherits stdout: Stash keeps waiting for it to close
    emit({"output": "spawned"})


def detach(plugin_input: dict, args: dict, raw: str) -> None:
    _sleeper(args, stdout=subprocess.DEVNULL)  # holds only stderr: Stash does not wait
    emit({"output": "detached"})


def raw_text(plugin_input: dict, args: dict, raw: str) -> None:
    sys.stdout.write("plain text output\n")


MODES = {
    "echo": echo,
    "env": env,
    "log": log,
    "long_line": long_line,
    "fail": fail,
    "error": error,
    "sleep": sleep,
    "spawn": spawn,
    "detach": detach,
    "raw": raw_text,
}


def main() -> None:
    raw = sys.stdin.read()
    plugin_input = json.loads(raw)
    args = plugin_input.get("args") or {}
    MODES[args.get("mode", "echo")](plugin_input, args, raw)


if __name__ == "__main__":
    main()
