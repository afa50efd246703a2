"""Drive the real worker in-process, one iteration at a time, with a clock the test owns.

Real SQLite files, the real Services (plexapi against the fake Plex, stashapi against the fake
Stash); only time is injected: `sleep` moves the clock instead of waiting, so a test can walk
a retry schedule of days in a second.
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from state.datadir import DataDir
from state.jobs import SceneJob
from worker.loop import Pacing, Worker
from worker.services import Services


class Stop(Exception):
    """The clock passed the test's limit: the worker would have gone on for ever."""


@dataclass
class Clock:
    now: float = 1_800_000_000.0
    limit: float | None = None  # sleeping past this raises Stop
    slept: list[float] = field(default_factory=list)

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        if self.limit is not None and self.now > self.limit:
            raise Stop(f"still running at {self.now}")


class Stepper:
    """A worker over one data directory, its queue and store open for inspection."""

    def __init__(self, path: Path, connection: dict, settings: dict, pacing=None):
        self.clock = Clock()
        self.data = DataDir(path)
        self._opened = ExitStack()  # closed by close(), last opened first
        self.queue = self._opened.enter_context(self.data.open_queue())
        self.store = self._opened.enter_context(self.data.open_store())
        self.services = self._opened.enter_context(
            Services(
                self.data,
                self.store,
                connection,
                settings,
                clock=self.clock,
                sleep=self.clock.sleep,
            )
        )
        self.worker = Worker(
            self.data,
            self.queue,
            self.store,
            self.services,
            pacing or Pacing(),
            clock=self.clock,
            sleep=self.clock.sleep,
        )
        self.worker.recover()

    def enqueue_scene(self, scene_id, cover=False) -> None:
        self.queue.enqueue(SceneJob(int(scene_id), "Scene.Update.Post", self.clock(), cover))

    def delayed(self, key: str):
        return self.store.delayed_entry(key)

    def dead(self, key: str):
        return self.store.failed_entry(key)

    def close(self) -> None:
        self._opened.close()
