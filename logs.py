"""Logging: Stash's stderr protocol for hooks and tasks, a bounded file for the worker.

Stash reads stderr lines as `\\x01<level>\\x02message`; a line without the prefix is logged as an
error and a line over 64 KiB breaks the pipe, so every line is prefixed and cut short. Secrets
(Plex token, Stash session cookie and API key) are redacted from every record, whichever
handler writes it.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import re
import sys
import traceback
from pathlib import Path

MAX_LINE = 16_000
LOG_LINE_FORMAT = "%(asctime)s %(levelname)s %(message)s"
# A line of the worker's log that starts an event of this level (status reads them back).
LOG_EVENT = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (WARNING|ERROR|CRITICAL) ")
_LEVELS = {"DEBUG": "d", "INFO": "i", "WARNING": "w", "ERROR": "e", "CRITICAL": "e"}
_SECRETS: set[str] = set()
_TOKEN_IN_TEXT = re.compile(r"(X-Plex-Token[=:]\s*|ApiKey[=:]\s*|session=)[^\s&;,'\"]+", re.I)
# scheme://user:pw@ up to the authority's last '@' (a password may hold '@' itself)
_USERINFO_IN_URL = re.compile(r"(\b[a-z][a-z0-9+.-]*://)[^/?#\s'\"]*@", re.I)


def add_secret(value: str | None) -> None:
    """Never print this value again (short values would redact ordinary words)."""
    if value and len(value) >= 6:
        _SECRETS.add(value)


def redact(text: str) -> str:
    """The text with every known secret, and the user-info of every URL, replaced."""
    for secret in _SECRETS:
        text = text.replace(secret, "***")
    text = _USERINFO_IN_URL.sub(r"\1***@", text)
    return _TOKEN_IN_TEXT.sub(r"\1***", text)


_LINE_BREAKERS = re.compile("[\x00-\x08\x0a-\x1f\x7f\x85\u2028\u2029]")


def one_line(text: str) -> str:
    """The text with every control character escaped: a newline in a file path (or any
    text from Stash or Plex) cannot start a line of its own that looks like ours."""
    return _LINE_BREAKERS.sub(lambda m: m.group().encode("unicode_escape").decode(), text)


class _Redacting(logging.Formatter):
    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 - logging's name
        record.message = one_line(record.message)
        return super().formatMessage(record)

    def formatException(self, ei) -> str:  # noqa: N802 - logging's name
        """The traceback with each exception's own text on one line: that text may come from
        Stash or Plex, and a newline in it must not start a line that looks like ours."""
        chain: list[BaseException] = []
        exc = ei[1]
        while exc is not None and all(exc is not seen for seen in chain):
            chain.append(exc)
            exc = exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)
        return "\nwhich led to:\n".join(
            "Traceback (most recent call last):\n"
            + "".join(traceback.format_tb(exc.__traceback__))
            + one_line("".join(traceback.format_exception_only(type(exc), exc)).rstrip("\n"))
            for exc in reversed(chain)
        )

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class _FileFormatter(_Redacting):
    """One event, one line of its own: a traceback's lines are indented under it."""

    def format(self, record: logging.LogRecord) -> str:
        return super().format(record).replace("\n", "\n    ")


class _StashFormatter(_Redacting):
    """One prefixed line per line of the message, each well under Stash's limit."""

    def format(self, record: logging.LogRecord) -> str:
        level = _LEVELS.get(record.levelname, "i")
        lines = super().format(record).splitlines() or [""]
        return "\n".join(f"\x01{level}\x02{line[:MAX_LINE]}" for line in lines)


def to_stash(level: int = logging.INFO) -> None:
    """Log to Stash through stderr (hooks and tasks)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_StashFormatter("%(message)s"))
    _install(handler, level)


class _PrivateRotatingFile(logging.handlers.RotatingFileHandler):
    """A rotating log file opened 0600 and never through a symbolic link."""

    def _open(self):
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
        return open(os.open(self.baseFilename, flags, 0o600), "a", encoding=self.encoding)


def to_file(path: Path, level: int = logging.INFO) -> None:
    """Log to a rotating file (the detached worker: nobody reads its stderr)."""
    handler = _PrivateRotatingFile(path, maxBytes=1_000_000, backupCount=2, encoding="utf-8")
    handler.setFormatter(_FileFormatter(LOG_LINE_FORMAT))
    _install(handler, level)


def to_console(level: int = logging.INFO) -> None:
    """Plain lines on stderr (the command line)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Redacting("%(levelname)s %(message)s"))
    _install(handler, level)


def _install(handler: logging.Handler, level: int) -> None:
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Python warnings (urllib3's InsecureRequestWarning, deprecations) would reach stderr
    # without Stash's prefix and show as errors: send them through the same handler.
    logging.captureWarnings(True)
    for noisy in ("urllib3", "plexapi", "persistqueue", "stashapi"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def progress(fraction: float) -> None:
    """Move the task's progress bar in Stash."""
    sys.stderr.write(f"\x01p\x02{max(0.0, min(1.0, fraction)):.4f}\n")
    sys.stderr.flush()
