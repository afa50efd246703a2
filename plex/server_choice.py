"""Which address of a server to use: every address plex.tv lists, tried from this machine.

plex.tv lists a server's addresses as the server reported them (its LAN address, its public
one, a relay), but whether one answers depends on where PlexSync runs: a Docker network, a VPN,
a NAS on another subnet. So each is asked once, all at once, with the server's own token and a
short timeout; the one chosen is the fastest local address that answers, else the fastest
remote one, a relay last (relays are slow and rate-limited by Plex). An address that answers
as another server (its machine identifier differs) does not count.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from errors import CLASSIFIED
from plex.account import Connection, Resource
from plex.client import probe
from plex.errors import PlexConfigError
from setting_names import setting

PROBE_SECONDS = 3.0


@dataclass(frozen=True)
class Tried:
    """One address and what happened when it was asked."""

    uri: str
    local: bool
    relay: bool
    seconds: float | None  # None: it did not answer as this server
    error: str = ""

    @property
    def answered(self) -> bool:
        return self.seconds is not None

    def rank(self) -> tuple:
        return (not self.answered, self.relay, not self.local, self.seconds or 0.0)


@dataclass(frozen=True)
class ServerOption:
    """A server of the account, its addresses best first."""

    name: str
    machine: str
    owned: bool
    tried: tuple[Tried, ...]

    @property
    def best(self) -> Tried | None:
        return self.tried[0] if self.tried and self.tried[0].answered else None

    def shown(self) -> dict:
        """As the UI and the command line show it (no token)."""
        return {
            "name": self.name,
            "machine": self.machine,
            "owned": self.owned,
            "answers": self.best is not None,
            "address": self.best.uri if self.best else None,
            "connections": [
                {
                    "uri": t.uri,
                    "local": t.local,
                    "relay": t.relay,
                    "ms": None if t.seconds is None else round(t.seconds * 1000),
                    "error": t.error,
                }
                for t in self.tried
            ],
        }


def try_server(resource: Resource, seconds: float = PROBE_SECONDS) -> ServerOption:
    """Ask every address of the server at once; the answers ranked."""
    with ThreadPoolExecutor(max(1, len(resource.connections))) as pool:
        tried = list(pool.map(lambda c: _try(resource, c, seconds), resource.connections))
    tried.sort(key=Tried.rank)
    return ServerOption(resource.name, resource.machine, resource.owned, tuple(tried))


def try_servers(resources: list[Resource], seconds: float = PROBE_SECONDS) -> list[ServerOption]:
    """Every server, those that answer first (owned before shared, then by name)."""
    with ThreadPoolExecutor(max(1, min(8, len(resources)))) as pool:
        options = list(pool.map(lambda r: try_server(r, seconds), resources))
    return sorted(options, key=lambda o: (o.best is None, not o.owned, o.name.casefold()))


def usable_address(option: ServerOption) -> str:
    """The address to keep; PlexConfigError naming every address when none answered."""
    if option.best is not None:
        return option.best.uri
    tried = "; ".join(f"{t.uri} ({t.error})" for t in option.tried) or "plex.tv lists none"
    raise PlexConfigError(
        f"None of the addresses of Plex server {option.name!r} answers from this machine: "
        f"{tried}. Is the server on, and can this machine reach it? Set {setting('plexUrl')} "
        "to an address that works from here"
    )


def _try(resource: Resource, connection: Connection, seconds: float) -> Tried:
    started = time.monotonic()
    try:
        info = probe(connection.uri, resource.access_token, seconds)
    except CLASSIFIED as exc:
        return Tried(connection.uri, connection.local, connection.relay, None, _short(exc))
    took = time.monotonic() - started
    if info.machine_identifier != resource.machine:
        error = f"answered as another server ({info.name or info.machine_identifier})"
        return Tried(connection.uri, connection.local, connection.relay, None, error)
    return Tried(connection.uri, connection.local, connection.relay, took)


def _short(exc: Exception) -> str:
    text = str(exc)
    return text if len(text) <= 160 else text[:157] + "..."
