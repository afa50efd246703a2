#!/usr/bin/env python3
"""PlexSync: keeps a Plex library in step with Stash.

Run by Stash (one JSON object on stdin: a hook event or a task), as the background worker
(`plexsync.py worker`, started by a hook), or from a shell (`plexsync.py --help`).
This file only wires; the work is in worker/, plex/ and stash/.
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
# Our packages first, then the bundled dependencies of a plugin-manager install (if any).
sys.path[:0] = [HERE] + [p for p in [os.path.join(HERE, "vendor")] if os.path.isdir(p)]


def main() -> int:
    # Stash reads and writes UTF-8 on every platform; a pipe's default is the locale's
    # encoding, a code page on Windows, where a non-ASCII title would break a log line.
    for stream, errors in (
        (sys.stdin, "surrogateescape"),  # bad bytes reach the JSON parser, which says so
        (sys.stdout, "strict"),
        (sys.stderr, "backslashreplace"),
    ):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(encoding="utf-8", errors=errors)
    if len(sys.argv) > 1:
        from worker.cli import main as cli_main

        return cli_main(sys.argv[1:])
    from worker.plugin import run_from_stash

    return run_from_stash(sys.stdin.read())


if __name__ == "__main__":
    sys.exit(main())
