"""Importing watch activity, Plex -> Stash: each view a play, once; newer resume points.

An import is one job (`activity:import`, state/jobs.py) that the worker steps one history page
at a time, like a scan, so its errors are routed like any job's (Stash or Plex unreachable:
pause; other errors: retry later) and a killed import continues where it stopped. Its progress
(the `since` it asks from, views read, views matched) is a row in the `scans` table, so status
and the task's progress bar show it.

Each step: settle views a killed step left pending; read one page of history; record every new
view's fate and the page cursor in one transaction (intent first); then add the pending plays,
after checking each scene's `play_history` in Stash so a play added just before a crash is not
added again; then mark them done. The last page also brings the token account's resume points.

Incremental: a run asks once for the views from the newest one seen, less `late_views`, so a
view Plex reports late (an offline client syncing its plays) is still found; views already in
the ledger cost nothing more. Nothing here writes to Plex.

What Plex says is checked, not trusted: a view dated past now (and `future_margin`) is a wrong
clock, skipped and counted, and looked at again next time; an entry that holds no view is
skipped and counted once; views of accounts not imported and of libraries not synced are not
kept. The cursors move only from views taken, never past now, so no view can hold later
ones back. A run reads at most `max_views` entries and stops on a page that repeats the one
before (plex/paging.py): a history that never ends cannot fill the state file.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from errors import CLASSIFIED
from plex.history import OWNER_ACCOUNT, PAGE_SIZE, history_page, resolve_accounts, resume_points
from plex.paging import check_page
from stash.plays import add_plays, play_states, save_resume
from state import ledger as ledger_mod
from state.ledger import (
    DONE,
    DUPLICATE,
    FUTURE,
    GONE,
    PENDING,
    UNMAPPED,
    UNREADABLE,
    ActivityLedger,
)
from state.store import Store

log = logging.getLogger("plexsync.activity")
KEY = "activity:import"


@dataclass(frozen=True)
class ActivityPolicy:
    """How far back a run looks for late views, how often it runs by itself, page size, how
    much one run reads, and how far past now a view may be dated (clocks differ a little)."""

    late_views: float = 7 * 86400
    auto_every: float = 900.0
    page: int = PAGE_SIZE
    max_views: int = 100 * PAGE_SIZE
    future_margin: float = 3600.0


class ActivityImport:
    """The import's steps for one worker run (the accounts are resolved once per run)."""

    def __init__(
        self,
        services,
        store: Store,
        clock: Callable[[], float] = time.time,
        policy: ActivityPolicy = ActivityPolicy(),
    ) -> None:
        self.services = services
        self.store = store
        self.clock = clock
        self.policy = policy
        self._accounts: frozenset[int] | None = None
        self._auto_checked_at: float | None = None
        self._last_page: tuple[int, set[str]] = (-1, set())  # (start, keys) of the page before

    def auto_due(self, now: float) -> bool:
        """importActivity is on and the last import (or automatic start) was `auto_every` ago
        or more; this one then counts as started. Asks at most once per `auto_every` per run, so
        an idle worker polling its queue does not ask Stash for the settings every time."""
        checked = self._auto_checked_at
        if checked is not None and now - checked < self.policy.auto_every:
            return False
        self._auto_checked_at = now
        try:
            config = self.services.config
        except CLASSIFIED:  # settings unreadable: no automatic import this time
            return False
        if not (config.configured and config.import_activity):
            return False
        last = float(self.store.get_meta(ledger_mod.AUTO_AT) or 0)
        if now - last < self.policy.auto_every or self.store.scan(KEY) is not None:
            return False
        self.store.set_meta(ledger_mod.AUTO_AT, str(now))
        return True

    def step(self, tally: Counter) -> bool:
        """One page of the import; True when it has finished."""
        plex = self.services.connect().plex
        ledger = ActivityLedger(self.store, plex.info.machine_identifier)
        self._settle_pending(ledger, tally)
        accounts = self.accounts(plex)
        scan = self._progress(ledger, accounts)
        only = next(iter(accounts)) if len(accounts) == 1 else None
        start = scan["done"]
        page = history_page(plex, scan["after_id"], start, self.policy.page, only)
        self._check(start, page)
        now = self.clock()
        views, future = self._taken(page.views, accounts, now)
        with self.store.transaction():  # the views' fate and the cursor, in one commit
            self._record(ledger, views, tally)
            for view in future:
                ledger.record(view, None, FUTURE, now)
            ledger.record_unreadable(page.unreadable, now)
            newest = max((v.viewed_at for v in views), default=0)
            ledger.advance("newest", min(newest, int(now)))
            done = start + page.read
            self.store.save_scan(KEY, scan["after_id"], page.total, done, scan["started_at"])
        tally["views_future"] += len(future)
        tally["views_unreadable"] += len(page.unreadable)
        self._settle_pending(ledger, tally)
        if done >= self.policy.max_views and done < page.total:
            log.warning(
                "read %d entries of Plex's watch history, the most one import reads; "
                "the next import goes on from the newest view taken",
                done,
            )
        elif done < page.total and page.read >= self.policy.page:
            return False
        self._finish(ledger, accounts, scan["started_at"], tally)
        return True

    def _check(self, start: int, page) -> None:
        """Stop on a page that cannot be right: an absurd total, or the page before again."""
        before, seen = self._last_page
        check_page("watch history", start, page.total, page.keys, seen if start > before else ())
        self._last_page = (start, set(page.keys))

    def _taken(self, views, accounts: frozenset[int], now: float):
        """The page's views of the accounts and libraries imported: those dated up to now (and
        the margin), and those dated later (a wrong clock: skipped, looked at again)."""
        synced = {section.key for section in self.services.connect().sections}
        latest = now + self.policy.future_margin
        ours = [v for v in views if v.account_id in accounts and v.section in synced]
        return [v for v in ours if v.viewed_at <= latest], [v for v in ours if v.viewed_at > latest]

    def accounts(self, plex) -> frozenset[int]:
        if self._accounts is None:
            self._accounts = resolve_accounts(self.services.config.activity_accounts, plex)
        return self._accounts

    def _progress(self, ledger: ActivityLedger, accounts: frozenset[int]):
        scan = self.store.scan(KEY)
        if scan is None:
            # an account named since the last import has no cursor yet: its whole history
            started = self.clock()
            newest = min(ledger.cursor(f"newest:{a}") for a in accounts)
            newest = min(newest, int(started))  # a cursor an older release moved past now
            since = max(0, newest - int(self.policy.late_views))
            with self.store.transaction():
                self.store.save_scan(KEY, since, 0, 0, started)
                self._remap(ledger, started)
            scan = self.store.scan(KEY)
        return scan

    def _record(self, ledger: ActivityLedger, views, tally: Counter) -> None:
        """Write what each new view becomes; views seen before are left alone."""
        known = ledger.known([v.history_key for v in views]) if views else set()
        now = self.clock()
        for view in views:
            if view.history_key in known:
                continue
            known.add(view.history_key)
            scene_id = ledger.scene_of(view.rating_key) if view.rating_key else None
            if scene_id is None:
                state = UNMAPPED
                tally["views_unmapped"] += 1
            elif ledger.same_view(scene_id, view.account_id, view.viewed_at):
                state = DUPLICATE
            else:
                state = PENDING
            ledger.record(view, scene_id, state, now)

    def _remap(self, ledger: ActivityLedger, now: float) -> None:
        """Views skipped as unmapped whose scene PlexSync has synced since are imported now
        (say the import ran before the first Sync all), unless already known by meaning."""
        for scene_id, account_id, viewed_at, history_key in ledger.remappable():
            seen = ledger.same_view(scene_id, account_id, viewed_at)
            ledger.restate(history_key, scene_id, DUPLICATE if seen else PENDING, now)

    def _settle_pending(self, ledger: ActivityLedger, tally: Counter) -> None:
        """Add the plays of pending views that Stash does not have yet, then mark them done."""
        pending = ledger.pending()
        if not pending:
            return
        stash = self.services.stash
        states = play_states(stash, list(pending))
        plays: dict[int, list[int]] = {}
        for scene_id, wanted in pending.items():
            if scene_id not in states:
                continue
            ours, theirs = ledger.ours(scene_id), states[scene_id].plays
            plays[scene_id] = [
                t for t, n in sorted(wanted.items()) for _ in range(min(n, ours[t] - theirs[t]))
            ]
        add_plays(stash, plays)
        with self.store.transaction():
            imported = ledger.settle(list(plays), DONE)
            ledger.settle([s for s in pending if s not in states], GONE)
        tally["views_imported"] += imported
        added = sum(len(t) for t in plays.values())
        log.info("imported %d view(s) from Plex (%d play(s) added in Stash)", imported, added)

    def _finish(self, ledger: ActivityLedger, accounts, started: float, tally: Counter) -> None:
        resumed = self._resume(ledger) if OWNER_ACCOUNT in accounts else 0
        tally["resume_points"] += resumed
        counted = ledger.counted_since(started)
        result = {
            "at": _iso(self.clock()),
            "views_imported": counted[DONE],
            "views_unmapped": counted[UNMAPPED],
            "views_future": counted[FUTURE],
            "views_unreadable": counted[UNREADABLE],
            "resume_points": resumed,
            "seconds": round(self.clock() - started, 1),
        }
        with self.store.transaction():
            newest = min(ledger.cursor("newest"), int(self.clock()))
            for account in accounts:  # the pass read every view of theirs up to the newest
                ledger.advance(f"newest:{account}", newest)
            self.store.end_scan(KEY)
            ledger_mod.save_last_run(self.store, result)
            self.store.set_meta(ledger_mod.AUTO_AT, str(self.clock()))  # any import counts
        log.info(
            "watch activity imported: %d view(s), %d skipped (item not synced), %d resume point(s)",
            result["views_imported"],
            result["views_unmapped"],
            resumed,
        )
        if result["views_future"] or result["views_unreadable"]:
            log.warning(
                "Plex's history had %d view(s) dated in the future (is Plex's clock right?) and "
                "%d entry(ies) that hold no view; they were skipped",
                result["views_future"],
                result["views_unreadable"],
            )

    def _resume(self, ledger: ActivityLedger) -> int:
        """Bring over the owner's resume points that are newer than Stash's last play."""
        newest, seen = self._newest_points(ledger)
        states = play_states(self.services.stash, list(newest))
        changes = {}
        for scene_id, point in newest.items():
            state = states.get(scene_id)
            if state is None or point.last_viewed_at < state.last_played_at:
                continue  # watched in Stash since: Stash's resume point is the newer one
            target = point.offset_ms / 1000  # 0: Plex counts it finished, no stale point
            if abs(target - state.resume_time) >= 1:
                changes[scene_id] = target
        save_resume(self.services.stash, changes)
        ledger.advance("resumed", seen)  # only once Stash has them
        return len(changes)

    def _newest_points(self, ledger: ActivityLedger) -> tuple[dict, int]:
        """Per synced scene, the newest resume point of its items viewed since the last look."""
        now = self.clock()
        since = min(ledger.cursor("resumed"), int(now))  # never past now, whoever moved it
        latest = now + self.policy.future_margin
        link = self.services.connect()
        plex = link.plex
        newest: dict = {}
        seen = since
        for section in link.sections:
            for point in resume_points(plex, section.key, since):
                if point.last_viewed_at > latest:
                    continue  # a wrong clock: a point from the future is no point
                seen = max(seen, min(point.last_viewed_at, int(now)))
                scene_id = ledger.scene_of(point.rating_key)
                if scene_id is None:
                    continue
                old = newest.get(scene_id)
                if old is None or point.last_viewed_at > old.last_viewed_at:
                    newest[scene_id] = point
        return newest, seen


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp).isoformat(timespec="seconds")
