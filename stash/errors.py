"""Stash-side errors (`errors.py` holds the kinds both sides share).

ServiceUnreachable
+-- StashUnreachable      refused, timed out, 5xx: the worker pauses the run and probes
TransientError
+-- StashError            Stash answered, but with an error: retry later
+-- CoverPending          a new scene has no cover yet (a scan runs hooks before making it)
ConfigError
+-- StashAuthError        Stash refused our credentials
"""

from __future__ import annotations

from errors import ConfigError, ServiceUnreachable, TransientError


class StashUnreachable(ServiceUnreachable):
    """Stash does not answer (refused, timed out, 5xx)."""

    service = "Stash"


class StashError(TransientError):
    """Stash answered, but with an error."""


class CoverPending(TransientError):
    """Stash has no cover for the scene yet (a scan runs hooks before generating it)."""


class StashAuthError(ConfigError):
    """Stash refused our credentials (the session cookie expired and there is no API key)."""
