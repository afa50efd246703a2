"""The run's one switch that stops requests to Plex.

A run-wide error met while writing (Plex away, the token rejected, unusable settings) closes
it, and every request the rest of the batch would have sent fails at once with a copy of that
error instead. The worker's settling closes it too when a rejected token dead-letters a job.
It opens again at the next batch (SceneSync.sync_many) or once the service answers a probe
(Services.probe), except after a rejected token, which keeps it closed until the settings
change (Services.read_settings).
"""

from __future__ import annotations

import threading

from plex.errors import PlexAuthError


class Gate:
    """Closed by the first run-wide error (`closed_by`) until it is opened again."""

    def __init__(self) -> None:
        self.closed_by: Exception | None = None
        self._lock = threading.Lock()  # the batch's writers close it from their threads

    def close(self, error: Exception) -> None:
        with self._lock:
            self.closed_by = self.closed_by or error

    def check(self) -> None:
        """Raise (a copy of) the error that closed the gate, if one did."""
        error = self.closed_by
        if error is not None:
            raise type(error)(str(error))

    def open(self, token_too: bool = False) -> None:
        with self._lock:
            if token_too or not isinstance(self.closed_by, PlexAuthError):
                self.closed_by = None
