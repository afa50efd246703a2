"""Reading watch activity from Plex: the view history, the server's accounts, resume points.

Read-only: every call here is a GET. The history (`/status/sessions/history/all`, what plexapi's
`PlexServer.history()` reads) lists one entry per view with `historyKey`, `ratingKey`,
`viewedAt` (epoch s), `accountID` and `librarySectionID`. `viewedAt>=N` is Plex's inclusive
filter (plexapi sends it as the key `viewedAt>`); pages come by X-Plex-Container-Start/Size,
sorted oldest first so that views recorded while an import runs land after the pages read.
An item's own listing carries the token's account's `viewOffset` (ms) and `lastViewedAt`.

Each entry is read on its own: one that does not hold a view (a viewedAt or accountID that is
no number, a date past year 9999) is returned as unreadable, by its historyKey, and the rest
of the page stands. The resume-point listing stops on a page that cannot be right
(plex/paging.py) and after `MAX_PAGES`.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from plex.client import PlexClient
from plex.errors import PlexPermanentError, PlexTemporaryError
from plex.paging import check_page
from setting_names import setting

HISTORY_PATH = "/status/sessions/history/all"
PAGE_SIZE = 1000
MAX_PAGES = 100  # of the resume listing per section: 100,000 items viewed since the last look
OWNER_ACCOUNT = 1  # the server owner's account id on every Plex server
LAST_SECOND = 253402300799  # 9999-12-31T23:59:59Z: a later viewedAt is no date


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
    unreadable: list[str]  # historyKeys of the entries that hold no view
    read: int  # entries on the page, readable or not: the next page starts past them
    total: int  # every view the filter matches, from the first page on

    @property
    def keys(self) -> list[str]:
        return [v.history_key for v in self.views] + self.unreadable


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
    entries = list(root)
    views, unreadable = [], []
    for el in entries:
        view = _view(el)
        if view is not None:
            views.append(view)
        elif el.get("historyKey"):
            unreadable.append(el.get("historyKey"))
    total = _count(root.get("totalSize") or root.get("size")) or 0
    return HistoryPage(views, unreadable, len(entries), max(total, start + len(entries)))


def _view(el) -> View | None:
    """The view an entry holds; None when it holds none."""
    viewed_at = _count(el.get("viewedAt"))
    account_id = _count(el.get("accountID") or "0")
    if not el.get("historyKey") or viewed_at is None or account_id is None:
        return None
    if viewed_at > LAST_SECOND:
        return None
    return View(
        history_key=el.get("historyKey"),
        rating_key=el.get("ratingKey") or "",
        viewed_at=viewed_at,
        account_id=account_id,
        section=el.get("librarySectionID") or "",
    )


def _count(text: str | None) -> int | None:
    """A non-negative whole number written in ASCII digits (int() takes '١٢', ' 1_2 '); else
    None. Past 18 digits it is no count Plex keeps."""
    if not text or len(text) > 18 or not (text.isascii() and text.isdigit()):
        return None
    return int(text)


def accounts(client: PlexClient) -> dict[int, str]:
    """The server's accounts: id -> name."""
    root = client.query("the accounts", "/accounts")
    found = {_count(a.get("id")): a.get("name", "") for a in root.iter("Account")}
    return {account_id: name for account_id, name in found.items() if account_id is not None}


def resolve_accounts(wanted: tuple[str, ...], client: PlexClient) -> frozenset[int]:
    """Account ids for `activityAccounts`; empty: the owner. `#12` is id 12 and costs nothing;
    any other entry is a name (one request for all), and one of digits only that no account
    is named is that id (as earlier releases read it)."""
    if not wanted:
        return frozenset({OWNER_ACCOUNT})
    ids = {_count(w[1:]) for w in wanted if w.startswith("#")}
    if None in ids:
        bad = [w for w in wanted if w.startswith("#") and _count(w[1:]) is None]
        raise UnknownAccount(
            f"{setting('activityAccounts')}: {', '.join(map(repr, bad))} is no account id: "
            "write an id as # and its digits, e.g. #5"
        )
    names = [w for w in wanted if not w.startswith("#")]
    if names:
        known = accounts(client)
        by_name = {name.casefold(): account_id for account_id, name in known.items() if name}
        missing = [n for n in names if n.casefold() not in by_name and _count(n) is None]
        if missing:
            listed = ", ".join(sorted(n for n in known.values() if n)) or "none"
            raise UnknownAccount(
                f"{setting('activityAccounts')}: Plex has no account "
                f"{', '.join(map(repr, missing))}: name one it has ({listed})"
            )
        ids |= {by_name.get(n.casefold(), _count(n)) for n in names}
    return frozenset(i for i in ids if i is not None)  # (a None was refused above)


def resume_points(client: PlexClient, section_key: str, since: int) -> list[ResumePoint]:
    """Items of a section viewed after `since`, with the token account's offset. If Plex
    ignores the `lastViewedAt` filter the whole section comes back; it is filtered here."""
    points, start, total, pages = [], 0, None, 0
    seen: set[str] = set()
    filters = {"lastViewedAt>>": since}  # strict, as Plex's filters are
    what = f"list of items viewed in library {section_key}"
    while total is None or start < total:
        if pages == MAX_PAGES:
            raise PlexTemporaryError(f"Plex's {what} goes on past {start:,} items; reading stopped")
        page = client.list_page(section_key, start, PAGE_SIZE, filters)
        pages += 1
        videos = list(page.iter("Video"))
        total = _count(page.get("totalSize") or page.get("size")) or len(videos)
        keys = [video.get("ratingKey", "") for video in videos]
        check_page(what, start, total, keys, seen)
        seen.update(keys)
        start += len(videos)
        for video in videos:
            at = _count(video.get("lastViewedAt"))
            offset = _count(video.get("viewOffset") or "0")
            if at is not None and offset is not None and since < at <= LAST_SECOND:
                points.append(ResumePoint(video.get("ratingKey", ""), offset, at))
        if not videos:
            break
    return points
