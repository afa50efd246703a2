"""The fake Plex's watch history and accounts (mixed into FakePlex).

* ``GET /status/sessions/history/all``: one ``Video`` per view with historyKey
  (``/status/sessions/history/<id>``), key, ratingKey, librarySectionID, title, type, viewedAt,
  accountID, deviceID. Filters: ``viewedAt>=`` (plexapi's ``viewedAt>`` key: inclusive),
  ``viewedAt>>=`` (strict), ``viewedAt<=``/``<<=``, ``accountID``, ``librarySectionID``,
  ``metadataItemID``; ``sort`` (viewedAt, accountID, id; ``:desc``/``:asc``; comma-separated;
  default id). Paged by X-Plex-Container-Start/Size (query or header); the container has
  size/totalSize/offset. A view keeps pointing at its file, as Plex keys history by guid, so
  after ``rebuild_library`` the same views carry the new ratingKeys; a view whose file no item
  holds any more has no ratingKey.
* ``GET /accounts``: ``Account`` elements (id, key, name, ...); id 0 is Plex's system account
  with no name and id 1 the owner, as on a real server.
* State: ``add_account(name, account_id=None)``, ``add_view(rating_key, account_id=1,
  viewed_at=None)`` (the owner's view also sets the item's lastViewedAt and clears its
  viewOffset, as a finished view does), ``set_progress(rating_key, offset_ms, at=None)`` (the
  owner stopped part-way), ``views`` (copies), ``renumber_history()`` (new historyKeys for the
  same views, as a restored database might give), ``flood_history(rating_key)`` (every history
  request first records as many new views of that item as the page holds, dated now: a server
  whose history never ends). ``add_view(..., shown={...})`` renders those attributes as given
  (a damaged entry: ``viewedAt="soon"``), while the filters see its ``viewed_at``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass


@dataclass
class FakeView:
    id: int
    account_id: int
    viewed_at: int
    file: str  # what identifies the item across a rebuild (Plex uses the guid)
    section: str
    title: str
    shown: dict | None = None  # attributes rendered as they are, whatever the fields say


class HistoryState:
    """Views and accounts; FakePlex supplies _lock, _items, _now, _item and _el."""

    def _init_history(self) -> None:
        self.accounts: dict[int, str] = {0: "", 1: "fake"}
        self._views: list[FakeView] = []
        self._next_view = 1
        self._flood: str | None = None

    def add_account(self, name: str, account_id: int | None = None) -> int:
        with self._lock:
            account_id = account_id if account_id is not None else max(self.accounts) + 1
            self.accounts[account_id] = name
            return account_id

    def add_view(
        self, rating_key, account_id: int = 1, viewed_at: int | None = None, shown=None
    ) -> str:
        """Record a finished view; returns its historyKey."""
        with self._lock:
            item = self._item(rating_key)
            at = self._now() if viewed_at is None else int(viewed_at)
            view = FakeView(
                self._next_view, account_id, at, item.files[0], item.section, item.title, shown
            )
            self._next_view += 1
            self._views.append(view)
            if account_id == 1:  # the token is the owner's: its item state changes
                item.last_viewed_at = max(at, item.last_viewed_at or 0)
                item.view_offset = None
                item.view_count += 1
            return f"/status/sessions/history/{view.id}"

    def set_progress(self, rating_key, offset_ms: int, at: int | None = None) -> None:
        """The owner stopped watching part-way: a resume point."""
        with self._lock:
            item = self._item(rating_key)
            item.view_offset = int(offset_ms)
            item.last_viewed_at = self._now() if at is None else int(at)

    @property
    def views(self) -> list[FakeView]:
        with self._lock:
            return copy.deepcopy(self._views)

    def flood_history(self, rating_key) -> None:
        with self._lock:
            self._flood = str(rating_key)

    def renumber_history(self) -> None:
        with self._lock:
            for view in self._views:
                view.id = self._next_view
                self._next_view += 1

    # -- handlers

    def _get_accounts(self, q, h, b):
        root = self._el(
            "MediaContainer", "", size=len(self.accounts), identifier="com.plexapp.system.accounts"
        )
        for account_id, name in sorted(self.accounts.items()):
            self._el(
                "Account",
                "defaultAudioLanguage=en autoSelectAudio=1 subtitleMode=0",
                root,
                id=account_id,
                key=f"/accounts/{account_id}",
                name=name,
                thumb="" if account_id == 0 else f"https://plex.tv/users/{account_id}/avatar",
            )
        return root

    def _get_history(self, q, h, b):
        if self._flood is not None:
            size = dict(q).get("X-Plex-Container-Size", h.get("X-Plex-Container-Size", 1000))
            item = self._item(self._flood)
            for _ in range(int(size)):
                self._views.append(
                    FakeView(self._next_view, 1, self._now(), item.files[0], item.section, "")
                )
                self._next_view += 1
        found = [v for v in self._views if _passes(v, q)]
        by_file = {f: item for item in self._items.values() for f in item.files}
        rk_of = {v.id: getattr(by_file.get(v.file), "rating_key", None) for v in found}
        wanted = dict(q).get("metadataItemID")
        if wanted:
            found = [v for v in found if rk_of[v.id] == wanted]
        found = _sorted(found, dict(q).get("sort", ""))
        start = int(dict(q).get("X-Plex-Container-Start", h.get("X-Plex-Container-Start", 0)))
        size = dict(q).get("X-Plex-Container-Size", h.get("X-Plex-Container-Size"))
        page = found[start:] if size is None else found[start : start + int(size)]
        total = len(found) + (len(page) if self._flood is not None else 0)  # always more to come
        root = self._el("MediaContainer", "", size=len(page), totalSize=total, offset=start)
        for view in page:
            rk = rk_of[view.id]
            attrs = {
                "historyKey": f"/status/sessions/history/{view.id}",
                "key": f"/library/metadata/{rk}" if rk else None,
                "ratingKey": rk,
                "librarySectionID": view.section,
                "title": view.title,
                "thumb": f"/library/metadata/{rk}/thumb/1" if rk else None,
                "viewedAt": view.viewed_at,
                "accountID": view.account_id,
            }
            self._el("Video", "type=movie deviceID=1", root, **{**attrs, **(view.shown or {})})
        return root


_COMPARE = {
    "viewedAt>": lambda a, b: a >= b,
    "viewedAt>>": lambda a, b: a > b,
    "viewedAt<": lambda a, b: a <= b,
    "viewedAt<<": lambda a, b: a < b,
    "viewedAt": lambda a, b: a == b,
}


def _passes(view: FakeView, pairs) -> bool:
    for key, value in pairs:
        if key in _COMPARE and not _COMPARE[key](view.viewed_at, int(value)):
            return False
        if key == "accountID" and view.account_id != int(value):
            return False
        if key == "librarySectionID" and view.section != value:
            return False
    return True


def _sorted(views: list[FakeView], sort: str) -> list[FakeView]:
    keys = {
        "viewedAt": lambda v: v.viewed_at,
        "accountID": lambda v: v.account_id,
        "id": lambda v: v.id,
    }
    views = sorted(views, key=lambda v: v.id)
    for part in reversed([p for p in sort.split(",") if p]):  # stable: last key first
        name, _, direction = part.partition(":")
        if name in keys:
            views.sort(key=keys[name], reverse=direction == "desc")
    return views
