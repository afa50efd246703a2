"""The Stash runner runs plugins as Stash does: proven with real processes of a tiny plugin."""

import json
import os
import sys
import time
from pathlib import Path

import pytest

from tests.rig.stash_runner import (
    PluginManifest,
    PluginTimeout,
    StashRunner,
    install_plugin,
    parse_stderr,
    parse_stdout,
)

TINY = Path(__file__).parent / "rig" / "tiny_plugin"
REPO = Path(__file__).resolve().parent.parent
SERVER_CONNECTION_KEYS = ["Scheme", "Host", "Port", "SessionCookie", "Dir", "PluginDir"]


@pytest.fixture
def plugin_dir(tmp_path: Path) -> Path:
    return install_plugin(TINY, tmp_path / "plugins")


@pytest.fixture
def runner(plugin_dir: Path):
    with StashRunner(plugin_dir) as stash:
        yield stash


def make_plugin(tmp_path: Path, manifest: str, plugin_id: str = "variant") -> Path:
    """A plugin folder with tiny.py and a generated manifest."""
    folder = tmp_path / "plugins" / plugin_id
    folder.mkdir(parents=True)
    (folder / "tiny.py").write_bytes((TINY / "tiny.py").read_bytes())
    (folder / f"{plugin_id}.yml").write_text(manifest)
    return folder


def env_report(result) -> dict:
    assert result.error is None, result.stderr_raw
    return result.output


# --- manifests -----------------------------------------------------------------------------


def test_tiny_manifest_is_yaml_in_git_and_yml_once_installed(plugin_dir: Path) -> None:
    assert not list(TINY.glob("*.yml")), "Stash would load a .yml from the repository"
    assert (plugin_dir / "tiny.yml").exists() and not (plugin_dir / "tiny.yaml").exists()
    manifest = PluginManifest.find(plugin_dir)
    assert (manifest.id, manifest.name, manifest.interface) == ("tiny", "Tiny", "raw")
    assert manifest.exec == ("python", "{pluginDir}/tiny.py")


def test_default_args_are_the_yaml_scalars_text(plugin_dir: Path) -> None:
    echo = PluginManifest.find(plugin_dir).task("Echo")
    assert echo.default_args == {
        "mode": "echo",
        "count": "3",
        "flag": "true",
        "ratio": "1.50",
        "empty": "",
    }


def test_plexsync_manifest_parses_with_its_hooks_and_tasks() -> None:
    manifest = PluginManifest.from_file(REPO / "PlexSync.yml")
    assert (manifest.id, manifest.interface) == ("PlexSync", "raw")
    assert manifest.exec[0] in ("python", "python3")
    for trigger in ("Scene.Create.Post", "Scene.Update.Post", "Scene.Destroy.Post"):
        assert len(manifest.hooks_for(trigger)) == 1, trigger
    assert manifest.tasks, "PlexSync declares tasks"
    modes = [task.default_args.get("mode") for task in manifest.tasks]
    assert all(modes) and len(set(modes)) == len(modes), modes
    for task in manifest.tasks:
        assert manifest.task(task.default_args["mode"]) is task
        assert all(isinstance(value, str) for value in task.default_args.values())


def test_unknown_task_names_the_known_ones(runner: StashRunner) -> None:
    with pytest.raises(KeyError, match="Echo"):
        runner.run_task("no such task")


# --- stdin -----------------------------------------------------------------------------


def test_stdin_is_one_compact_go_json_object_without_newline(
    runner: StashRunner, plugin_dir: Path
) -> None:
    raw = env_report(runner.run_task("Env"))["stdin_raw"]
    assert raw.encode() == runner.stdin_payload(runner.task_args("env"))
    assert not raw.endswith("\n")
    document = json.loads(raw)
    assert raw == json.dumps(document, separators=(",", ":"), ensure_ascii=False)
    assert list(document) == ["server_connection", "args"]
    connection = document["server_connection"]
    assert list(connection) == SERVER_CONNECTION_KEYS
    assert connection["Scheme"] == "http" and connection["Host"] == "0.0.0.0"
    assert type(connection["Port"]) is int and connection["Port"] == 9999
    cookie = connection["SessionCookie"]
    assert (cookie["Name"], cookie["Value"], cookie["Path"]) == ("session", "runner-session", "/")
    assert {"Domain", "Expires", "MaxAge", "Secure", "HttpOnly", "SameSite"} <= set(cookie)
    assert connection["Dir"] == str(runner.config_dir) and runner.config_dir.is_dir()
    assert connection["PluginDir"] == str(plugin_dir)
    assert document["args"] == {"mode": "env"}


def test_given_server_connection_overrides_defaults_but_not_plugin_dir(
    plugin_dir: Path,
) -> None:
    given = {"Host": "127.0.0.1", "Port": 4321, "PluginDir": "/elsewhere"}
    with StashRunner(plugin_dir, server_connection=given) as stash:
        sent = json.loads(stash.stdin_payload({}))["server_connection"]
    assert list(sent) == SERVER_CONNECTION_KEYS
    assert (sent["Host"], sent["Port"]) == ("127.0.0.1", 4321)
    assert sent["PluginDir"] == str(plugin_dir)


def test_task_args_are_default_args_as_strings_with_given_args_winning(
    runner: StashRunner,
) -> None:
    args = runner.run_task("echo", {"count": 7, "extra": "x"}).output["args"]
    assert args == {
        "mode": "echo",
        "count": 7,
        "flag": "true",
        "ratio": "1.50",
        "empty": "",
        "extra": "x",
    }
    payload = json.loads(runner.stdin_payload(runner.task_args("Echo", {"zz": 1, "aa": 2})))
    assert list(payload["args"]) == sorted(payload["args"]), "a Go map marshals sorted"


def test_task_is_selectable_by_name_or_mode(runner: StashRunner) -> None:
    by_name, by_mode = runner.run_task("Echo"), runner.run_task("echo")
    assert by_name.output["args"] == by_mode.output["args"]


def test_payload_escapes_html_characters_like_go(runner: StashRunner) -> None:
    payload = runner.stdin_payload({"q": "<a&b>", "name": "Zoë", "n": 2.0})
    assert b'"q":"\\u003ca\\u0026b\\u003e"' in payload
    assert "Zoë".encode() in payload and b'"n":2' in payload


def test_update_hook_context_carries_input_fields_and_hook_default_args(
    runner: StashRunner,
) -> None:
    scene_input = {"id": "12", "title": "New title"}
    result = runner.run_hook("Scene.Update.Post", 12, scene_input, ["title"])
    assert result.error is None and result.breaches == []
    args = result.output["args"]
    assert args["mode"] == "echo"
    assert args["hookContext"] == {
        "id": 12,
        "type": "Scene.Update.Post",
        "input": scene_input,
        "inputFields": ["title"],
    }


def test_create_hook_context_has_null_input_and_no_input_fields(runner: StashRunner) -> None:
    context = runner.run_hook("Scene.Create.Post", 5).output["args"]["hookContext"]
    assert context == {"id": 5, "type": "Scene.Create.Post", "input": None}


def test_hook_stdin_keeps_the_go_struct_field_order(runner: StashRunner) -> None:
    result = runner.run_hook("Performer.Update.Post", 8, {"name": "A"}, ["name"])
    raw = env_report(result)["stdin_raw"]
    assert raw.encode() == runner.stdin_payload(
        runner.hook_args("Performer.Update.Post", 8, {"name": "A"}, ["name"])
    )
    assert '"hookContext":{"id":8,"type":"Performer.Update.Post","input":{"name":"A"},' in raw


# --- command, cwd, environment --------------------------------------------------------------


def test_plugin_dir_is_substituted_and_python3_replaced(tmp_path: Path) -> None:
    folder = make_plugin(
        tmp_path,
        """
name: Variant
exec: [python3, "{pluginDir}/tiny.py", "--dir={pluginDir}"]
interface: raw
tasks:
  - name: Env
    execArgs: ["{pluginDir}/extra"]
    defaultArgs: {mode: env}
""",
    )
    python = tmp_path / "configured-python"
    python.symlink_to(sys.executable)
    with StashRunner(folder, python=str(python)) as stash:
        report = env_report(stash.run_task("Env"))
    assert report["argv"] == [f"{folder}/tiny.py", f"--dir={folder}", f"{folder}/extra"]
    assert report["executable"] == str(python)


def test_cwd_is_stash_s_own_directory_outside_the_plugin(
    runner: StashRunner, plugin_dir: Path
) -> None:
    cwd = Path(env_report(runner.run_task("env"))["cwd"]).resolve()
    assert cwd == runner.cwd.resolve()
    assert plugin_dir.resolve() not in (cwd, *cwd.parents)


def test_pythonpath_gains_the_plugin_folder_s_parent(plugin_dir: Path) -> None:
    with StashRunner(plugin_dir, env={"PYTHONPATH": "/user/path", "TINY_MARKER": "m"}) as stash:
        report = env_report(stash.run_task("env"))
    assert report["pythonpath"] == f"/user/path{os.pathsep}{plugin_dir.parent}"
    assert report["marker"] == "m"


def test_a_non_python_exec_gets_no_pythonpath(tmp_path: Path) -> None:
    manifest = f"""
exec: ["{sys.executable}", "{{pluginDir}}/tiny.py"]
tasks:
  - name: Env
    defaultArgs: {{mode: env}}
"""
    with StashRunner(make_plugin(tmp_path, manifest), env={"PYTHONPATH": "/only"}) as stash:
        assert env_report(stash.run_task("Env"))["pythonpath"] == "/only"


# --- stdout and exit -----------------------------------------------------------------------


def test_plain_text_stdout_is_the_raw_output(runner: StashRunner) -> None:
    result = runner.run_task("raw")
    assert (result.output, result.error, result.exit_code) == ("plain text output\n", None, 0)


def test_a_failed_exit_without_output_reads_exit_status(runner: StashRunner) -> None:
    result = runner.run_task("fail")
    assert (result.output, result.error, result.exit_code) == ("", "exit status 3", 3)


def test_the_plugin_s_own_error_wins_over_the_exit_status(runner: StashRunner) -> None:
    result = runner.run_task("error")
    assert (result.output, result.error, result.exit_code) == (None, "boom", 2)


@pytest.mark.parametrize(
    ("stdout", "expected"),
    [
        ('{"output": "ok"}', ("ok", None)),
        ('{"output": "ok"}\n', ("ok", None)),
        ('{"Output": 3, "error": "bad"}', (3.0, "bad")),
        ("null", (None, None)),
        ("", ("", None)),
        ('"just a string"', ('"just a string"', None)),
        ('{"error": 5}', ('{"error": 5}', None)),
        ('{"output": NaN}', ('{"output": NaN}', None)),
        ('{"output": 1}{"output": 2}', ('{"output": 1}{"output": 2}', None)),
    ],
)
def test_stdout_is_decoded_as_go_decodes_plugin_output(stdout: str, expected: tuple) -> None:
    assert parse_stdout(stdout) == expected


# --- stderr log protocol ------------------------------------------------------------------


def test_log_levels_unprefixed_lines_and_progress(runner: StashRunner) -> None:
    result = runner.run_task("log")
    assert result.log == [
        ("t", "a trace"),
        ("d", "a debug"),
        ("i", "an info"),
        ("w", "a warning"),
        ("e", "an error"),
        ("i", "padded"),
        ("e", "not prefixed"),
    ]
    assert result.unprefixed == ["not prefixed"]
    assert result.breaches == ["unprefixed stderr line: 'not prefixed'"]
    assert result.progress == [0.5, 1.0]
    assert result.messages("i") == ["an info", "padded"]


def test_err_log_sets_the_level_of_unprefixed_lines_and_hooks_drop_progress(
    tmp_path: Path,
) -> None:
    manifest = """
exec: [python, "{pluginDir}/tiny.py"]
errLog: warning
hooks:
  - name: Log
    triggeredBy: [Scene.Update.Post]
    defaultArgs: {mode: log}
"""
    with StashRunner(make_plugin(tmp_path, manifest)) as stash:
        result = stash.run_hook("Scene.Update.Post", 1, None, ["title"])
    assert ("w", "not prefixed") in result.log
    assert result.progress == []


def test_a_line_over_64_kib_is_truncated_and_reported(runner: StashRunner) -> None:
    result = runner.run_task("Long line")
    assert result.breaches == ["stderr line over 64KiB (70003 bytes)"]
    (level, message), after = result.log
    assert level == "i" and message.endswith("x [truncated]")
    assert len(message) == 64 * 1024 - 3 + len(" [truncated]")
    assert after == ("i", "after")


@pytest.mark.parametrize(
    ("stderr", "log", "breach"),
    [
        (b"\x01i\x02hi\r\n", [("i", "hi")], None),
        (b"\x01i\x02", [("e", "\x01i\x02")], "unprefixed"),  # under 4 bytes: no prefix
        (b"\x01x\x02odd\n", [("e", "\x01x\x02odd")], "unprefixed"),
        (b"\x01\x00\x02dropped\n\n\n", [], None),
        (b"\x01p\x02half\n", [("e", "Error parsing progress value 'half'")], "progress"),
    ],
)
def test_stderr_lines_are_read_like_stash_s_plugin_logger(
    stderr: bytes, log: list, breach: str | None
) -> None:
    parsed = parse_stderr(stderr)
    assert [(level, message.split(":")[0]) for level, message in parsed.log] == log
    if breach:
        assert len(parsed.breaches) == 1 and breach in parsed.breaches[0]
    else:
        assert parsed.breaches == []


# --- timing, killing, concurrency ---------------------------------------------------------


def test_kill_after_sends_sigkill_quickly(runner: StashRunner) -> None:
    result = runner.run_task("sleep", kill_after=0.3)
    assert result.killed and result.exit_code == -9
    assert result.error == "signal: killed"
    assert 0.3 <= result.wall_time < 1.5


def test_a_hook_killed_at_once_like_a_cancelled_bulk_edit(runner: StashRunner) -> None:
    result = runner.run_hook("Scene.Update.Post", 1, None, ["title"], kill_after=0)
    assert result.killed and result.error == "signal: killed"


def test_timeout_kills_and_raises_with_what_was_seen(runner: StashRunner) -> None:
    with pytest.raises(PluginTimeout) as caught:
        runner.run_task("sleep", timeout=0.3)
    assert caught.value.result.killed


def test_a_child_holding_stdout_keeps_the_run_waiting(runner: StashRunner) -> None:
    result = runner.run_task("spawn", {"seconds": "1"})
    assert result.output == "spawned" and result.exit_code == 0
    assert result.wall_time >= 0.9


def test_a_child_holding_only_stderr_does_not(runner: StashRunner) -> None:
    result = runner.run_task("detach", {"seconds": "2"})
    assert result.output == "detached"
    assert result.wall_time < 1.0


def test_sequential_hooks_run_one_after_another(runner: StashRunner) -> None:
    started = time.perf_counter()
    results = runner.run_hooks_sequential([("Tag.Update.Post", n) for n in (1, 2, 3)])
    assert [r.output for r in results] == ["slept"] * 3
    assert time.perf_counter() - started >= 3 * 0.4


def test_concurrent_hooks_start_at_once_and_keep_their_order(runner: StashRunner) -> None:
    started = time.perf_counter()
    slow = runner.run_hooks_concurrent([("Tag.Update.Post", n) for n in (1, 2, 3, 4)])
    assert time.perf_counter() - started < 4 * 0.4 * 0.75
    assert [r.output for r in slow] == ["slept"] * 4
    echoes = runner.run_hooks_concurrent(
        [("Scene.Create.Post", n) for n in range(1, 9)]
        + [{"trigger": "Scene.Update.Post", "scene_id": 9, "input_fields": ["title"]}]
    )
    assert [r.output["args"]["hookContext"]["id"] for r in echoes] == list(range(1, 10))
