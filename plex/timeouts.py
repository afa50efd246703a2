"""Plex call timeouts: their own module, so reading the settings never imports requests
(the UI's quick scene-state read builds a config without any Plex client)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Timeouts:
    """Seconds for each kind of Plex call; no call ever waits without a bound."""

    connect: float = 5.0
    read: float = 30.0
    listing_read: float = 120.0  # a 1,000-item page of a big section can take a while
    probe: float = 2.0  # the paused worker asking "is Plex back?" (status has its own, shorter)

    def request(self) -> tuple[float, float]:
        return (self.connect, self.read)

    def listing(self) -> tuple[float, float]:
        return (self.connect, max(self.read, self.listing_read))

    @staticmethod
    def deadline(timeout: tuple[float, float]) -> float:
        """The most a whole call may take: connecting, then twice the wait for one read
        (each wait for a byte is bounded by `read`; a slow answer gets that much again)."""
        connect, read = timeout
        return connect + 2 * read
