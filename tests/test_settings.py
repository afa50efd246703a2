"""Settings -> PlexSyncConfig: defaults for unsaved keys, one message per problem, and every
manifest setting mapped to exactly one config field."""

from pathlib import Path

import pytest
import yaml

from config import LEGACY_KEYS, SETTING_FIELDS, load_config
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


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"plexUrl": "plex:32400", "plexToken": "t"}, "needs a scheme"),
        ({"plexUrl": "ftp://plex", "plexToken": "t"}, "needs a scheme"),
        ({"plexUrl": "http://plex:99999", "plexToken": "t"}, "invalid port"),
        ({"plexUrl": "http://plex:32400"}, "plexToken is empty"),
        ({"plexUrl": "http://p", "plexToken": "t", "pathMap": "/a"}, "pathMap entry 1"),
        ({"plexUrl": "http://p", "plexToken": "t", "readTimeout": -1}, "must not be negative"),
        ({"plexUrl": "http://p", "plexToken": "t", "connectTimeout": "soon"}, "must be a number"),
    ],
)
def test_each_problem_has_a_clear_message(settings, message):
    with pytest.raises(ConfigError, match=message):
        load_config(settings)


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


def test_every_manifest_setting_maps_to_a_config_field_and_back():
    manifest = yaml.safe_load(MANIFEST.read_text())
    assert set(manifest["settings"]) == set(SETTING_FIELDS)
    assert not set(LEGACY_KEYS) & set(manifest["settings"])  # read, never shown twice


@pytest.mark.parametrize(("key", "path"), sorted(SETTING_FIELDS.items()))
def test_each_setting_changes_its_field(key, path):
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
    default, changed = load_config(base), load_config({**base, key: value})

    def read(config):
        for name in path.split("."):
            config = getattr(config, name)
        return config

    assert read(default) != read(changed)


def test_plex_web_url_defaults_to_the_hosted_app_and_needs_a_scheme():
    base = {"plexUrl": "http://plex:32400", "plexToken": "abcdefgh"}
    assert load_config(base).plex_web_url == "https://app.plex.tv/desktop"
    assert load_config({**base, "plexWebUrl": "http://h:1/web/"}).plex_web_url == "http://h:1/web"
    with pytest.raises(ConfigError, match="plexWebUrl"):
        load_config({**base, "plexWebUrl": "plex.lan"})
