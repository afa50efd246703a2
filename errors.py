"""The two kinds of failure both sides of PlexSync share.

Neutral ground: `plex/` and `worker/` both import this module, and it imports
nothing of ours, so the one-way import rule (entry -> worker -> plex) holds.

    Exception
    +-- TransientError        retrying later may succeed (back to the queue, with a delay)
    |   +-- ServiceUnreachable    the whole service is away: pause the run, probe, resume
    +-- PermanentError        retrying will not help (dead-letter at once)
    +-- ConfigError           the settings are wrong or missing: jobs wait, nothing is dead-lettered
        +-- DataDirError          PlexSync's data directory cannot be used

`RunWide` marks the failures that are never one job's fault (Plex or Stash away, unusable
settings, a rejected Plex token): the first one stops the rest of a batch, the one definition
of "run-wide" the sync and the worker share.
"""

from __future__ import annotations


class RunWide:
    """A mixin: every job would fail the same way, so the run stops (or pauses) for all."""


class TransientError(Exception):
    """A failure that may go away if the job is tried again later."""


class ServiceUnreachable(TransientError, RunWide):
    """Plex or Stash cannot be reached at all; every job would fail the same way."""

    service = "service"


class PermanentError(Exception):
    """A failure that trying again will not fix."""


class ConfigError(Exception, RunWide):
    """The plugin settings are missing or invalid; the message says how to fix them."""


class DataDirError(ConfigError):
    """PlexSync's data directory cannot be used; the message says why and what to do."""

    def __init__(self, path, why: str) -> None:
        super().__init__(
            f"PlexSync's data directory {path} cannot be used: {why}. Choose another folder "
            "with the environment variable PLEXSYNC_DATA_DIR (in the environment Stash runs in)"
        )


def shown_location(url: str) -> str:
    """A redirect's target as an error message may show it: scheme, host, port and path, no
    user-info or query (either may carry a secret)."""
    from urllib.parse import urlsplit  # here: the hook imports this module, never this helper

    target = urlsplit(url or "")
    host = target.hostname or ""
    port = f":{target.port}" if target.port else ""
    return f"{target.scheme}://{host}{port}{target.path}" if host else target.path


# Every error PlexSync raises on purpose; anything else is a bug of ours.
CLASSIFIED = (TransientError, PermanentError, ConfigError)
