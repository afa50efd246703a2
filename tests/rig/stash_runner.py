"""Run a Stash plugin exactly as Stash runs a raw-interface plugin (Go, pkg/plugin).

What Stash does, read from its source (pkg/plugin/{raw,config,plugins,args}.go,
pkg/logger/plugin.go, pkg/python, pkg/session):

- Command: the manifest's ``exec`` plus the operation's ``execArgs``; ``{pluginDir}`` is
  replaced in every element but the first. ``python``/``python3`` as the first element become
  the configured interpreter, and only then ``PYTHONPATH`` gains the plugin folder's parent.
  The working directory is Stash's own, never the plugin folder.
- stdin: one compact JSON object, no newline, then EOF. ``args`` is a Go map (keys sorted);
  ``server_connection`` and ``hookContext`` are Go structs (field order; ``id`` and
  ``inputFields`` are ``omitempty``). ``defaultArgs`` is a ``map[string]string``: each value
  arrives as its YAML scalar's text, and only fills keys the caller did not give.
- stdout is read to EOF before the process is waited for, so a grandchild holding stdout keeps
  Stash waiting; stderr is not waited for. ``{"output", "error"}`` is decoded (numbers become
  floats, as in Go's ``interface{}``), anything else is the raw output; a failed exit sets
  ``error`` to Go's exec error text only when the plugin set none.
- stderr is the log protocol ``\\x01<level>\\x02message``. Unprefixed lines are logged at the
  manifest's ``errLog`` level (default error); lines over 64 KiB are truncated (older Stash
  broke the pipe); progress reaches a task's progress bar and is dropped for hooks.
- Cancelling sends SIGKILL to the process only, never SIGTERM, never its children.
"""

import json
import os
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import yaml

MAX_LOG_LINE = 64 * 1024
LOG_LEVELS = {"t": "trace", "d": "debug", "i": "info", "w": "warning", "e": "error"}
_LEVEL_CHARS = {name: char for char, name in LOG_LEVELS.items()} | {"progress": "p", "none": ""}
_PYTHON_COMMANDS = ("python", "python3")
# Go's strings.TrimSpace set (unicode.IsSpace); Python's str.strip() also eats \x1c-\x1f.
_GO_SPACE = (
    " \t\n\v\f\r\x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
# syscall.Signal.String() on Linux, as it appears in Go's "signal: killed".
_GO_SIGNALS = {
    1: "hangup",
    2: "interrupt",
    3: "quit",
    4: "illegal instruction",
    5: "trace/breakpoint trap",
    6: "aborted",
    7: "bus error",
    8: "floating point exception",
    9: "killed",
    10: "user defined signal 1",
    11: "segmentation fault",
    12: "user defined signal 2",
    13: "broken pipe",
    14: "alarm clock",
    15: "terminated",
}
# What a git clone into Stash's plugins folder would not have: caches, build output, and the
# plugin host's npm packages (over 100 MB, copied into every test's plugins folder otherwise).
_NOT_PLUGIN_FILES = shutil.ignore_patterns(
    ".git",
    ".venv",
    "__pycache__",
    "*.pyc",
    ".pytest_cache",
    ".ruff_cache",
    ".mypy_cache",
    "node_modules",
    "build",
    "dist",
)


@dataclass(frozen=True)
class PluginResult:
    """What Stash saw of one plugin run."""

    output: Any
    error: str | None
    exit_code: int  # Popen's: negative for a signal (-9 after SIGKILL)
    log: list[tuple[str, str]]  # (level char t/d/i/w/e, message) as Stash logs them
    progress: list[float]
    wall_time: float
    stdout_raw: str
    stderr_raw: str
    killed: bool
    unprefixed: list[str] = field(default_factory=list)  # stderr lines without \x01?\x02
    breaches: list[str] = field(default_factory=list)  # log-protocol breaches, readable

    def messages(self, level: str) -> list[str]:
        """The logged messages of one level char."""
        return [message for lvl, message in self.log if lvl == level]


class PluginTimeout(TimeoutError):
    """The run outlived its timeout; ``result`` holds what was seen until then."""

    def __init__(self, result: PluginResult, timeout: float):
        super().__init__(f"plugin still running after {timeout} s")
        self.result = result


class GoStruct(dict):
    """A dict that Go encodes in field order (a plain dict is a Go map: keys sorted)."""


@dataclass(frozen=True)
class Operation:
    """A task or hook of the manifest (Stash's OperationConfig / HookConfig)."""

    name: str
    description: str
    exec_args: tuple[str, ...]
    default_args: dict[str, str]
    triggered_by: tuple[str, ...] = ()


@dataclass(frozen=True)
class PluginManifest:
    """A plugin's ``<ID>.yml``, read as Stash reads it."""

    id: str
    path: Path
    name: str
    exec: tuple[str, ...]
    interface: str
    err_log: str
    tasks: tuple[Operation, ...]
    hooks: tuple[Operation, ...]
    data: dict

    @classmethod
    def from_file(cls, path: str | Path) -> "PluginManifest":
        """Parse one manifest file; the plugin ID is the file name without extension."""
        path = Path(os.path.abspath(path))
        text = path.read_text(encoding="utf-8")
        data = yaml.safe_load(text) or {}
        # defaultArgs need the scalars' source text (Go decodes `count: 3` as "3").
        nodes = yaml.compose(text, Loader=yaml.SafeLoader)
        return cls(
            id=path.stem,
            path=path,
            name=data.get("name") or path.stem,
            exec=tuple(str(part) for part in data.get("exec") or ()),
            interface=data.get("interface") or "raw",
            err_log=data.get("errLog") or "",
            tasks=_operations(data.get("tasks"), _child(nodes, "tasks")),
            hooks=_operations(data.get("hooks"), _child(nodes, "hooks")),
            data=data,
        )

    @classmethod
    def find(cls, plugin_dir: str | Path) -> "PluginManifest":
        """Parse the single ``.yml`` in a plugin folder."""
        found = sorted(Path(plugin_dir).glob("*.yml"))
        if len(found) != 1:
            raise ValueError(f"{plugin_dir} holds {len(found)} .yml files, need exactly one")
        return cls.from_file(found[0])

    @property
    def dir(self) -> Path:
        """The plugin folder (Stash's ``{pluginDir}`` and ``PluginDir``)."""
        return self.path.parent

    def task(self, name_or_mode: str) -> Operation:
        """The task with this name, else the one whose ``defaultArgs.mode`` is this."""
        for op in self.tasks:
            if op.name == name_or_mode:
                return op
        for op in self.tasks:
            if op.default_args.get("mode") == name_or_mode:
                return op
        known = [(op.name, op.default_args.get("mode")) for op in self.tasks]
        raise KeyError(f"no task {name_or_mode!r} in {self.id}; tasks (name, mode): {known}")

    def hooks_for(self, trigger: str) -> list[Operation]:
        """The hooks Stash runs, in order, for one trigger."""
        return [op for op in self.hooks if trigger in op.triggered_by]

    def command(self, op: Operation, python: str) -> tuple[list[str], bool]:
        """The argv Stash starts for an operation, and whether it is a Python command."""
        argv = [*self.exec, *op.exec_args]
        if not argv:
            raise ValueError(f"{self.id}: empty exec value")
        argv[1:] = [arg.replace("{pluginDir}", str(self.dir)) for arg in argv[1:]]
        # Stash first looks `python` up on PATH and, when missing, rewrites it to
        # <pluginDir>/python (which then fails); the rig always has an interpreter.
        is_python = argv[0] in _PYTHON_COMMANDS
        if is_python:
            argv[0] = python
        elif shutil.which(argv[0]) is None:
            argv[0] = str(self.dir / argv[0])
        return argv, is_python


def _child(node: yaml.Node | None, key: str) -> yaml.Node | None:
    """The value node of a mapping key, if any."""
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if key_node.value == key:
                return value_node
    return None


def _operations(items: list | None, nodes: yaml.Node | None) -> tuple[Operation, ...]:
    """Tasks or hooks, with defaultArgs as the strings Go's map[string]string holds."""
    ops = []
    for item, node in zip(items or [], getattr(nodes, "value", None) or [], strict=False):
        ops.append(
            Operation(
                name=item.get("name", ""),
                description=item.get("description") or "",
                exec_args=tuple(str(arg) for arg in item.get("execArgs") or ()),
                default_args=_string_map(_child(node, "defaultArgs")),
                triggered_by=tuple(item.get("triggeredBy") or ()),
            )
        )
    return tuple(ops)


def _string_map(node: yaml.Node | None) -> dict[str, str]:
    if node is None or (isinstance(node, yaml.ScalarNode) and node.tag.endswith(":null")):
        return {}
    if not isinstance(node, yaml.MappingNode):
        raise ValueError("defaultArgs must be a mapping")
    args = {}
    for key_node, value_node in node.value:
        if not isinstance(value_node, yaml.ScalarNode):
            raise ValueError(f"defaultArgs.{key_node.value} must be a scalar")
        # yaml.v2 stores a scalar's source text in a string field; null becomes "".
        args[key_node.value] = "" if value_node.tag.endswith(":null") else value_node.value
    return args


def install_plugin(
    src_dir: str | Path,
    plugins_root: str | Path,
    rename: Mapping[str, str] | None = None,
    name: str | None = None,
) -> Path:
    """Copy a plugin folder into a plugins folder and rename files (default tiny.yaml→tiny.yml)."""
    rename = {"tiny.yaml": "tiny.yml"} if rename is None else rename
    dest = Path(plugins_root) / (name or Path(src_dir).name)
    shutil.copytree(src_dir, dest, ignore=_NOT_PLUGIN_FILES)
    for old, new in rename.items():
        if (dest / old).exists():
            (dest / old).rename(dest / new)
    return dest


def go_json(value: Any) -> bytes:
    """Encode like Go's json.Marshal: compact, UTF-8, <>& and U+2028/9 escaped."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    for char, escaped in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(char, escaped)
    return text.encode("utf-8")


def _go_value(value: Any, sort: bool = True) -> Any:
    """Order maps as Go does (sorted keys) but keep GoStruct field order."""
    if isinstance(value, GoStruct):
        sort = False
    if isinstance(value, Mapping):
        items = sorted(value.items()) if sort else value.items()
        return {str(key): _go_value(val, sort) for key, val in items}
    if isinstance(value, (list, tuple)):
        return [_go_value(item, sort) for item in value]
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return int(value)  # Go writes float64 1 as `1`
    return value


def parse_stdout(text: str) -> tuple[Any, str | None]:
    """(output, error) as Stash's rawPluginTask.getOutput decodes stdout."""
    try:
        doc = json.loads(text, parse_int=float, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        return text, None
    if doc is None:  # JSON null unmarshals into the struct as a no-op
        return None, None
    if not isinstance(doc, dict):
        return text, None
    output, error, mistyped = None, None, False
    for key, value in doc.items():  # Go matches field names case-insensitively; last wins
        if key.lower() == "output":
            output = value
        elif key.lower() == "error" and (value is None or isinstance(value, str)):
            error = value
        elif key.lower() == "error":
            mistyped = True
    return (text, error) if mistyped else (output, error)


def _reject_constant(name: str) -> None:
    raise ValueError(f"Go's JSON has no {name}")


def go_exit_error(returncode: int) -> str | None:
    """Go's exec error text for an exit status (None for success)."""
    if returncode == 0:
        return None
    if returncode > 0:
        return f"exit status {returncode}"
    return f"signal: {_GO_SIGNALS.get(-returncode, f'signal {-returncode}')}"


@dataclass
class StderrLog:
    """stderr as Stash's PluginLogger reads it."""

    log: list[tuple[str, str]] = field(default_factory=list)
    progress: list[float] = field(default_factory=list)
    unprefixed: list[str] = field(default_factory=list)
    breaches: list[str] = field(default_factory=list)


def parse_stderr(data: bytes, err_log: str = "", is_task: bool = True) -> StderrLog:
    """Split stderr into log lines, progress and protocol breaches."""
    default_level = _LEVEL_CHARS.get(err_log, "e")
    parsed = StderrLog()
    for line in _go_lines(data):
        if len(line) > MAX_LOG_LINE:
            parsed.breaches.append(f"stderr line over 64KiB ({len(line)} bytes)")
            line = line[:MAX_LOG_LINE] + b" [truncated]"
        level, message = _detect_level(line)
        if level is None:
            parsed.unprefixed.append(message)
            parsed.breaches.append(f"unprefixed stderr line: {message[:200]!r}")
            level = default_level
        _record(parsed, level, message, is_task)
    return parsed


def _go_lines(data: bytes) -> list[bytes]:
    """Lines as bufio.Reader.ReadLine returns them, empty ones dropped as Stash does."""
    *lines, last = data.split(b"\n")
    lines = [line[:-1] if line.endswith(b"\r") else line for line in lines]
    return [line for line in [*lines, last] if line]


def _detect_level(line: bytes) -> tuple[str | None, str]:
    if len(line) >= 4 and line[0] == 1 and line[2] == 2:
        char = chr(line[1])
        if char in LOG_LEVELS or char in ("p", "\0"):
            level = "" if char == "\0" else char  # "" is Stash's "none" level
            return level, line[3:].decode("utf-8", "replace").strip(_GO_SPACE)
    return None, line.decode("utf-8", "replace")


def _record(parsed: StderrLog, level: str, message: str, is_task: bool) -> None:
    if level == "":  # the "none" level: Stash drops the line
        return
    if level != "p":
        parsed.log.append((level, message))
        return
    try:
        if "_" in message:  # Python's float() takes digit separators, Go's ParseFloat does not
            raise ValueError(message)
        value = float(message)
    except ValueError:
        go_error = f"strconv.ParseFloat: parsing {json.dumps(message)}: invalid syntax"
        parsed.log.append(("e", f"Error parsing progress value '{message}': {go_error}"))
        parsed.breaches.append(f"unparsable progress value {message!r}")
        return
    if is_task:  # hooks have no progress channel
        parsed.progress.append(value)
        if not 0.0 <= value <= 1.0:
            parsed.breaches.append(f"progress {value} outside 0..1")


class _Pump:
    """Moves bytes between one plugin process and the runner, as Stash's goroutines do."""

    def __init__(self, proc: subprocess.Popen, payload: bytes):
        self.proc = proc
        self.stdout, self.stderr = bytearray(), bytearray()
        self.exited_at: float | None = None
        self.stdout_eof_at: float | None = None
        self._pending = memoryview(payload)
        self._sel = selectors.DefaultSelector()
        self._wake_r, self._wake_w = os.pipe()
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            os.set_blocking(stream.fileno(), False)
        self._sel.register(proc.stdin, selectors.EVENT_WRITE, self._write_stdin)
        self._sel.register(proc.stdout, selectors.EVENT_READ, self._read_stdout)
        self._sel.register(proc.stderr, selectors.EVENT_READ, self._read_stderr)
        self._sel.register(self._wake_r, selectors.EVENT_READ, self._wake)
        self._reaper = threading.Thread(target=self._reap, daemon=True)
        self._reaper.start()

    def done(self) -> bool:
        """Stash's run ends when the process has exited and stdout reached EOF."""
        return self.exited_at is not None and self.stdout_eof_at is not None

    def step(self, timeout: float) -> None:
        for key, _ in self._sel.select(max(timeout, 0.0)):
            key.data()

    def kill(self) -> bool:
        """SIGKILL the process (not its children); False when it had already exited."""
        if self.exited_at is not None:
            return False
        self.proc.kill()
        return True

    def close(self) -> None:
        """Keep what stderr already holds; Stash closes it once the process is waited for."""
        self._drain(self.proc.stderr, self.stderr)
        self._drain(self.proc.stdout, self.stdout)
        self._sel.close()
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            stream.close()
        self._reaper.join(timeout=5)
        if not self._reaper.is_alive():  # else it may still write to the wake pipe
            os.close(self._wake_r)
            os.close(self._wake_w)

    def _reap(self) -> None:
        self.proc.wait()
        self.exited_at = time.perf_counter()
        os.write(self._wake_w, b"x")

    def _wake(self) -> None:
        os.read(self._wake_r, 64)

    def _write_stdin(self) -> None:
        try:
            written = os.write(self.proc.stdin.fileno(), self._pending[: 1 << 16])
            self._pending = self._pending[written:]
        except OSError:  # the plugin exited without reading: Stash only logs a warning
            self._pending = self._pending[:0]
        if not self._pending:
            self._sel.unregister(self.proc.stdin)
            self.proc.stdin.close()

    def _read_stdout(self) -> None:
        if not self._read(self.proc.stdout, self.stdout):
            self.stdout_eof_at = time.perf_counter()

    def _read_stderr(self) -> None:
        self._read(self.proc.stderr, self.stderr)

    def _read(self, stream, buffer: bytearray) -> bool:
        data = os.read(stream.fileno(), 1 << 16)
        if not data:
            self._sel.unregister(stream)
        buffer.extend(data)
        return bool(data)

    @staticmethod
    def _drain(stream, buffer: bytearray) -> None:
        if stream.closed:
            return
        try:
            while data := os.read(stream.fileno(), 1 << 16):
                buffer.extend(data)
        except BlockingIOError:
            pass


class StashRunner:
    """Runs one plugin's tasks and hooks as Stash does; use as a context manager."""

    def __init__(
        self,
        plugin_dir: str | Path,
        server_connection: dict | None = None,
        python: str = sys.executable,
        env: dict | None = None,
    ):
        self.plugin_dir = Path(os.path.abspath(plugin_dir))
        self.manifest = PluginManifest.find(self.plugin_dir)
        if self.manifest.interface != "raw":
            raise ValueError(f"{self.manifest.id}: only the raw interface is supported")
        self.python = python
        self.env = dict(env or {})
        self._tmp = tempfile.TemporaryDirectory(prefix="stash-runner-")
        self.cwd = Path(self._tmp.name) / "stash"  # Stash's own working directory
        self.config_dir = Path(self._tmp.name) / "config"  # where Stash's config.yml lives
        self.cwd.mkdir()
        self.config_dir.mkdir()
        self.server_connection = self._server_connection(server_connection or {})

    def __enter__(self) -> "StashRunner":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        """Remove the runner's temp folders."""
        self._tmp.cleanup()

    def _server_connection(self, given: dict) -> GoStruct:
        expires = datetime.now(timezone.utc) + timedelta(hours=1)
        cookie = GoStruct(  # net/http.Cookie as gorilla/sessions builds Stash's
            Name="session",
            Value="runner-session",
            Quoted=False,
            Path="/",
            Domain="",
            Expires=f"{expires:%Y-%m-%dT%H:%M:%S.%f}".rstrip("0").rstrip(".") + "Z",
            RawExpires="",
            MaxAge=3600,
            Secure=False,
            HttpOnly=False,
            SameSite=2,
            Partitioned=False,
            Raw="",
            Unparsed=None,
        )
        connection = GoStruct(
            Scheme="http", Host="0.0.0.0", Port=9999, SessionCookie=cookie, Dir=str(self.config_dir)
        )
        connection.update(given)
        connection["PluginDir"] = str(self.plugin_dir)  # Stash always sets it itself
        return connection

    def stdin_payload(self, args: dict) -> bytes:
        """Exactly the bytes Stash writes to the plugin's stdin for these args."""
        payload = GoStruct(
            server_connection=_go_value(self.server_connection), args=_go_value(args)
        )
        return go_json(payload)

    def task_args(self, task_name_or_mode: str, args: dict | None = None) -> dict:
        """A task's args: the caller's, with defaultArgs (strings) filling missing keys."""
        op = self.manifest.task(task_name_or_mode)
        return {**op.default_args, **(args or {})}

    def hook_args(
        self,
        trigger: str,
        scene_id: int,
        input: Any = None,
        input_fields: Sequence[str] | None = None,
        hook_name: str | None = None,
    ) -> dict:
        """A hook's args: its defaultArgs plus the hookContext struct."""
        context = GoStruct()
        if scene_id:  # `json:"id,omitempty"`
            context["id"] = scene_id
        context["type"] = trigger
        context["input"] = input
        if input_fields:  # omitempty: absent on create/scan events (and when empty)
            context["inputFields"] = list(input_fields)
        return {**self._hook(trigger, hook_name).default_args, "hookContext": context}

    def run_task(
        self,
        task_name_or_mode: str,
        args: dict | None = None,
        kill_after: float | None = None,
        timeout: float = 120,
    ) -> PluginResult:
        """Run a task (by name or defaultArgs.mode) as a Stash job."""
        op = self.manifest.task(task_name_or_mode)
        task_args = self.task_args(task_name_or_mode, args)
        return self._run(op, task_args, True, kill_after, timeout)

    def run_operation(self, args: dict, timeout: float = 60) -> PluginResult:
        """What `runPluginOperation(plugin_id, args)` does: the plugin's exec with exactly the
        caller's args (no task, so no defaultArgs or execArgs), waited for, output returned."""
        op = Operation(name="", description="", exec_args=(), default_args={})
        return self._run(op, dict(args), True, None, timeout)

    def run_hook(
        self,
        trigger: str,
        scene_id: int,
        input: Any = None,
        input_fields: Sequence[str] | None = None,
        kill_after: float | None = None,
        timeout: float = 60,
        hook_name: str | None = None,
    ) -> PluginResult:
        """Run the hook for a trigger as Stash does after the event."""
        op = self._hook(trigger, hook_name)
        args = self.hook_args(trigger, scene_id, input, input_fields, hook_name)
        return self._run(op, args, False, kill_after, timeout)

    def run_hooks_sequential(self, hooks: Sequence[tuple | Mapping]) -> list[PluginResult]:
        """Run hooks one after another, as a bulk edit does (each a run_hook args tuple)."""
        return [self._call_hook(spec) for spec in hooks]

    def run_hooks_concurrent(self, hooks: Sequence[tuple | Mapping]) -> list[PluginResult]:
        """Start all hooks at once, one thread per process, as a scan does."""
        if not hooks:
            return []
        barrier = threading.Barrier(len(hooks))
        results: list[Any] = [None] * len(hooks)

        def run(index: int, spec: tuple | Mapping) -> None:
            barrier.wait()
            try:
                results[index] = self._call_hook(spec)
            except BaseException as exc:  # re-raised in the caller's thread below
                results[index] = exc

        threads = [threading.Thread(target=run, args=item) for item in enumerate(hooks)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return results

    def _call_hook(self, spec: tuple | Mapping) -> PluginResult:
        return self.run_hook(**spec) if isinstance(spec, Mapping) else self.run_hook(*spec)

    def _hook(self, trigger: str, hook_name: str | None) -> Operation:
        hooks = [
            op
            for op in self.manifest.hooks_for(trigger)
            if hook_name is None or op.name == hook_name
        ]
        if len(hooks) != 1:
            names = [op.name for op in hooks]
            raise ValueError(f"{len(hooks)} hooks of {self.manifest.id} match {trigger}: {names}")
        return hooks[0]

    def _environ(self, is_python: bool) -> dict[str, str]:
        environ = {**os.environ, **self.env}
        if is_python:  # pkg/python.AppendPythonPath: the user's PYTHONPATH first
            parent = str(self.plugin_dir.parent)
            current = environ.get("PYTHONPATH")
            environ["PYTHONPATH"] = parent if current is None else current + os.pathsep + parent
        return environ

    def _run(
        self, op: Operation, args: dict, is_task: bool, kill_after: float | None, timeout: float
    ) -> PluginResult:
        argv, is_python = self.manifest.command(op, self.python)
        payload = self.stdin_payload(args)
        started = time.perf_counter()
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=self.cwd,
            env=self._environ(is_python),
            bufsize=0,
        )
        pump = _Pump(proc, payload)
        try:
            sent_kill, timed_out = _pump_until_done(pump, started, kill_after, timeout)
        finally:
            pump.close()
        ended = max(pump.exited_at, pump.stdout_eof_at) if pump.done() else time.perf_counter()
        result = self._result(pump, is_task, sent_kill, ended - started)
        if timed_out:
            raise PluginTimeout(result, timeout)
        return result

    def _result(self, pump: _Pump, is_task: bool, sent_kill: bool, wall: float) -> PluginResult:
        stdout = pump.stdout.decode("utf-8", "replace")
        output, error = parse_stdout(stdout)
        code = pump.proc.poll()
        code = -signal.SIGKILL if code is None else code  # unkillable: report as killed
        stderr = parse_stderr(bytes(pump.stderr), self.manifest.err_log, is_task)
        return PluginResult(
            output=output,
            error=go_exit_error(code) if error is None else error,
            exit_code=code,
            log=stderr.log,
            progress=stderr.progress,
            wall_time=wall,
            stdout_raw=stdout,
            stderr_raw=pump.stderr.decode("utf-8", "replace"),
            killed=sent_kill and code == -signal.SIGKILL,
            unprefixed=stderr.unprefixed,
            breaches=stderr.breaches,
        )


def _pump_until_done(
    pump: _Pump, started: float, kill_after: float | None, timeout: float
) -> tuple[bool, bool]:
    """Run until Stash would stop waiting; returns (SIGKILL sent, timed out)."""
    kill_at = None if kill_after is None else started + kill_after
    deadline = started + timeout
    sent_kill = False
    while not pump.done():
        now = time.perf_counter()
        if kill_at is not None and now >= kill_at:
            sent_kill, kill_at = pump.kill(), None
        if now >= deadline:
            sent_kill = pump.kill() or sent_kill
            _wait_for_exit(pump, grace=5.0)
            return sent_kill, True
        wake = deadline if kill_at is None else min(deadline, kill_at)
        pump.step(wake - now)
    return sent_kill, False


def _wait_for_exit(pump: _Pump, grace: float) -> None:
    until = time.perf_counter() + grace
    while pump.exited_at is None and time.perf_counter() < until:
        pump.step(until - time.perf_counter())
