"""Settings -> PlexSyncConfig: defaults for unsaved keys, one message per problem, and every
manifest setting mapped to exactly one config field."""

from dataclasses import fields, is_dataclass
from pathlib import Path

import pytest
import yaml

from config import LEGACY_KEYS, PlexSyncConfig, load_config
from errors import ConfigError

MANIFEST = Path(__file__).resolve().parents[1] / "PlexSync.yml"


def test_unsaved_settings_mean_the_documented_defaults():
    config = load_config({"plexUrl": "http://plex:32400", "plexToken": "tok-123456"})
    as_stash_shows_unsaved = load_config(
        {
            "plexUrl": "http://plex:32400",
            "plexToken": "tok-123456",
            "connectTimeout": 0,
            "readTimeout": 0,
            "failAfterHours": 0,
            "allowInsecureTls": False,
            "partialLibrary": False,
            "ignoreTags": "",
            "pathMap": "",
        }
    )
    assert config == as_stash_shows_unsaved
    assert config.timeouts.connect == 5 and config.timeouts.read == 30
    assert config.verify_tls is True
    assert config.http_retry.give_up_after == 24 * 3600
    assert config.not_found_retry.give_up_after == 24 * 3600
    assert config.configured


def test_nothing_saved_is_not_configured_and_not_an_error():
    assert not load_config({}).configured
    assert not load_config(None).configured


# Each problem's message: tests/test_setting_names.py.


def test_all_problems_are_reported_at_once():
    with pytest.raises(ConfigError) as caught:
        load_config({"plexUrl": "nope", "pathMap": "x", "readTimeout": -3})
    assert str(caught.value).count(";") == 2


def test_legacy_community_keys_are_fallbacks():
    config = load_config({"plexHost": "192.168.1.5", "plexPort": 32401, "plexToken": "abcdef"})
    assert config.plex_url == "http://192.168.1.5:32401"
    newer = load_config({"plexUrl": "https://p:1", "plexHost": "x", "plexToken": "abcdef"})
    assert newer.plex_url == "https://p:1"


def test_options_are_read():
    config = load_config(
        {
            "plexUrl": "http://p",
            "plexToken": "abcdef",
            "plexLibraries": " Adult , Clips ,",
            "tagsAsLabels": True,
            "partialLibrary": True,
            "ignoreTags": "ToDo, Dup",
            "readTimeout": "12.5",
            "allowInsecureTls": "true",
        }
    )
    assert config.libraries == ("Adult", "Clips")
    assert config.options.tags_as_labels and config.options.ignore_tags == {"todo", "dup"}
    assert config.partial_library
    assert config.timeouts.read == 12.5 and not config.verify_tls


# What each manifest setting sets: the specification load_config is held to.
SETTING_FIELDS = {
    "plexUrl": {"plex_url"},
    "plexToken": {"plex_token"},
    "plexLibraries": {"libraries"},
    "pathMap": {"path_map"},
    "connectTimeout": {"timeouts.connect"},
    "readTimeout": {"timeouts.read"},
    "failAfterHours": {"http_retry.give_up_after", "not_found_retry.give_up_after"},
    "partialLibrary": {"partial_library"},
    "allowInsecureTls": {"verify_tls"},
    "scanMissing": {"options.scan_missing"},
    "skipCovers": {"options.skip_covers"},
    "maxCoverMB": {"options.max_cover_bytes"},
    "tagsAsLabels": {"options.tags_as_labels"},
    "studioCollections": {"options.studio_collections"},
    "syncRating": {"options.sync_rating"},
    "skipUnorganized": {"options.skip_unorganized"},
    "ignoreTags": {"options.ignore_tags"},
    "plexWebUrl": {"plex_web_url"},
    "importActivity": {"import_activity"},
    "activityAccounts": {"activity_accounts"},
}
NESTED = ("timeouts", "http_retry", "not_found_retry", "options")  # dataclasses of settings


def leaves(config, prefix="") -> dict:
    """{"timeouts.read": 30.0, ...}: every field of the config, nested ones by their path."""
    found = {}
    for f in fields(config):
        value = getattr(config, f.name)
        if f.name in NESTED and is_dataclass(value):
            found.update(leaves(value, f"{f.name}."))
        else:
            found[prefix + f.name] = value
    return found


class Asked(dict):
    """Saved settings that note which keys load_config reads."""

    def __init__(self, *args):
        super().__init__(*args)
        self.keys_read = set()

    def get(self, key, default=None):
        self.keys_read.add(key)
        return super().get(key, default)


def test_load_config_reads_every_manifest_setting_and_no_other():
    manifest = yaml.safe_load(MANIFEST.read_text())
    assert set(manifest["settings"]) == set(SETTING_FIELDS)
    assert not set(LEGACY_KEYS) & set(manifest["settings"])  # read, never shown twice
    saved = Asked({"plexUrl": "http://plex:32400", "plexToken": "abcdefgh"})
    load_config(saved)
    assert saved.keys_read == set(manifest["settings"])
    legacy = Asked({"plexHost": "plex", "plexToken": "abcdefgh"})
    load_config(legacy)
    assert legacy.keys_read == set(manifest["settings"]) | set(LEGACY_KEYS)


def test_every_top_level_and_option_field_is_set_by_a_setting():
    set_somewhere = set().union(*SETTING_FIELDS.values())
    settable = {
        path for path in leaves(PlexSyncConfig()) if "." not in path or path.startswith("options.")
    }
    assert settable <= set_somewhere


@pytest.mark.parametrize(("key", "paths"), sorted(SETTING_FIELDS.items()))
def test_each_setting_changes_exactly_its_field(key, paths):
    base = {"plexUrl": "http://plex:32400", "plexToken": "abcdefgh"}
    kind = yaml.safe_load(MANIFEST.read_text())["settings"][key]["type"]
    value = {
        "BOOLEAN": True,
        "NUMBER": 7,
        "STRING": {
            "plexUrl": "https://other:1",
            "plexToken": "other-token",
            "pathMap": "/a=>/b",
            "plexWebUrl": "http://plex.lan:32400/web/index.html",
        }.get(key, "A, B"),
    }[kind]
    default, changed = leaves(load_config(base)), leaves(load_config({**base, key: value}))
    assert {path for path in default if default[path] != changed[path]} == paths


def test_plex_web_url_defaults_to_the_hosted_app_and_needs_a_scheme():
    base = {"plexUrl": "http://plex:32400", "plexToken": "abcdefgh"}
    assert load_config(base).plex_web_url == "https://app.plex.tv/desktop"
    assert load_config({**base, "plexWebUrl": "http://h:1/web/"}).plex_web_url == "http://h:1/web"
    with pytest.raises(ConfigError, match='"Plex address for your browser"'):
        load_config({**base, "plexWebUrl": "plex.lan"})
