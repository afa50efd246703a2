"""What stands between PlexSync and a working sync, said so a person can fix it.

One problem at a time, the first that applies, each as one plain sentence (`say`) and the one
action that fixes it (`do`); every one is fixed in PlexSync's settings or by starting Plex,
so the UI links each to Stash's plugin settings:

    not_configured    no Plex server URL or token saved
    settings_invalid  a saved setting cannot be used (the reason)
    plex_unreachable  Plex does not answer at the saved URL
    token_rejected    Plex answered and refused the token
    path_map_wrong    Plex lacks the files asked for, but has files of those names elsewhere

The PlexSync page, the scene states, Sync now and the tasks all read their problem here, so
each state reads the same everywhere. Importing this module costs no plexapi or requests: the
scene-state read uses it too.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from errors import CLASSIFIED, ConfigError
from plex.index_lookup import candidates, open_read_only
from plex.paths import suggest_rule
from setting_names import WHERE, setting
from worker.metadata import files

PROBE_TIMEOUT = 0.8  # a page or a button waits for this, never for a full Plex timeout
NOT_FOUND_SAMPLE = 20  # scenes not found in Plex looked at, at most


@dataclass(frozen=True)
class Problem:
    kind: str
    say: str
    do: str

    def as_dict(self) -> dict:
        return asdict(self)


def not_configured() -> Problem:
    return Problem(
        "not_configured",
        "PlexSync does not know your Plex server yet.",
        f"Connect to Plex on the PlexSync page, or enter your {setting('plexUrl')} and "
        f"{setting('plexToken')} in {WHERE}.",
    )


def settings_invalid(error: Exception) -> Problem:
    return Problem(
        "settings_invalid",
        f"A PlexSync setting cannot be used: {_sentence(error)}",
        f"Correct it in {WHERE}; the syncs waiting for it go out then.",
    )


def plex_unreachable(url: str, error: Exception) -> Problem:
    return Problem(
        "plex_unreachable",
        f"Plex does not answer at {url}: {_sentence(error)}",
        f"Start Plex, or correct {setting('plexUrl')} in {WHERE}; "
        "queued syncs wait and go out when Plex answers.",
    )


def token_rejected() -> Problem:
    return Problem(
        "token_rejected",
        "Plex refused the token in PlexSync's settings.",
        f"Paste a current X-Plex-Token into {setting('plexToken')} in {WHERE}; "
        "the syncs that failed on it come back by themselves.",
    )


def path_map_wrong(stash_path: str, wanted: str, plex_path: str) -> Problem:
    return Problem(
        "path_map_wrong",
        f"Plex has no file at {wanted}, where PlexSync looked, but has {plex_path}.",
        f"Set {setting('pathMap')} to {suggest_rule(stash_path, plex_path)} in {WHERE}; "
        "the scenes not found come back by themselves.",
    )


def config_problem(read_config) -> tuple[object | None, Problem | None]:
    """The config `read_config()` returns, or the problem that stops it (not configured,
    invalid); a Stash that cannot be asked is no settings problem: its error goes on."""
    try:
        config = read_config()
    except ConfigError as exc:
        return None, settings_invalid(exc)
    return config, (None if config.configured else not_configured())


def plex_problem(config, probe, identity=None) -> tuple[object | None, Problem | None]:
    """What `probe(url, token, timeout, verify_tls, identity)` found: Plex's answer, or the
    problem."""
    from plex.errors import PlexAuthError  # here: the quick scene-state read never probes

    try:
        answer = probe(
            config.plex_url, config.plex_token, PROBE_TIMEOUT, config.verify_tls, identity
        )
        return answer, None
    except PlexAuthError:
        return None, token_rejected()
    except ConfigError as exc:  # not a Plex server, a redirect, TLS: the URL is wrong
        return None, settings_invalid(exc)
    except CLASSIFIED as exc:
        return None, plex_unreachable(config.plex_url, exc)


def not_found_problem(store, index_path, config, connection: dict | None) -> Problem | None:
    """path_map_wrong when a scene waiting or failed because Plex lacks its file has a file
    of the same name elsewhere in Plex (the first such one found); the scenes' files are read
    from Stash (`connection`), only when there are such scenes."""
    from plex.errors import PlexNotFound
    from state.jobs import SceneJob

    jobs = store.failed_with(PlexNotFound.__name__)
    ids = [job.scene_id for _, job in jobs if isinstance(job, SceneJob)][:NOT_FOUND_SAMPLE]
    if not ids:
        return None
    with open_read_only(index_path) as index:
        if index is None:
            return None
        for scene in _scenes(connection, ids).values():
            for path, _ in files(scene):
                wanted = config.path_map.to_plex(path)
                elsewhere = [c for c in candidates(index, wanted) if c != wanted]
                if elsewhere:
                    return path_map_wrong(path, wanted, elsewhere[0])
    return None


def _scenes(connection: dict | None, ids: list[int]) -> dict[int, dict]:
    from stash.client import StashClient

    stash = StashClient(dict(connection or {}))
    try:
        return stash.scenes(ids)
    finally:
        stash.close()


def _sentence(error: Exception) -> str:
    text = str(error).strip() or type(error).__name__
    return text if text.endswith(".") else text + "."
