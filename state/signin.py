"""The Plex sign-in's file in the data directory: the server chosen and its own token.

A token typed into `plexToken` is a plugin setting, and Stash sends every plugin's settings to
the browser at start-up, where any other UI plugin can read it. A sign-in keeps its token here
instead (`plex_signin.json`, 0600 like every file of ours, never written through a link, never
logged). It holds, all optional:

    pin         a sign-in under way: {id, code, expires_at}
    offered     the account's servers just listed, each with its own token, until one is
                chosen (minutes: `OFFER_SECONDS`); the account's token is never kept
    server      the server chosen: {name, machine, url, token, at}

`plexToken` keeps working as before and wins when it is set (`settings_with`).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field

from errors import ConfigError
from setting_names import setting
from state.datadir import DataDir

FILE = "plex_signin.json"
OFFER_SECONDS = 1800.0  # a listed server's token is kept this long for the person to choose


@dataclass(frozen=True)
class ChosenServer:
    """The server the sign-in chose: where it answers and the token that opens it only."""

    name: str
    machine: str
    url: str
    token: str = field(repr=False)
    at: float = 0.0


@dataclass(frozen=True)
class PendingPin:
    id: int
    code: str
    expires_at: float


class SignIn:
    """The sign-in file of one data directory; every change is written at once, whole."""

    def __init__(self, data: DataDir, clock=time.time) -> None:
        self._data = data
        self._clock = clock
        self._state = self._read()

    def _read(self) -> dict:
        path = os.path.join(self._data.root, FILE)
        try:
            with open(path, encoding="utf-8") as handle:
                state = json.load(handle)
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise ConfigError(
                f"PlexSync's sign-in file {path} is unreadable ({exc}): delete it and sign in "
                "with Plex again"
            ) from None
        return state if isinstance(state, dict) else {}

    def _save(self) -> None:
        text = json.dumps(self._state, indent=1)
        self._data.write_private(FILE + ".new", text)
        os.replace(os.path.join(self._data.root, FILE + ".new"), self._data.private_path(FILE))

    # -- who we are to plex.tv

    def client_id(self) -> str:
        """Who PlexSync is to plex.tv: the identifier Plex servers see too (one device in the
        account, however often it signs in; kept by state/datadir.py)."""
        return self._data.client_identifier()

    # -- the PIN under way

    def start(self, pin_id: int, code: str, expires_at: float) -> None:
        self._state["pin"] = asdict(PendingPin(pin_id, code, expires_at))
        self._save()

    def pin(self) -> PendingPin | None:
        pin = self._state.get("pin")
        return PendingPin(**pin) if pin else None

    def end_pin(self) -> None:
        if self._state.pop("pin", None) is not None:
            self._save()

    # -- the servers offered, then the one chosen

    def offer(self, servers: list[dict]) -> None:
        """Keep the listed servers (with their tokens) for the choice; the PIN is done."""
        self._state.pop("pin", None)
        self._state["offered"] = {"at": self._clock(), "servers": servers}
        self._save()

    def offered(self) -> list[dict]:
        offer = self._state.get("offered") or {}
        if self._clock() - offer.get("at", 0) > OFFER_SECONDS:
            return []
        return list(offer.get("servers") or [])

    def choose(self, server: ChosenServer) -> None:
        self._state.pop("offered", None)
        self._state["server"] = asdict(server)
        self._save()

    def server(self) -> ChosenServer | None:
        chosen = self._state.get("server")
        return ChosenServer(**chosen) if chosen else None

    def disconnect(self) -> bool:
        """Forget the server, its token and anything under way; True if there was one."""
        had = self.server() is not None
        for key in ("server", "offered", "pin"):
            self._state.pop(key, None)
        self._save()
        return had


def stored_server(data: DataDir) -> ChosenServer | None:
    """The signed-in server, if any (no file: none)."""
    if not os.path.exists(os.path.join(data.root, FILE)):
        return None
    return SignIn(data).server()


def settings_with(settings: dict, server: ChosenServer | None) -> dict:
    """The settings with the signed-in server filling in, unless `plexToken` is set (it wins;
    `plexUrl`, when set, is the address to use even with the signed-in token)."""
    if server is None or str(settings.get("plexToken") or "").strip():
        return settings
    filled = {**settings, "plexToken": server.token}
    if not str(settings.get("plexUrl") or "").strip():
        filled["plexUrl"] = server.url
    return filled


def token_source(settings: dict, server: ChosenServer | None) -> dict:
    """Which token is in use, for status: the setting, the sign-in, or none."""
    if str(settings.get("plexToken") or "").strip():
        return {"source": f"{setting('plexToken')} setting"}
    if server is not None:
        return {"source": "signed in with Plex", "server": server.name, "signed_in_at": server.at}
    return {"source": None}
