"""The guard every paged Plex reader shares: stop on a page that cannot be right.

A broken or hostile server can claim an absurd total, or answer every page with the same
entries, and a reader that trusts it pages for ever. Each reader names what it reads and
passes the keys of the page (rating keys, history keys) and those it has seen before.
"""

from __future__ import annotations

from collections.abc import Collection

from plex.errors import PlexTemporaryError

MAX_ENTRIES = 10_000_000  # far past any real library or history; more is a broken server


def check_page(what: str, start: int, total: int, keys: Collection[str], seen) -> None:
    """Raise PlexTemporaryError for an absurd total, or a page that brought nothing new."""
    if total > MAX_ENTRIES:
        raise PlexTemporaryError(
            f"Plex says {what} holds {total:,} items, which cannot be right; reading stopped"
        )
    if keys and all(key in seen for key in keys):
        raise PlexTemporaryError(
            f"Plex's {what} repeats itself at item {start:,} (a page brought nothing new); "
            "reading stopped"
        )
