"""Logging: Stash's stderr protocol for hooks and tasks, a bounded file for the worker.

Stash reads stderr lines as `\\x01<level>\\x02message`; a line without the prefix is logged as an
error and a line over 64 KiB breaks the pipe, so every line is prefixed and cut short. Secrets
(Plex token, Stash session cookie and API key) are redacted from every record, whichever
handler writes it.
"""

from __future__ import annotations

import logging
import logging.handlers
import re
import sys
from pathlib import Path

MAX_LINE = 16_000
_LEVELS = {"DEBUG": "d", "INFO": "i", "WARNING": "w", "ERROR": "e", "CRITICAL": "e"}
_SECRETS: set[str] = set()
_TOKEN_IN_TEXT = re.compile(r"(X-Plex-Token[=:]\s*|ApiKey[=:]\s*|session=)[^\s&;,'\"]+", re.I)


def add_secret(value: str | None) -> None:
    """Never print this value again (short values would redact ordinary words)."""
    if value and len(value) >= 6:
        _SECRETS.add(value)


def redact(text: str) -> str:
    """The text with every known secret replaced."""
    for secret in _SECRETS:
        text = text.replace(secret, "***")
    return _TOKEN_IN_TEXT.sub(r"\1***", text)


class _Redacting(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


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


def to_file(path: Path, level: int = logging.INFO) -> None:
    """Log to a rotating file (the detached worker: nobody reads its stderr)."""
    handler = logging.handlers.RotatingFileHandler(
        path, maxBytes=1_000_000, backupCount=2, encoding="utf-8"
    )
    handler.setFormatter(_Redacting("%(asctime)s %(levelname)s %(message)s"))
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
