"""Where a task or operation runs. Its own module so the fast UI operations can build one
without importing the worker (plexapi, stashapi, the loop)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from state.datadir import DataDir

if TYPE_CHECKING:
    from worker.services import Services

TASK_MAX_PAUSE = 120.0  # a task waits this long for Plex/Stash, then leaves it to the worker


@dataclass
class Context:
    """Where a task runs: data directory, Stash connection, settings (None: read from Stash)."""

    data: DataDir
    connection: dict = field(default_factory=dict)
    settings: dict | None = None
    overrides: dict = field(default_factory=dict)  # command-line settings over the saved ones
    show_progress: bool = True
    start_background: bool = True  # hand delayed retries to a background worker when done
    max_pause: float = TASK_MAX_PAUSE
    sleep: Callable[[float], None] = time.sleep

    @contextmanager
    def services(self) -> Iterator[Services]:
        """The worker's services for one operation, its settings read, closed after with the
        store they use. Imported on use: the fast UI operations never pay for the worker."""
        from worker.services import Services

        with (
            self.data.open_store() as store,
            Services(self.data, store, self.connection, self.settings, self.overrides) as services,
        ):
            services.read_settings()
            yield services
