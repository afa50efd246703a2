"""A small web page that hosts a Stash UI plugin the way Stash's documented plugin API says,
built from npm's own packages (README.md here)."""
