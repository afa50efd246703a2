"""`python -m bench <name> [args]` runs bench/<name>.py's main(args); no name lists them."""

import importlib
import pkgutil
import sys
from pathlib import Path


def benchmarks() -> dict[str, str]:
    """Benchmark names and the first line of each one's docstring."""
    found = {}
    for module in pkgutil.iter_modules([str(Path(__file__).parent)]):
        if not module.name.startswith("_"):
            doc = importlib.import_module(f"bench.{module.name}").__doc__ or ""
            found[module.name] = doc.strip().splitlines()[0] if doc.strip() else ""
    return found


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: python -m bench <name> [args]\n")
        for name, summary in sorted(benchmarks().items()):
            print(f"  {name:24} {summary}")
        return 0
    name, args = argv[0], argv[1:]
    if name not in benchmarks():
        print(f"no benchmark {name!r}; run `python -m bench` for the list", file=sys.stderr)
        return 2
    importlib.import_module(f"bench.{name}").main(args)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
