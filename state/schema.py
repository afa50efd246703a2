"""The state file's tables, its schema version and the upgrades from older versions.

The file carries `schema_version` from the first release; `prepare` refuses a file from a
newer PlexSync before writing anything to it, and `migrate` is where later releases upgrade
an older data directory.
"""

from __future__ import annotations

import sqlite3

SCHEMA_VERSION = 2

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS delayed (
    job_key TEXT PRIMARY KEY, job TEXT NOT NULL, due_at REAL NOT NULL, attempts INTEGER,
    first_failed_at REAL, error_class TEXT, last_error TEXT);
CREATE INDEX IF NOT EXISTS delayed_due ON delayed(due_at);
CREATE TABLE IF NOT EXISTS failures (
    job_key TEXT PRIMARY KEY, attempts INTEGER NOT NULL, first_failed_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS dead_letter (
    job_key TEXT PRIMARY KEY, job TEXT NOT NULL, error_class TEXT, message TEXT,
    attempts INTEGER, first_failed_at REAL, last_failed_at REAL, token TEXT);
CREATE INDEX IF NOT EXISTS dead_letter_time ON dead_letter(last_failed_at);
CREATE TABLE IF NOT EXISTS sync_state (
    scene_id INTEGER, machine TEXT, rating_key TEXT, fingerprint TEXT, cover_key TEXT,
    synced_at REAL, PRIMARY KEY (scene_id, machine, rating_key));
CREATE INDEX IF NOT EXISTS sync_state_item ON sync_state(machine, rating_key);
CREATE TABLE IF NOT EXISTS scans (
    job_key TEXT PRIMARY KEY, after_id INTEGER, total INTEGER, done INTEGER, started_at REAL);
"""


def prepare(db: sqlite3.Connection) -> None:
    """Check the version, create what is missing, upgrade an older file."""
    found = _found_version(db)
    if found > SCHEMA_VERSION:  # checked before anything is written to the file
        raise RuntimeError(
            f"the data directory is from a newer PlexSync (schema {found}); upgrade the plugin"
        )
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.executescript(_SCHEMA)
    migrate(db, found)


def _found_version(db: sqlite3.Connection) -> int:
    has_meta = db.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'"
    ).fetchone()
    if not has_meta:
        return 0
    row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    return int(row[0] or 0) if row else 0


def migrate(db: sqlite3.Connection, found: int) -> None:
    """Bring an older data directory up to SCHEMA_VERSION (version 1 is the first)."""
    if 0 < found < 2:  # version 1 kept a job's history only in its delayed row
        db.execute(
            "INSERT OR IGNORE INTO failures "
            "SELECT job_key, attempts, first_failed_at FROM delayed WHERE attempts IS NOT NULL"
        )
    if found < SCHEMA_VERSION:
        db.execute(
            "INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
        )
