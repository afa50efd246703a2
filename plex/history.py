"""Reading watch activity from Plex: the view history, the server's accounts, resume points.

Read-only: every call here is a GET. The history (`/status/sessions/history/all`, what plexapi's
`PlexServer.history()` reads) lists one entry per view with `historyKey`, `ratingKey`,
`viewedAt` (epoch s), `accountID` and `librarySectionID`. `viewedAt>=N` is Plex's inclusive
filter (plexapi sends it as the key `viewedAt>`); pages come by X-Plex-Container-Start/Size,
sorted oldest first so that views recorded while an import runs land after the pages read.
An item's own listing carries the token's account's `viewOffset` (ms) and `lastViewedAt`.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from plex.client import PlexClient
from plex.errors import PlexPermanentError

HISTORY_PATH = "/status/sessions/history/all"
PAGE_SIZE = 1000
OWNER_ACCOUNT = 1  # the server owner's account id on every Plex server


class UnknownAccount(PlexPermanentError):
    """`activityAccounts` names an account this Plex server does not have."""


@dataclass(frozen=True)
class View:
    """One view in Plex's history."""

    history_key: str
    rating_key: str
    viewed_at: int
    account_id: int
    section: str


@dataclass(frozen=True)
class HistoryPage:
    """One page of views, and how many the request matches in all."""

    views: list[View]
    total: int  # every view the filter matches, from the first page on


@dataclass(frozen=True)
class ResumePoint:
    """The token account's state of one item: where it stopped (0: finished) and when."""

    rating_key: str
    offset_ms: int
    last_viewed_at: int


def history_page(
    client: PlexClient,
    since: int,
    start: int,
    size: int = PAGE_SIZE,
    account_id: int | None = None,
    section: str | None = None,
) -> HistoryPage:
    """One page of the views at or after `since`, oldest first."""
    params: dict = {"sort": "viewedAt:asc", "viewedAt>": int(since)}
    if account_id is not None:
        params["accountID"] = account_id
    if section is not None:
        params["librarySectionID"] = section
    headers = {"X-Plex-Container-Start": str(start), "X-Plex-Container-Size": str(size)}
    root = client.query(
        "the watch history",
        f"{HISTORY_PATH}?{urlencode(params, safe='>=:')}",
        headers=headers,
        timeout=client.timeouts.listing(),
    )
    views = [_view(el) for el in root if el.get("historyKey")]
    total = int(root.get("totalSize") or root.get("size") or len(views))
    return HistoryPage(views, max(total, start + len(views)))


def _view(el) -> View:
    return View(
        history_key=el.get("historyKey", ""),
        rating_key=el.get("ratingKey") or "",
        viewed_at=int(el.get("viewedAt") or 0),
        account_id=int(el.get("accountID") or 0),
        section=el.get("librarySectionID") or "",
    )


def accounts(client: PlexClient) -> dict[int, str]:
    """The server's accounts: id -> name."""
    root = client.query("the accounts", "/accounts")
    return {int(a.get("id")): a.get("name", "") for a in root.iter("Account") if a.get("id")}


def resolve_accounts(wanted: tuple[str, ...], client: PlexClient) -> frozenset[int]:
    """Account ids for `activityAccounts` (names or ids); empty: the owner. Names cost one
    request; ids none."""
    if not wanted:
        return frozenset({OWNER_ACCOUNT})
    ids = {int(w) for w in wanted if w.isdigit()}
    names = [w for w in wanted if not w.isdigit()]
    if names:
        known = accounts(client)
        by_name = {name.casefold(): account_id for account_id, name in known.items() if name}
        missing = [n for n in names if n.casefold() not in by_name]
        if missing:
            listed = ", ".join(sorted(n for n in known.values() if n)) or "none"
            raise UnknownAccount(
                f"activityAccounts: Plex has no account {', '.join(map(repr, missing))} "
                f"(it has: {listed})"
            )
        ids |= {by_name[n.casefold()] for n in names}
    return frozenset(ids)


def resume_points(client: PlexClient, section_key: str, since: int) -> list[ResumePoint]:
    """Items of a section viewed after `since`, with the token account's offset. If Plex
    ignores the `lastViewedAt` filter the whole section comes back; it is filtered here."""
    points, start, total = [], 0, None
    filters = {"lastViewedAt>>": since}  # strict, as Plex's filters are
    while total is None or start < total:
        page = client.list_page(section_key, start, PAGE_SIZE, filters)
        videos = list(page.iter("Video"))
        total = int(page.get("totalSize") or page.get("size") or len(videos))
        start += len(videos)
        for video in videos:
            at = int(video.get("lastViewedAt") or 0)
            if at > since:
                points.append(
                    ResumePoint(video.get("ratingKey", ""), int(video.get("viewOffset") or 0), at)
                )
        if not videos:
            break
    return points
