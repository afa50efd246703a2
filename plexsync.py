#!/usr/bin/env python3
"""PlexSync: keeps a Plex library in step with Stash.

Run by Stash (one JSON object on stdin: a hook event or a task), as the background worker
(`plexsync.py worker`, started by a hook), or from a shell (`plexsync.py --help`).
This file only wires; the work is in worker/, plex/ and stash/.
"""

import os
import sys

# Cache our compiled modules even where PYTHONDONTWRITEBYTECODE (or -B) is set, as in many
# Docker images: otherwise every hook compiles the ~700 lines it imports, ~12 ms of a hook
# that Stash waits for on every save (CPU measured here: 45 ms uncached, 33 ms cached; see
# `python -m bench hook_cost`), and every worker compiles its vendored dependencies. The
# plugin folder is ours; Python skips the write, silently, where it cannot write there.
sys.dont_write_bytecode = False
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
        from entry.cli import main as cli_main

        return cli_main(sys.argv[1:])
    from entry.plugin import run_from_stash

    return run_from_stash(sys.stdin.read())


if __name__ == "__main__":
    sys.exit(main())
