"""A fake Plex Media Server for tests: a real HTTP server that answers as PMS does.

Capabilities
------------
* A real HTTP/1.1 keep-alive server (ThreadingHTTPServer, daemon threads) on 127.0.0.1, ephemeral
  port, background thread: ``with FakePlex() as plex:`` or ``FakePlex().start()`` / ``.stop()``.
* XML bodies with the attribute names of real PMS captures (tests/test_fake_plex.py compares them
  with ../shared/plex-reference). No JSON: ``Accept: application/json`` is ignored.
* ``X-Plex-Token`` from the header or the query; wrong or missing → 401 with Plex's HTML body.
  ``GET /identity`` needs no token, as in PMS. ``token`` may be changed at any time.
* ``GET /``, ``/identity``, ``/library``, ``/library/sections`` (and ``/library/sections/all``),
  ``/library/sections/{id}``.
* ``GET /library/sections/{id}/all``: ``Video`` elements (``subtype="clip"`` in agent-none "Other
  Videos" sections) with Media/Part children and tag lists cut to ``listing_tag_limits``; show and
  artist sections answer ``Directory`` elements. The container always has size/totalSize/offset.
  Paging by ``X-Plex-Container-Start/Size`` in headers or query (query wins). Filters: ``type``,
  ``title`` (contains), ``file`` (like Plex: case-insensitive and a superset: every item with a
  part under the given path's directory), ``addedAt>>``/``updatedAt>>`` (and ``<<``; epoch or
  relative ``-5m``; strict; only while ``honour_time_filters``), ``sort`` (titleSort by default,
  title, addedAt, updatedAt, id, ``:desc``). Title order means an edit can move an item to
  another page, as in PMS. There is no ``Meta``: plexapi's validated ``search(**filters)`` and
  ``sort=`` do not work; pass raw keys (``fetchItems("/library/sections/1/all?...")``).
* ``GET /library/metadata/{rk}[,rk...]``: full tag lists with ids and ``<Field locked="1">``; 404
  when none is known.
* ``PUT /library/sections/{id}/all?type=1&id=...`` in plexapi's syntax: ``x.value`` (empty
  clears), ``x.locked`` (1/0; a value alone does not lock), indexed ``genre[0].tag.tag`` lists that
  replace the whole list, ``genre[].tag.tag-`` removals (comma-separated, each percent-encoded),
  ``genre[].tag`` (clears). Tag kinds genre, actor, label, collection; other kinds are ignored;
  other ``x.value`` fields (tagline, contentRating...) are kept as attributes. Every edit bumps
  updatedAt. Without ``id`` the edit hits EVERY item of the section, as PMS documents; an id that
  is not in that section counts as unknown.
* ``POST /library/metadata/{rk}/posters``: body bytes (``poster``, ``poster_uploads``) or
  ``?url=`` (only recorded in ``poster_url``); either locks "thumb" and changes ``thumb``.
  ``GET /library/metadata/{rk}/thumb/{n}`` serves the bytes.
* ``PUT /:/rate`` (userRating; -1 clears); ``DELETE /library/metadata/{rk}``; ``/:/timeline``
  (a player's report: ``ratingKey``, ``time`` sets the owner's ``viewOffset``).
* Capacity (fake_plex_capacity.py, off by default): ``capacity = Capacity(write=, poster=)``
  makes writes take turns at one database writer; ``load`` records the writer's busy time, the
  most writes waiting, and each client's requests in flight.
* ``GET|POST /library/sections/{id|all}/refresh?path=`` is recorded in ``scans`` and calls
  ``on_scan(section_key, path)`` if set (to make a scan "find" files); ``PUT
  /library/metadata/{rk}/refresh`` is recorded in ``metadata_refreshes`` and runs agent_refresh.
* State: add_section, sections, add_item, item, items, find_by_file (exact path), remove_item,
  set_field (a hand edit), rebuild_library, agent_refresh. item()/items() return copies.
  ``clock`` (default time.time) gives addedAt/updatedAt.
* Switches for what is not verified against a real PMS: ``honour_time_filters``,
  ``unknown_id_edit_status``, ``listing_tag_limits``, ``empty_tag_removal_clears`` (default: an
  empty ``genre[].tag.tag-`` removes nothing), ``agent_refresh_keeps_locked_tags``.
* Faults (fake_plex_faults.py): ``fail(kind, count=, seconds=, path_prefix=, method=, delay=)``
  with a status or "slow_headers", "slow_body", "reset", "cut", "close", "html", "empty";
  ``down()``/``up()`` (refused, then the same port again); ``clear_faults()``; ``latency``.
* Watch history and accounts (fake_plex_history.py): ``GET /status/sessions/history/all``
  (paging, ``viewedAt>=``/``>>=``, accountID, librarySectionID, metadataItemID, sort) and
  ``GET /accounts``; ``add_account``, ``add_view``, ``set_progress``, ``renumber_history``. Items
  carry the owner's ``viewOffset``/``lastViewedAt``/``viewCount`` (fields ``viewOffset`` and
  ``lastViewedAt`` of add_item), and listings filter ``lastViewedAt>>``/``<<`` like addedAt.
* Log: ``requests`` (RequestRecord), ``count(method, path_prefix)``, ``writes`` (PUT/POST/DELETE
  received), ``reset_log()``; ``errors`` holds tracebacks of requests the fake itself failed
  (answered 500), so a test can assert it stayed empty.
"""

from __future__ import annotations

import contextlib
import copy
import re
import socket
import threading
import time
import traceback
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, parse_qsl, unquote, urlsplit

from .fake_plex_capacity import Capacity, ServerLoad
from .fake_plex_faults import (
    NOT_PLEX_HTML,
    PARTIAL_BODY_KINDS,
    Fault,
    FaultList,
    error_body,
    reason,
    send_huge,
    send_partial,
    send_trickle,
    with_entities,
)
from .fake_plex_history import HistoryState
from .served import FakeServer, Served

XML_TYPE = "text/xml;charset=utf-8"
SECTION_TYPES = {"movie": 1, "show": 2, "artist": 8}
SCANNERS = {
    "tv.plex.agents.movie": "Plex Movie",
    "tv.plex.agents.none": "Plex Video Files Scanner",
    "tv.plex.agents.series": "Plex TV Series",
    "tv.plex.agents.music": "Plex Music",
}
# Plex edit name -> (FakeItem attribute, XML element, filter name)
TAGS = {
    "genre": ("genres", "Genre", "genre"),
    "actor": ("actors", "Role", "actor"),
    "label": ("labels", "Label", "label"),
    "collection": ("collections", "Collection", "collection"),
}
SCALARS = {
    "title": "title",
    "titleSort": "title_sort",
    "summary": "summary",
    "studio": "studio",
    "originallyAvailableAt": "originally_available_at",
}
ITEM_FIELDS = {
    "summary": "summary",
    "studio": "studio",
    "originallyAvailableAt": "originally_available_at",
    "titleSort": "title_sort",
    "genres": "genres",
    "actors": "actors",
    "labels": "labels",
    "collections": "collections",
    "userRating": "user_rating",
    "addedAt": "added_at",
    "updatedAt": "updated_at",
    "poster": "poster",
    "viewOffset": "view_offset",
    "lastViewedAt": "last_viewed_at",
}
ROOT_ATTRS = (
    "size=2 allowCameraUpload=1 allowMediaDeletion=1 allowSync=1 multiuser=1 myPlex=1"
    " myPlexSigninState=ok myPlexUsername=fake@example.com platform=Linux platformVersion=6.1.0"
    " transcoderActiveVideoSessions=0"
)
LIBRARY_ATTRS = (
    "allowSync=0 art=/:/resources/library-art.jpg identifier=com.plexapp.plugins.library"
    " mediaTagPrefix=/system/bundle/media/flags/ mediaTagVersion=1700000000"
)
SECTION_ATTRS = "allowSync=1 filters=1 refreshing=0 content=1 directory=1 hidden=0"
MEDIA_ATTRS = (
    "bitrate=8000 width=1920 height=1080 aspectRatio=1.78 audioChannels=2 audioCodec=aac"
    " videoCodec=h264 videoResolution=1080 videoFrameRate=24p videoProfile=high"
)
_TIME_FILTER = re.compile(r"^(addedAt|updatedAt|lastViewedAt)(>>|<<)=?$")
_FILTER_ATTRS = {"addedAt": "added_at", "updatedAt": "updated_at", "lastViewedAt": "last_viewed_at"}
_RELATIVE = re.compile(r"^-(\d+)([smhdw])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


@dataclass
class FakeSection:
    key: str
    title: str
    kind: str
    agent: str
    locations: list[str]
    uuid: str
    created_at: int


@dataclass
class FakeItem:
    rating_key: str
    section: str
    title: str
    summary: str = ""
    studio: str = ""
    originally_available_at: str | None = None
    genres: list[str] = field(default_factory=list)
    actors: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    collections: list[str] = field(default_factory=list)
    user_rating: float | None = None
    locked: set[str] = field(default_factory=set)
    poster: bytes | None = None
    poster_uploads: int = 0
    added_at: int = 0
    updated_at: int = 0
    media: list[list[tuple[str, int]]] = field(default_factory=list)
    title_sort: str = ""
    poster_url: str | None = None
    thumb_version: int = 0
    other_fields: dict[str, str] = field(default_factory=dict)  # other `x.value` edits
    media_ids: list[int] = field(default_factory=list)
    part_ids: list[list[int]] = field(default_factory=list)
    view_offset: int | None = None  # the owner's (the token's account) resume point, ms
    last_viewed_at: int | None = None
    view_count: int = 0

    @property
    def files(self) -> list[str]:
        return [path for parts in self.media for path, _ in parts]


@dataclass
class RequestRecord:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body_length: int
    time: float
    status: int = 0  # 0: no HTTP status was sent (connection fault, client gone)
    fault: str | None = None


@dataclass
class ScanRecord:
    section: str
    path: str | None
    time: float


class _HTTPError(Exception):
    def __init__(self, status: int):
        super().__init__(status)
        self.status = status


def _el(name: str, static: str = "", parent: ET.Element | None = None, /, **attrs) -> ET.Element:
    """An XML element: `static` holds fixed "name=value" attributes; None values are left out."""
    values = dict(kv.split("=", 1) for kv in static.split())
    values.update({k: str(v) for k, v in attrs.items() if v is not None})
    return ET.Element(name, values) if parent is None else ET.SubElement(parent, name, values)


def _number(value, kind=int):
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise _HTTPError(400) from None


def _basename_title(path: str) -> str:
    name = re.split(r"[\\/]", path)[-1]
    return name.rsplit(".", 1)[0] if "." in name else name


def _directory(path: str) -> str:
    cut = max(path.rfind("/"), path.rfind("\\"))
    return path[: cut + 1] if cut >= 0 else ""


def _ext(path: str) -> str:
    name = re.split(r"[\\/]", path)[-1]
    return name.rsplit(".", 1)[-1].lower() if "." in name else "mkv"


class FakePlex(HistoryState, Served):
    _el = staticmethod(_el)  # for the mixin

    def __init__(
        self,
        token: str = "plex-test-token",
        machine_identifier: str = "fake-machine-1",
        friendly_name: str = "Fake Plex",
        version: str = "1.41.0.0",
    ):
        self.token = token
        self.machine_identifier = machine_identifier
        self.friendly_name = friendly_name
        self.version = version
        self.latency = 0.0
        self.capacity: Capacity | None = None  # None: every request is answered at once
        self.honour_time_filters = True
        self.unknown_id_edit_status = 200
        self.listing_tag_limits: dict[str, int | None] = {
            "Genre": 2,
            "Role": 3,
            "Director": 1,
            "Collection": None,
            "Label": None,
        }
        self.empty_tag_removal_clears = False
        self.agent_refresh_keeps_locked_tags = True
        self.on_scan: Callable[[str, str | None], None] | None = None
        self.clock: Callable[[], float] = time.time
        self.requests: list[RequestRecord] = []
        self.scans: list[ScanRecord] = []
        self.metadata_refreshes: list[str] = []
        self.errors: list[str] = []  # tracebacks of requests the fake could not answer (500)
        self.port = 0
        self._sections: dict[str, FakeSection] = {}
        self._items: dict[str, FakeItem] = {}
        self._tag_ids: dict[tuple[str, str], int] = {}
        self._next_rk = 101
        self._next_media = 20001
        self._next_part = 40001
        self._lock = threading.RLock()
        self._faults = FaultList()
        self._stopping = threading.Event()
        self.load = ServerLoad(self._sleep)
        self._init_history()

    # ---- lifecycle -------------------------------------------------------------------------

    # start, url, down, up, stop, `with`: tests/rig/served.py

    @property
    def handler(self) -> type[BaseHTTPRequestHandler]:
        return _Handler

    def start(self) -> FakePlex:
        self._stopping.clear()
        return super().start()

    def stop(self) -> None:
        self._stopping.set()  # a request sleeping out its latency returns now
        super().stop()

    def _sleep(self, seconds: float) -> None:
        if seconds > 0:
            self._stopping.wait(seconds)

    def _now(self) -> int:
        return int(self.clock())

    # ---- faults and log --------------------------------------------------------------------

    def fail(
        self,
        kind,
        count=None,
        seconds=None,
        path_prefix=None,
        method=None,
        delay=3.0,
        size=0,
        location="",
        retry_after=None,
    ):
        """Arm a fault (see fake_plex_faults); returns it (its `hits` count its answers)."""
        until = None if seconds is None else time.monotonic() + seconds
        fault = Fault(kind, count, until, path_prefix, method, delay, size, location, retry_after)
        return self._faults.add(fault)

    def clear_faults(self) -> None:
        self._faults.clear()

    def count(self, method: str | None = None, path_prefix: str | None = None) -> int:
        with self._lock:
            return sum(
                1
                for r in self.requests
                if (method is None or r.method == method.upper())
                and (path_prefix is None or r.path.startswith(path_prefix))
            )

    @property
    def writes(self) -> int:
        with self._lock:
            return sum(1 for r in self.requests if r.method in ("PUT", "POST", "DELETE"))

    def reset_log(self) -> None:
        """Forget the request log, the scans and the metadata refreshes."""
        with self._lock:
            self.requests.clear()
            self.scans.clear()
            self.metadata_refreshes.clear()

    # ---- state -----------------------------------------------------------------------------

    def add_section(
        self, title, kind="movie", agent="tv.plex.agents.movie", key=None, locations=None
    ) -> str:
        if kind not in SECTION_TYPES:
            raise ValueError(f"unknown section kind {kind!r}")
        with self._lock:
            if key is None:
                key = str(len(self._sections) + 1)
                while key in self._sections:
                    key = str(int(key) + 1)
            elif str(key) in self._sections:
                raise ValueError(f"section {key} exists")
            key = str(key)
            self._sections[key] = FakeSection(
                key=key,
                title=title,
                kind=kind,
                agent=agent,
                locations=list(locations or [f"/data/{title}"]),
                uuid=str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self.machine_identifier}/{key}")),
                created_at=self._now(),
            )
            return key

    def sections(self) -> list[FakeSection]:
        with self._lock:
            return copy.deepcopy(list(self._sections.values()))

    def add_item(self, section, title, files=None, media=None, locked=(), **fields) -> str:
        """Add an item. `files=[(path, size), ...]`: one Media per file; `media=[[(path, size),
        ...], ...]`: one Media per inner list (stacked parts). A bare path means size 1e6.
        `locked`: Plex field names to lock. Fields: see ITEM_FIELDS."""
        unknown = set(fields) - set(ITEM_FIELDS)
        if unknown:
            raise TypeError(f"unknown item fields: {sorted(unknown)}")
        groups = [[f] for f in files or []] + [list(m) for m in media or []]
        groups = [
            [(p, 1_000_000) if isinstance(p, str) else (p[0], int(p[1])) for p in g] for g in groups
        ]
        with self._lock:
            sec = self._section(section)
            now = self._now()
            item = FakeItem(
                rating_key=str(self._next_rk),
                section=sec.key,
                title=title,
                added_at=now,
                updated_at=now,
                media=groups,
            )
            self._next_rk += 1
            for name, value in fields.items():
                if isinstance(value, (list, tuple)):
                    value = list(value)
                setattr(item, ITEM_FIELDS[name], value)
            if "addedAt" in fields and "updatedAt" not in fields:
                item.updated_at = item.added_at
            if item.poster is not None:
                item.thumb_version = item.updated_at
            item.locked = set(locked)
            self._assign_media_ids(item)
            self._items[item.rating_key] = item
            return item.rating_key

    def item(self, rating_key) -> FakeItem:
        with self._lock:
            return copy.deepcopy(self._item(rating_key))

    def items(self, section=None) -> list[FakeItem]:
        with self._lock:
            key = None if section is None else self._section(section).key
            found = [i for i in self._items.values() if key is None or i.section == key]
            return copy.deepcopy(found)

    def find_by_file(self, path: str) -> FakeItem | None:
        with self._lock:
            for item in self._items.values():
                if path in item.files:
                    return copy.deepcopy(item)
        return None

    def remove_item(self, rating_key) -> None:
        with self._lock:
            self._items.pop(str(rating_key))

    def set_field(self, rating_key, field, value, locked=False) -> None:
        """A hand edit in Plex: set a field (Plex name; tags take a list) and lock or unlock it."""
        with self._lock:
            item = self._item(rating_key)
            if field in TAGS:
                setattr(item, TAGS[field][0], list(value))
            elif field in SCALARS:
                setattr(item, SCALARS[field], value)
            else:
                item.other_fields[field] = value
            (item.locked.add if locked else item.locked.discard)(field)
            item.updated_at = self._now()

    def rebuild_library(self) -> None:
        """As if Plex's database were rebuilt: new ratingKeys, agent metadata only."""
        with self._lock:
            old, self._items = list(self._items.values()), {}
            now = self._now()
            for item in sorted(old, key=lambda i: int(i.rating_key)):
                new = FakeItem(
                    rating_key=str(self._next_rk),
                    section=item.section,
                    title=_basename_title(item.files[0]) if item.files else "",
                    added_at=now,
                    updated_at=now,
                    media=item.media,
                    # Plex keeps watch state by guid: it survives the rebuild, as history does
                    view_offset=item.view_offset,
                    last_viewed_at=item.last_viewed_at,
                    view_count=item.view_count,
                )
                self._next_rk += 1
                self._assign_media_ids(new)
                self._items[new.rating_key] = new

    def agent_refresh(self, rating_key) -> None:
        """What Plex's agent does on a metadata refresh: unlocked fields revert."""
        with self._lock:
            item = self._item(rating_key)
            agent = {
                "title": _basename_title(item.files[0]) if item.files else "",
                "titleSort": "",
                "summary": "",
                "studio": "",
                "originallyAvailableAt": None,
            }
            for name, value in agent.items():
                if name not in item.locked:
                    setattr(item, SCALARS[name], value)
            for name, (attr, _, _) in TAGS.items():
                if name not in item.locked or not self.agent_refresh_keeps_locked_tags:
                    setattr(item, attr, [])
            for name in list(item.other_fields):
                if name not in item.locked:
                    del item.other_fields[name]
            item.updated_at = self._now()

    def _section(self, section) -> FakeSection:
        key = str(section)
        if key in self._sections:
            return self._sections[key]
        for sec in self._sections.values():
            if sec.title == section:
                return sec
        raise KeyError(f"no section {section!r}")

    def _item(self, rating_key) -> FakeItem:
        try:
            return self._items[str(rating_key)]
        except KeyError:
            raise KeyError(f"no item {rating_key!r}") from None

    def _assign_media_ids(self, item: FakeItem) -> None:
        item.media_ids, item.part_ids = [], []
        for parts in item.media:
            item.media_ids.append(self._next_media)
            self._next_media += 1
            item.part_ids.append(list(range(self._next_part, self._next_part + len(parts))))
            self._next_part += len(parts)

    def _tag_id(self, kind: str, tag: str) -> int:
        return self._tag_ids.setdefault((kind, tag), 1000 + len(self._tag_ids))

    # ---- request handling ------------------------------------------------------------------

    def _respond(self, method, path, pairs, headers, body) -> tuple[int, bytes, str]:
        """Answer one request (token already checked): (status, body, content type)."""
        try:
            with self._lock:
                matches = [(m, r) for r in _ROUTES if (m := re.fullmatch(r[1], path))]
                if not matches:
                    raise _HTTPError(404)
                found = [(m, r) for m, r in matches if method in r[0].split()]
                if not found:
                    raise _HTTPError(405)
                m, (_, _, handler) = found[0]
                root = handler(self, pairs, headers, body, **m.groupdict())
            if isinstance(root, tuple):
                return root
            if root is None:
                return 200, b"", XML_TYPE
            xml = ET.tostring(root, encoding="unicode")
            return 200, f'<?xml version="1.0" encoding="UTF-8"?>\n{xml}\n'.encode(), XML_TYPE
        except _HTTPError as e:
            return (e.status, *error_body(e.status))
        except Exception:  # a bug in the fake or a request it cannot parse: 500, and keep it
            self.errors.append(f"{method} {path}\n{traceback.format_exc()}")
            return (500, *error_body(500))

    # GET / and friends

    def _get_root(self, q, h, b):
        root = _el(
            "MediaContainer",
            ROOT_ATTRS,
            friendlyName=self.friendly_name,
            machineIdentifier=self.machine_identifier,
            updatedAt=self._now(),
            version=self.version,
        )
        for key in ("library", "system"):
            _el("Directory", "count=1", root, key=key, title=key)
        return root

    def _get_identity(self, q, h, b):
        return _el(
            "MediaContainer",
            "size=0 claimed=1",
            machineIdentifier=self.machine_identifier,
            version=self.version,
        )

    def _get_library(self, q, h, b):
        root = _el("MediaContainer", LIBRARY_ATTRS, size=3, title1="Plex Library")
        for key in ("sections", "recentlyAdded", "onDeck"):
            _el("Directory", "", root, key=key, title=key)
        return root

    def _get_sections(self, q, h, b):
        root = _el("MediaContainer", "allowSync=0", size=len(self._sections), title1="Plex Library")
        for s in self._sections.values():
            d = _el(
                "Directory",
                SECTION_ATTRS,
                root,
                art=f"/:/resources/{s.kind}-fanart.jpg",
                composite=f"/library/sections/{s.key}/composite/{s.created_at}",
                thumb=f"/:/resources/{s.kind}.png",
                key=s.key,
                type=s.kind,
                title=s.title,
                agent=s.agent,
                scanner=SCANNERS.get(s.agent, "Plex Movie"),
                language="xn" if s.agent.endswith(".none") else "en-US",
                uuid=s.uuid,
                updatedAt=s.created_at,
                createdAt=s.created_at,
                scannedAt=s.created_at,
            )
            for n, path in enumerate(s.locations, start=1):
                _el("Location", "", d, id=f"{s.key}{n:02d}", path=path)
        return root

    def _get_section(self, q, h, b, sid):
        if sid == "all":
            return self._get_sections(q, h, b)
        sec = self._section_or_404(sid)
        root = _el(
            "MediaContainer",
            LIBRARY_ATTRS + " content=secondary viewGroup=secondary",
            size=2,
            librarySectionID=sec.key,
            title1=sec.title,
        )
        for key in ("all", "recentlyAdded", "folder"):
            _el("Directory", "", root, key=key, title=key)
        return root

    def _section_or_404(self, sid) -> FakeSection:
        if sid not in self._sections:
            raise _HTTPError(404)
        return self._sections[sid]

    # listing

    def _get_section_all(self, q, h, b, sid):
        sec = self._section_or_404(sid)
        params = dict(q)
        found = [i for i in self._items.values() if i.section == sec.key]
        if params.get("type") and params["type"] != str(SECTION_TYPES[sec.kind]):
            found = []
        if params.get("title"):
            found = [i for i in found if params["title"].lower() in i.title.lower()]
        if "file" in params:  # Plex: case-insensitive, every item under the file's directory
            prefix = _directory(params["file"]).lower()
            found = [i for i in found if any(f.lower().startswith(prefix) for f in i.files)]
        for key, value in q:
            m = _TIME_FILTER.match(key)
            if m and self.honour_time_filters:
                attr = _FILTER_ATTRS[m.group(1)]
                limit = self._epoch(value.lstrip("="))
                sign = 1 if m.group(2) == ">>" else -1
                found = [i for i in found if sign * ((getattr(i, attr) or 0) - limit) > 0]
        found = self._sort(found, params.get("sort", ""))
        start = _number(params.get("X-Plex-Container-Start", h.get("X-Plex-Container-Start", 0)))
        size = params.get("X-Plex-Container-Size", h.get("X-Plex-Container-Size"))
        page = found[start:] if size is None else found[start : start + _number(size)]
        root = _el(
            "MediaContainer",
            LIBRARY_ATTRS + " allowSync=1 viewMode=65592",
            size=len(page),
            totalSize=len(found),
            offset=start,
            art=f"/:/resources/{sec.kind}-fanart.jpg",
            librarySectionID=sec.key,
            librarySectionTitle=sec.title,
            librarySectionUUID=sec.uuid,
            thumb=f"/:/resources/{sec.kind}.png",
            title1=sec.title,
            title2=f"All {sec.title}",
            viewGroup=sec.kind,
        )
        for item in page:
            root.append(self._item_element(item, sec, full=False))
        return root

    def _epoch(self, value: str) -> int:
        m = _RELATIVE.match(value)
        if m:
            return self._now() - int(m.group(1)) * _UNITS[m.group(2)]
        try:
            return int(float(value))
        except ValueError:
            raise _HTTPError(400) from None

    @staticmethod
    def _sort(found: list[FakeItem], sort: str) -> list[FakeItem]:
        name, _, direction = sort.split(",")[0].split(".")[-1].partition(":")
        keys = {
            "addedAt": lambda i: (i.added_at, int(i.rating_key)),
            "updatedAt": lambda i: (i.updated_at, int(i.rating_key)),
            "title": lambda i: (i.title.lower(), int(i.rating_key)),
            "id": lambda i: int(i.rating_key),
            "ratingKey": lambda i: int(i.rating_key),
        }
        key = keys.get(name, lambda i: ((i.title_sort or i.title).lower(), int(i.rating_key)))
        return sorted(found, key=key, reverse=direction == "desc")

    def _item_element(self, item: FakeItem, sec: FakeSection, full: bool) -> ET.Element:
        rk = item.rating_key
        if sec.kind != "movie":
            return _el(
                "Directory",
                "",
                ratingKey=rk,
                key=f"/library/metadata/{rk}/children",
                type=sec.kind,
                title=item.title,
                summary=item.summary,
                addedAt=item.added_at,
                updatedAt=item.updated_at,
            )
        none_agent = sec.agent.endswith(".none")
        date = item.originally_available_at or None
        durations = [[max(1000, size // 1000) for _, size in parts] for parts in item.media]
        video = _el(
            "Video",
            "",
            ratingKey=rk,
            key=f"/library/metadata/{rk}",
            guid=f"local://{rk}" if none_agent else f"plex://movie/{int(rk) * 7919:024x}",
            studio=item.studio or None,
            type="movie",
            subtype="clip" if none_agent else None,
            title=item.title,
            titleSort=item.title_sort or None,
            librarySectionTitle=sec.title if full else None,
            librarySectionID=sec.key if full else None,
            librarySectionKey=f"/library/sections/{sec.key}" if full else None,
            summary=item.summary,
            userRating=None if item.user_rating is None else f"{item.user_rating:g}",
            year=int(date[:4]) if date and date[:4].isdigit() else None,
            thumb=f"/library/metadata/{rk}/thumb/{item.thumb_version}"
            if item.poster is not None or item.poster_url
            else None,
            duration=sum(durations[0]) if durations else None,
            originallyAvailableAt=date,
            addedAt=item.added_at,
            updatedAt=item.updated_at,
            viewOffset=item.view_offset,
            lastViewedAt=item.last_viewed_at,
            viewCount=item.view_count or None,
        )
        for name, value in item.other_fields.items():  # tagline, contentRating... never ratingKey
            if name not in video.attrib:
                video.set(name, value)
        parts_ids = zip(item.media, item.media_ids, item.part_ids, durations, strict=True)
        for parts, media_id, part_ids, durs in parts_ids:
            media = _el(
                "Media",
                MEDIA_ATTRS,
                video,
                id=media_id,
                duration=sum(durs),
                container=_ext(parts[0][0]),
            )
            for (path, size), part_id, dur in zip(parts, part_ids, durs, strict=True):
                _el(
                    "Part",
                    "videoProfile=high",
                    media,
                    id=part_id,
                    duration=dur,
                    file=path,
                    key=f"/library/parts/{part_id}/{item.added_at}/file.{_ext(path)}",
                    size=size,
                    container=_ext(path),
                )
        for kind, (attr, element, filter_name) in TAGS.items():
            tags = getattr(item, attr)
            limit = None if full else self.listing_tag_limits.get(element)
            for tag in tags if limit is None else tags[:limit]:
                if full:
                    tag_id = self._tag_id(kind, tag)
                    _el(element, "", video, id=tag_id, filter=f"{filter_name}={tag_id}", tag=tag)
                else:
                    _el(element, "", video, tag=tag)
        for name in sorted(item.locked) if full else ():
            _el("Field", "locked=1", video, name=name)
        return video

    # metadata

    def _get_metadata(self, q, h, b, ids):
        found = [self._items[k] for k in ids.split(",") if k in self._items]
        if not found:
            raise _HTTPError(404)
        sec = self._sections[found[0].section]
        root = _el(
            "MediaContainer",
            LIBRARY_ATTRS + " allowSync=1",
            size=len(found),
            librarySectionID=sec.key,
            librarySectionTitle=sec.title,
            librarySectionUUID=sec.uuid,
        )
        for item in found:
            root.append(self._item_element(item, self._sections[item.section], full=True))
        return root

    def _delete_metadata(self, q, h, b, ids):
        if ids not in self._items:
            raise _HTTPError(404)
        del self._items[ids]

    # edits

    def _put_edits(self, q, h, b, sid):
        sec = self._section_or_404(sid)
        ids = dict(q).get("id")
        if ids is None:  # PMS edits every item of the section when no id is given
            targets = [i for i in self._items.values() if i.section == sec.key]
        else:
            wanted = [k.strip() for k in ids.split(",") if k.strip()]
            targets = [
                self._items[k]
                for k in wanted
                if k in self._items and self._items[k].section == sec.key
            ]
            if len(targets) < len(wanted) and self.unknown_id_edit_status != 200:
                raise _HTTPError(self.unknown_id_edit_status)
        for item in targets:
            self._apply_edit(item, q)
        return None

    def _apply_edit(self, item: FakeItem, pairs: list[tuple[str, str]]) -> None:
        replaced: dict[str, dict[int, str]] = {}
        for key, value in pairs:
            if m := re.fullmatch(r"(\w+)\.value", key):
                name = m.group(1)
                if name in SCALARS:
                    attr = SCALARS[name]
                    setattr(
                        item, attr, value or (None if attr == "originally_available_at" else "")
                    )
                elif name == "addedAt":
                    item.added_at = _number(value)
                elif value:
                    item.other_fields[name] = value
                else:
                    item.other_fields.pop(name, None)
            elif m := re.fullmatch(r"(\w+)\.locked", key):
                (item.locked.add if value == "1" else item.locked.discard)(m.group(1))
            elif (m := re.fullmatch(r"(\w+)\[(\d+)\]\.tag\.tag", key)) and m.group(1) in TAGS:
                replaced.setdefault(m.group(1), {})[int(m.group(2))] = value
        for kind, indexed in replaced.items():
            tags = [v for _, v in sorted(indexed.items()) if v]
            setattr(item, TAGS[kind][0], list(dict.fromkeys(tags)))
        for key, value in pairs:
            if (m := re.fullmatch(r"(\w+)\[\]\.tag\.tag-", key)) and m.group(1) in TAGS:
                attr = TAGS[m.group(1)][0]
                if not value:
                    if self.empty_tag_removal_clears:
                        setattr(item, attr, [])
                    continue
                gone = {unquote(v) for v in value.split(",")}
                setattr(item, attr, [t for t in getattr(item, attr) if t not in gone])
            elif (m := re.fullmatch(r"(\w+)\[\]\.tag", key)) and m.group(1) in TAGS:
                setattr(item, TAGS[m.group(1)][0], [])
        item.updated_at = self._now()

    # posters, rating, refreshes

    def _post_poster(self, q, h, b, rk):
        item = self._items.get(rk) or self._raise(404)
        url = dict(q).get("url")
        if url:
            item.poster_url = url
        elif b:
            item.poster = b
            item.poster_uploads += 1
        else:
            raise _HTTPError(400)
        item.thumb_version = max(self._now(), item.thumb_version + 1)
        item.locked.add("thumb")
        item.updated_at = self._now()

    def _get_thumb(self, q, h, b, rk):
        item = self._items.get(rk) or self._raise(404)
        if item.poster is None:
            raise _HTTPError(404)
        return 200, item.poster, "image/jpeg"

    def _rate(self, q, h, b):
        params = dict(q)
        item = self._items.get(params.get("key", "")) or self._raise(404)
        rating = _number(params.get("rating", "-1"), float)
        item.user_rating = None if rating < 0 else rating

    def _timeline(self, q, h, b):
        """A player's report of where it is in an item (the owner's resume point)."""
        params = dict(q)
        item = self._items.get(params.get("ratingKey", "")) or self._raise(404)
        item.view_offset = _number(params.get("time", "0"))

    def _scan(self, q, h, b, sid):
        if sid != "all":
            self._section_or_404(sid)
        path = dict(q).get("path")
        self.scans.append(ScanRecord(sid, path, time.time()))
        if self.on_scan is not None:
            self.on_scan(sid, path)

    def _refresh_metadata(self, q, h, b, rk):
        if rk not in self._items:
            raise _HTTPError(404)
        self.metadata_refreshes.append(rk)
        self.agent_refresh(rk)

    @staticmethod
    def _raise(status: int):
        raise _HTTPError(status)


_SECTION = r"/library/sections/(?P<sid>[^/]+)"
_ITEM = r"/library/metadata/(?P<rk>\d+)"
_ROUTES: list[tuple[str, str, Callable]] = [
    ("GET HEAD", r"/", FakePlex._get_root),
    ("GET", r"/identity", FakePlex._get_identity),
    ("GET", r"/library/?", FakePlex._get_library),
    ("GET", r"/library/sections/?", FakePlex._get_sections),
    ("GET", _SECTION, FakePlex._get_section),
    ("GET", _SECTION + "/all", FakePlex._get_section_all),
    ("PUT", _SECTION + "/all", FakePlex._put_edits),
    ("GET POST PUT", _SECTION + "/refresh", FakePlex._scan),
    ("DELETE", _SECTION + "/refresh", lambda *args, **kw: None),  # cancel a scan
    ("GET", r"/library/metadata/(?P<ids>[\d,]+)", FakePlex._get_metadata),
    ("DELETE", _ITEM, FakePlex._delete_metadata),
    ("POST PUT", _ITEM + "/posters", FakePlex._post_poster),
    ("GET", _ITEM + r"/thumb(?:/\d+)?", FakePlex._get_thumb),
    ("PUT", _ITEM + "/refresh", FakePlex._refresh_metadata),
    ("PUT", r"/:/rate", FakePlex._rate),
    ("GET PUT POST", r"/:/timeline", FakePlex._timeline),
    ("GET", r"/status/sessions/history/all", FakePlex._get_history),
    ("GET", r"/accounts/?", FakePlex._get_accounts),
]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FakeServer

    def log_message(self, format, *args) -> None:  # noqa: A002 - silence the default stderr log
        pass

    def setup(self) -> None:
        super().setup()
        # Headers and body go out as two writes; without TCP_NODELAY (which real servers set)
        # Nagle's algorithm and the client's delayed ACK add ~40 ms to every response.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def finish(self) -> None:
        with contextlib.suppress(OSError):
            super().finish()

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        except (OSError, ValueError):  # the client went away, or a fault closed the socket
            self.close_connection = True

    def version_string(self) -> str:
        return f"PlexMediaServer/{self.server.fake.version}"

    def do_GET(self) -> None:
        fake = self.server.fake
        if fake.capacity is None:
            return self._dispatch()
        with fake.load.visit(self.headers.get("X-Plex-Client-Identifier", "")):
            self._dispatch()

    do_PUT = do_POST = do_DELETE = do_HEAD = do_GET

    def _dispatch(self) -> None:
        fake = self.server.fake
        split = urlsplit(self.path)
        path = unquote(split.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = self.headers  # case-insensitive, as Plex reads them
        record = RequestRecord(
            self.command,
            path,
            parse_qs(split.query, keep_blank_values=True),
            dict(headers.items()),
            len(body),
            time.time(),
        )
        with fake._lock:
            fake.requests.append(record)
        fake._sleep(fake.latency)
        fault = fake._faults.take(self.command, path)
        if fault is not None:
            record.fault = str(fault.kind)
            if isinstance(fault.kind, int):
                extra = [f"Location: {fault.location}"] if fault.location else []
                if fault.retry_after is not None:
                    extra.append(f"Retry-After: {fault.retry_after}")
                return self._send(record, fault.kind, *error_body(fault.kind), extra)
            if fault.kind == "close":
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            if fault.kind == "html":
                return self._send(record, 200, NOT_PLEX_HTML.encode(), "text/html")
            if fault.kind == "empty":
                return self._send(record, 200, b"", XML_TYPE)
            if fault.kind == "slow_headers":
                fake._sleep(fault.delay)
            if fault.kind == "huge":
                record.status = 200
                return send_huge(self, fault.size)
        pairs = parse_qsl(split.query, keep_blank_values=True)
        if fault is not None and fault.kind == "endless":  # page 1 again, "of 10^9"
            pairs = [(k, v) for k, v in pairs if k != "X-Plex-Container-Start"]
            headers = {k: v for k, v in headers.items() if k.lower() != "x-plex-container-start"}
        query_token = dict(pairs).get("X-Plex-Token")
        if path != "/identity" and fake.token not in (headers.get("X-Plex-Token"), query_token):
            status, data, ctype = 401, *error_body(401)
        else:
            capacity = fake.capacity
            hold = capacity.hold(self.command, path) if capacity is not None else 0.0
            if hold:
                fake.load.write(hold, headers.get("X-Plex-Client-Identifier", ""))
            status, data, ctype = fake._respond(self.command, path, pairs, headers, body)
        if fault is not None and fault.kind == "entities":
            data = with_entities(data)
        if fault is not None and fault.kind == "endless":
            data = re.sub(rb'totalSize="\d+"', b'totalSize="1000000000"', data)
        if fault is not None and fault.kind in PARTIAL_BODY_KINDS:
            record.status = status
            head = self._head(status, len(data), ctype)
            send_partial(self, fault, head, data, fake._sleep)
            return
        if fault is not None and fault.kind == "trickle":
            record.status = status
            head = self._head(status, len(data), ctype)
            send_trickle(self, head + data, fault.delay, fake._sleep, fake._stopping)
            return
        self._send(record, status, data, ctype)

    def _head(self, status: int, length: int, ctype: str, extra=()) -> bytes:
        lines = [
            f"HTTP/1.1 {status} {reason(status)}",
            f"Server: {self.version_string()}",
            f"Date: {self.date_time_string()}",
            f"Content-Type: {ctype}",
            f"Content-Length: {length}",
            "X-Plex-Protocol: 1.0",
            "Connection: Keep-Alive",
            "Keep-Alive: timeout=20",
            *extra,
        ]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def _send(self, record: RequestRecord, status: int, data: bytes, ctype: str, extra=()):
        record.status = status
        head = self._head(status, len(data), ctype, extra)
        self.wfile.write(head if self.command == "HEAD" else head + data)
        self.wfile.flush()
