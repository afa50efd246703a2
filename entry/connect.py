"""Sign in with Plex: a PIN, the account's servers, the choice of one, its libraries.

The same steps behind the PlexSync page (one operation per step: every operation is its own
process, so what lies between steps is kept in the sign-in file, `state.signin`) and behind
`plexsync.py link` (all steps in one process, waiting while the person links):

    link_start     a PIN from plex.tv: the code to enter at plex.tv/link
    link_poll      asks plex.tv once; when linked, lists the account's servers and tries every
                   address of each from this machine (the account token is used for that one
                   listing and then dropped; each server's own token is kept for the choice)
    choose_server  keeps the chosen server's best address and its own token
    libraries      the server's movie-type libraries, item counts, which ones are synced
    save_libraries plexLibraries
    disconnect     forgets the stored server and token
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict

from entry.context import Context
from errors import ConfigError
from logs import add_secret
from plex.account import LINK_PAGE, Connection, Pin, PlexTv, Resource
from plex.errors import PinExpired, PlexTvRejected
from plex.server_choice import ServerOption, try_server, try_servers, usable_address
from state.signin import ChosenServer, SignIn, stored_server

log = logging.getLogger("plexsync.connect")
POLL_SECONDS = 1.0  # as often as plex.tv's own clients ask
MOVIE = "movie"


def link_start(ctx: Context) -> dict:
    """A new PIN; the code for the person to enter at plex.tv/link."""
    signin = SignIn(ctx.data)
    tv = PlexTv(signin.client_id())
    try:
        pin = tv.create_pin()
    finally:
        tv.close()
    signin.start(pin.id, pin.code, pin.expires_at)
    return {"code": pin.code, "link": LINK_PAGE, "expires_in": round(pin.expires_at - time.time())}


def link_poll(ctx: Context) -> dict:
    """Asks plex.tv once: still waiting, or linked and here are the servers."""
    signin = SignIn(ctx.data)
    pending = signin.pin()
    if pending is None:
        raise ConfigError("No sign-in is under way: press Connect to Plex to start one")
    pin = Pin(pending.id, pending.code, pending.expires_at)
    tv = PlexTv(signin.client_id())
    try:
        try:
            account_token = tv.check_pin(pin)
        except (PinExpired, PlexTvRejected):
            signin.end_pin()  # the next step is a new PIN
            raise
        if account_token is None:
            left = round(pin.expires_at - time.time())
            return {"state": "waiting", "code": pin.code, "expires_in": left}
        add_secret(account_token)
        resources, options = _servers(tv, account_token)
    finally:
        tv.close()
    signin.offer([_offered(resource) for resource in resources])
    return {"state": "linked", "servers": [option.shown() for option in options]}


def link_cancel(ctx: Context) -> dict:
    """Stop waiting for the PIN."""
    SignIn(ctx.data).end_pin()
    return {"cancelled": True}


def choose_server(ctx: Context, server: str) -> dict:
    """Keep the chosen server (by machine identifier or name): its address and own token."""
    signin = SignIn(ctx.data)
    offered = signin.offered()
    if not offered:
        raise ConfigError("No servers are waiting to be chosen: sign in with Plex again")
    wanted = server.casefold()
    found = [s for s in offered if wanted in (s["machine"].casefold(), s["name"].casefold())]
    if not found:
        names = ", ".join(repr(s["name"]) for s in offered)
        raise ConfigError(f"Plex server {server!r} is not one of the account's: {names}")
    entry = found[0]
    add_secret(entry["token"])
    address = usable_address(try_server(_resource(entry)))  # tried again: now is what counts
    chosen = ChosenServer(entry["name"], entry["machine"], address, entry["token"], time.time())
    signin.choose(chosen)
    log.info("Signed in with Plex: server %r at %s", chosen.name, chosen.url)
    return {"server": chosen.name, "machine": chosen.machine, "address": chosen.url}


def disconnect(ctx: Context) -> dict:
    """Forget the signed-in server and its token (a plexToken setting stays as it is)."""
    had = SignIn(ctx.data).disconnect()
    return {"disconnected": had}


def signed_in(ctx: Context) -> dict:
    """The signed-in server, if any (no token)."""
    server = stored_server(ctx.data)
    if server is None:
        return {"signed_in": False}
    return {"signed_in": True, "server": server.name, "address": server.url, "at": server.at}


def libraries(ctx: Context) -> dict:
    """The server's movie-type libraries, with item counts and whether each is synced."""
    with ctx.services() as services:
        wanted = {name.casefold() for name in services.config.libraries}
        plex, listed = services.reach()
        found = [
            {
                "title": section.title,
                "key": section.key,
                "items": _count(plex, section.key),
                "synced": not wanted or section.title.casefold() in wanted,
            }
            for section in listed
            if section.type == MOVIE
        ]
    if not found:
        raise ConfigError("This Plex server has no Movies or Other Videos library to sync")
    return {"libraries": found, "all": not wanted}


def save_libraries(ctx: Context, libraries: list[str]) -> dict:
    """Save plexLibraries: the chosen names, or empty (every movie library) when all are."""
    shown = {entry["title"] for entry in _libraries_now(ctx)}
    unknown = [name for name in libraries if name not in shown]
    if unknown:
        raise ConfigError(f"Plex has no movie library named {', '.join(map(repr, unknown))}")
    text = "" if set(libraries) == shown else ", ".join(libraries)
    save_settings(ctx, {"plexLibraries": text})
    return {"plexLibraries": text or "(all)"}


def link(ctx: Context, server: str | None = None, wait: float = 900.0, sleep=time.sleep) -> dict:
    """The command line's sign-in: print the code, wait for the link, choose, list libraries."""
    started = link_start(ctx)
    log.info("Open %s and enter the code %s", started["link"], started["code"])
    log.info(
        "Waiting for the code to be linked (it expires in %d min) ...", started["expires_in"] // 60
    )
    deadline = time.monotonic() + wait
    while True:
        answer = link_poll(ctx)
        if answer["state"] == "linked":
            break
        if time.monotonic() >= deadline:
            link_cancel(ctx)
            raise ConfigError(f"Gave up waiting for the code {started['code']} after {wait:.0f} s")
        sleep(POLL_SECONDS)
    servers = answer["servers"]
    for entry in servers:
        log.info("Plex server %s", _described(entry))
    if not servers:
        raise ConfigError("Signed in, but this Plex account has no server: add one in Plex first")
    chosen = choose_server(ctx, server or _only_choice(servers))
    return {**chosen, "servers": [entry["name"] for entry in servers]}


# -- the pieces


def _servers(tv: PlexTv, account_token: str) -> tuple[list[Resource], list[ServerOption]]:
    resources = tv.resources(account_token)
    for resource in resources:
        add_secret(resource.access_token)
    return resources, try_servers(resources)


def _offered(resource: Resource) -> dict:
    """What the choice needs of a listed server: its addresses and its own token."""
    return {
        "name": resource.name,
        "machine": resource.machine,
        "owned": resource.owned,
        "token": resource.access_token,
        "connections": [asdict(c) for c in resource.connections],
    }


def _resource(entry: dict) -> Resource:
    connections = tuple(Connection(**c) for c in entry["connections"])
    return Resource(entry["name"], entry["machine"], entry["owned"], entry["token"], connections)


def _described(entry: dict) -> str:
    whose = "owned" if entry["owned"] else "shared"
    if entry["answers"]:
        return f"{entry['name']!r} ({whose}): answers at {entry['address']}"
    return f"{entry['name']!r} ({whose}): no address answers from this machine"


def _only_choice(servers: list[dict]) -> str:
    answering = [entry for entry in servers if entry["answers"]]
    if len(answering) == 1:
        return answering[0]["machine"]
    if not answering:
        return servers[0]["machine"]  # choose_server says why none of them will do
    names = ", ".join(repr(entry["name"]) for entry in answering)
    raise ConfigError(f"Several Plex servers answer ({names}): run link again with --server NAME")


def _count(plex, section_key: str) -> int:
    page = plex.list_page(section_key, 0, 0)
    return int(page.get("totalSize") or page.get("size") or 0)


def _libraries_now(ctx: Context) -> list[dict]:
    return libraries(ctx)["libraries"]


def save_settings(ctx: Context, changes: dict) -> dict:
    """Save plugin settings in Stash (the CLI's --plex-* overrides are never saved)."""
    from stash.client import StashClient

    stash = StashClient(ctx.connection)
    try:
        return stash.save_plugin_settings(changes)
    finally:
        stash.close()
