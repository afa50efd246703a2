"""One GraphQL request to Stash with the standard library, for the UI's quick operations.

`runPluginOperation` makes the browser wait for our whole process, so the scene-state answer
must not pay for stashapi's connect-time introspection or for importing requests. Everything
else talks to Stash through `stash.client.StashClient`.
"""

from __future__ import annotations

import json
import ssl
import urllib.request

PLUGIN_ID = "PlexSync"
SETTINGS_QUERY = "query PlexSyncSettings($ids: [ID!]) { configuration { plugins(include: $ids) } }"


def loopback(conn: dict) -> bool:
    return (conn.get("Host") or "127.0.0.1") in ("0.0.0.0", "::", "", "127.0.0.1", "localhost")


def stash_base_url(conn: dict) -> str:
    """Where to reach Stash from this machine (`0.0.0.0` means this machine)."""
    host = conn.get("Host") or "127.0.0.1"
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"{conn.get('Scheme') or 'http'}://{host}:{conn.get('Port') or 9999}"


def plugin_settings(conn: dict, timeout: float = 5.0) -> dict:
    """The PlexSync settings saved in Stash (unsaved keys are absent)."""
    body = json.dumps({"query": SETTINGS_QUERY, "variables": {"ids": [PLUGIN_ID]}}).encode()
    request = urllib.request.Request(
        stash_base_url(conn) + "/graphql",
        data=body,
        headers={"Content-Type": "application/json", **_credentials(conn)},
    )
    context = None
    if loopback(conn):  # Stash's certificate never names 127.0.0.1 (see stash.client)
        context = ssl._create_unverified_context()  # noqa: SLF001 - the stdlib's own helper
    with urllib.request.urlopen(request, timeout=timeout, context=context) as response:
        answer = json.loads(response.read())
    if answer.get("errors"):
        raise RuntimeError(f"Stash query failed: {answer['errors'][0].get('message')}")
    return ((answer.get("data") or {}).get("configuration") or {}).get("plugins", {}).get(
        PLUGIN_ID
    ) or {}


def _credentials(conn: dict) -> dict:
    headers = {}
    cookie = (conn.get("SessionCookie") or {}).get("Value")
    if cookie:
        headers["Cookie"] = f"session={cookie}"
    if conn.get("ApiKey"):
        headers["ApiKey"] = conn["ApiKey"]
    return headers
