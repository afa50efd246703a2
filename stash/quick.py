"""One GraphQL request to Stash with the standard library, for the UI's quick operations.

`runPluginOperation` makes the browser wait for our whole process, so the scene-state answer
must not pay for stashapi's connect-time introspection or for importing requests. Everything
else talks to Stash through `stash.client.StashClient`.
"""

from __future__ import annotations

import http.client
import json

PLUGIN_ID = "PlexSync"
SETTINGS_QUERY = "query PlexSyncSettings($ids: [ID!]) { configuration { plugins(include: $ids) } }"


ANSWER_CAP = 64 * 1024 * 1024  # what we read of one answer from Stash: a scene page is a few MiB


def loopback(conn: dict) -> bool:
    """Whether Stash is on this machine: `0.0.0.0`/`::` (Stash's "every address"), `localhost`,
    or a loopback address however written (`127.0.0.2`, `::1`, `[::1]`)."""
    host = (conn.get("Host") or "").strip("[]").lower()
    if host in ("", "0.0.0.0", "::", "localhost"):
        return True
    if ":" not in host and not host.replace(".", "").isdigit():
        return False  # a name: only `localhost` is this machine for certain
    import ipaddress  # only for an address: the quick path seldom needs it

    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


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
    body = json.dumps({"query": SETTINGS_QUERY, "variables": {"ids": [PLUGIN_ID]}})
    headers = {"Content-Type": "application/json", **_credentials(conn)}
    stash = _connection(conn, timeout)
    try:
        stash.request("POST", "/graphql", body=body, headers=headers)
        response = stash.getresponse()
        text = response.read(ANSWER_CAP + 1)
    finally:
        stash.close()
    if len(text) > ANSWER_CAP:
        raise RuntimeError(
            f"Stash's answer to the settings query is over {ANSWER_CAP // 2**20} MiB; not read"
        )
    if response.status >= 400 and response.status != 422:
        raise RuntimeError(f"Stash answered HTTP {response.status} to the settings query")
    answer = json.loads(text)
    if answer.get("errors"):
        raise RuntimeError(f"Stash query failed: {answer['errors'][0].get('message')}")
    plugins = ((answer.get("data") or {}).get("configuration") or {}).get("plugins") or {}
    return plugins.get(PLUGIN_ID) or {}


def _connection(conn: dict, timeout: float) -> http.client.HTTPConnection:
    """http.client rather than urllib.request: the same request for a third of the imports."""
    host = stash_base_url(conn).split("://", 1)[1].rsplit(":", 1)[0].strip("[]")
    port = int(conn.get("Port") or 9999)
    if (conn.get("Scheme") or "http") != "https":
        return http.client.HTTPConnection(host, port, timeout=timeout)
    import ssl

    context = ssl.create_default_context()
    if loopback(conn):  # Stash's certificate never names 127.0.0.1 (see stash.client)
        context = ssl._create_unverified_context()  # noqa: SLF001 - the stdlib's own helper
    return http.client.HTTPSConnection(host, port, timeout=timeout, context=context)


def _credentials(conn: dict) -> dict:
    headers = {}
    cookie = (conn.get("SessionCookie") or {}).get("Value")
    if cookie:
        headers["Cookie"] = f"session={cookie}"
    if conn.get("ApiKey"):
        headers["ApiKey"] = conn["ApiKey"]
    return headers
