"""A person watching Plex while PlexSync works: the probe the load benchmark times.

A Plex player reports where it is every few hundred milliseconds (`/:/timeline`, a write to
Plex's database) and the person now and then opens a library page (a read). `Viewer` does
both from its own thread, as its own client, and keeps how long each answer took.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict

import requests

CLIENT_ID = "plexsync-bench-viewer"


class Viewer:
    """Plays an item: a timeline report every `every` s, a library page every `page_every` s."""

    def __init__(
        self,
        url: str,
        token: str,
        rating_key: str,
        section: str,
        every: float = 0.25,
        page_every: float = 5.0,
    ) -> None:
        self.url = url.rstrip("/")
        self.rating_key = rating_key
        self.section = section
        self.every = every
        self.page_every = page_every
        self.times: dict[str, list[float]] = defaultdict(list)  # "timeline"/"page" -> seconds
        self.failures = 0
        self._session = requests.Session()
        self._session.headers.update(
            {
                "X-Plex-Token": token,
                "X-Plex-Client-Identifier": CLIENT_ID,
                "X-Plex-Product": "Bench Viewer",
            }
        )
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._play, name="viewer", daemon=True)
        self._lock = threading.Lock()

    def __enter__(self) -> Viewer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(30)
        self._session.close()

    def take(self) -> dict[str, list[float]]:
        """The times recorded so far (and start a new record)."""
        with self._lock:
            times, self.times = self.times, defaultdict(list)
        return times

    def _play(self) -> None:
        position_ms = 0
        next_page = time.monotonic() + self.page_every
        while not self._stop.is_set():
            tick = time.monotonic()
            position_ms += int(self.every * 1000)
            self._time(
                "timeline",
                "/:/timeline",
                {"ratingKey": self.rating_key, "state": "playing", "time": position_ms},
            )
            if time.monotonic() >= next_page:
                next_page += self.page_every
                self._time(
                    "page",
                    f"/library/sections/{self.section}/all",
                    {"type": 1, "X-Plex-Container-Start": 0, "X-Plex-Container-Size": 50},
                )
            self._stop.wait(max(0.0, self.every - (time.monotonic() - tick)))

    def _time(self, kind: str, path: str, params: dict) -> None:
        started = time.perf_counter()
        try:
            answer = self._session.get(self.url + path, params=params, timeout=30)
            ok = answer.status_code == 200
        except requests.RequestException:
            ok = False
        took = time.perf_counter() - started
        with self._lock:
            if ok:
                self.times[kind].append(took)
            else:
                self.failures += 1
