"""Who PlexSync says it is to Plex, in the `X-Plex-*` headers of every request.

plexapi announces every process as its own product with an identifier derived from the
machine's MAC address: to Plex each recreated container is a new device (and Plex may email
the owner about each). PlexSync names itself, its version and the machine it runs on, with
an identifier its data directory keeps (state/datadir.py), so Plex sees one device.
"""

from __future__ import annotations

import platform
import re
from dataclasses import dataclass
from pathlib import Path

PRODUCT = "PlexSync"
MANIFEST = Path(__file__).resolve().parent.parent / "PlexSync.yml"
_VERSION_LINE = re.compile(r"^version:\s*['\"]?([^'\"\s#]+)", re.MULTILINE)


@dataclass(frozen=True)
class ClientIdentity:
    """The product, its version, the device's name and its identifier, as Plex shows them."""

    client_id: str
    version: str
    device_name: str = platform.node() or "unknown"

    def headers(self) -> dict[str, str]:
        return {
            "X-Plex-Product": PRODUCT,
            "X-Plex-Version": self.version,
            "X-Plex-Device-Name": self.device_name,
            "X-Plex-Client-Identifier": self.client_id,
        }


def plugin_version(manifest: Path = MANIFEST) -> str:
    """The `version:` of the plugin's manifest (a release build writes its own there)."""
    try:
        found = _VERSION_LINE.search(manifest.read_text(encoding="utf-8"))
    except OSError:
        found = None
    return found.group(1) if found else "unknown"
