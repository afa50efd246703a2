"""What Stash's plugin settings page calls each PlexSync setting, for messages to a person.

A message names a setting as the person sees it in Settings → Plugins → PlexSync, never by
its key. The names are PlexSync.yml's `displayName`s (tests/test_setting_names.py checks that
the two agree, so they cannot drift apart). Imports nothing, so every part may use it.
"""

from __future__ import annotations

WHERE = "Settings → Plugins → PlexSync"

NAMES = {
    "plexUrl": "Plex server URL",
    "plexToken": "Plex token",
    "plexWebUrl": "Plex address for your browser",
    "plexLibraries": "Plex libraries",
    "pathMap": "Path map",
    "connectTimeout": "Connect timeout (seconds)",
    "readTimeout": "Read timeout (seconds)",
    "failAfterHours": "Give up after (hours)",
    "partialLibrary": "My Plex library holds only some of my Stash scenes",
    "allowInsecureTls": "Allow insecure TLS",
    "scanMissing": "Ask Plex to scan missing files",
    "skipCovers": "Do not upload covers",
    "maxCoverMB": "Largest cover to upload (MB)",
    "tagsAsLabels": "Tags as labels",
    "studioCollections": "Studio collections",
    "syncRating": "Sync rating",
    "skipUnorganized": "Skip unorganized scenes",
    "ignoreTags": "Tags not to sync",
    "importActivity": "Import watch activity from Plex",
    "activityAccounts": "Plex accounts whose views to import",
}


def setting(key: str) -> str:
    """The setting `key` as a message names it: its display name, in quotes."""
    return f'"{NAMES[key]}"'
