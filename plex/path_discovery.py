"""Finding the path map: prefix rules from files Stash and Plex both have under other roots.

A Stash file and a Plex file with the same name and size, the only such pair, are taken to be
one file seen from two machines (Docker mounts, a Windows share, another drive letter). Each
such pair says how its two paths differ: strip the longest common tail (whole folder names,
any case) and what is left is a rule, `stash prefix => plex prefix`. Keeping one or more folders
of the tail gives narrower rules that say the same for that pair.

The rules are grown in rounds. Each round applies the rules so far (longest prefix first, as
`PathMap` does) to every file Stash and Plex agree on, including those already at the same path
on both sides, and each file that lands in the wrong place votes for its widest rule that
would take precedence there; per Stash prefix the Plex prefix with most votes is added. Then
every Stash file is mapped: a rule that lands one on a Plex file with the same name but another
size maps it onto a different file, so it is dropped, its prefix is never proposed again, and
the rounds start over. What is left is a few wide rules that explain as many files as can be
explained safely.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from plex.paths import PathMap, basename, normalize

EXAMPLES = 3
_DRIVE = re.compile(r"^[A-Za-z]:(/|$)")


@dataclass(frozen=True)
class StashFile:
    scene_id: int
    path: str
    size: int | None


@dataclass
class Rule:
    """A proposed rule, with the scenes it finds in Plex and a few of their paths."""

    stash: str
    plex: str
    scenes: int = 0
    examples: list[tuple[str, str]] = field(default_factory=list)

    def text(self) -> str:
        return f"{shown(self.stash)}=>{shown(self.plex)}"


@dataclass
class Proposal:
    """The rules and what they leave: every count is of Stash scenes."""

    rules: list[Rule]
    scenes: int  # scenes with a file
    found_as_is: int  # found at their own path (no rule needed)
    found: int  # found once the rules apply (found_as_is included)
    left: int  # still not found
    left_with_twin: int  # of those, scenes with a same name + size file in Plex nonetheless
    refused: list[str]  # rules never proposed: they would map a file onto a different file
    left_examples: list[str] = field(default_factory=list)

    def path_map(self) -> str:
        return ";".join(rule.text() for rule in self.rules)

    def shown(self) -> dict:
        return {
            "path_map": self.path_map(),
            "rules": [
                {
                    "rule": rule.text(),
                    "stash": shown(rule.stash),
                    "plex": shown(rule.plex),
                    "scenes": rule.scenes,
                    "examples": [list(pair) for pair in rule.examples],
                }
                for rule in self.rules
            ],
            "scenes": self.scenes,
            "found_as_is": self.found_as_is,
            "found": self.found,
            "left": self.left,
            "left_with_twin": self.left_with_twin,
            "refused": self.refused,
            "left_examples": self.left_examples,
        }


def shown(prefix: str) -> str:
    """A prefix as its own system writes it: backslashes for a drive or a share."""
    if prefix.startswith("//") or (len(prefix) >= 2 and prefix[1] == ":"):
        return prefix.replace("/", "\\")
    return prefix


class _Plex:
    """Plex's files by path, by path in any case, and by name + size."""

    def __init__(self, files: Iterable[tuple[str, int]]) -> None:
        self.size: dict[str, int] = {}
        self.lower: dict[str, set[str]] = defaultdict(set)
        self.twins: dict[tuple[str, int], set[str]] = defaultdict(set)
        for path, size in files:
            path = normalize(path)
            self.size[path] = size
            self.lower[path.lower()].add(path)
            self.twins[(basename(path).lower(), size)].add(path)

    def at(self, path: str) -> str | None:
        """The Plex file at this path: exact, else the only one in any case."""
        if path in self.size:
            return path
        found = self.lower.get(path.lower(), ())
        return next(iter(found)) if len(found) == 1 else None

    def twin(self, file: StashFile) -> str | None:
        """The only Plex file with this file's name and size."""
        if not file.size:
            return None
        found = self.twins.get((basename(file.path).lower(), file.size), ())
        return next(iter(found)) if len(found) == 1 else None

    def clash(self, mapped: str, file: StashFile) -> bool:
        """Mapped onto a Plex file that is another file: same name, a different size."""
        found = self.at(mapped)
        size = self.size.get(found) if found else None
        return bool(found and file.size and size and size != file.size)


def propose(stash_files: Iterable[StashFile], plex_files: Iterable[tuple[str, int]]) -> Proposal:
    """The smallest set of prefix rules that finds Stash's files in Plex, safely."""
    plex = _Plex(plex_files)
    files = [StashFile(f.scene_id, normalize(f.path), f.size) for f in stash_files]
    agreed = {}  # stash path -> plex path, for every file both sides have
    for file in files:
        at = plex.at(file.path) or plex.twin(file)
        if at is not None:
            agreed[file.path] = at
    forbidden: set[str] = set()
    refused: list[str] = []
    while True:
        rules = _grow(agreed, forbidden)
        unsafe = _unsafe(rules, files, plex)
        if not unsafe:
            break
        for stash_prefix in unsafe:
            forbidden.add(stash_prefix)
            refused.append(f"{shown(stash_prefix)}=>{shown(rules[stash_prefix])}")
    return _report(rules, files, plex, refused)


def _levels(stash_path: str, plex_path: str) -> list[tuple[str, str]]:
    """The rules that map this one file, widest first (the file name itself never in one)."""
    s_parts, p_parts = stash_path.split("/"), plex_path.split("/")
    most = min(len(s_parts) - _root(stash_path), len(p_parts) - _root(plex_path))
    common = 0
    while common < most and s_parts[-1 - common].lower() == p_parts[-1 - common].lower():
        common += 1
    return [
        (_join(s_parts[: len(s_parts) - common + k]), _join(p_parts[: len(p_parts) - common + k]))
        for k in range(max(1, common))
    ]


def _root(path: str) -> int:
    """How many leading parts a prefix keeps at least: a share is //host/share, not //host."""
    return 4 if path.startswith("//") else 1


def _join(parts: list[str]) -> str:
    return "/".join(parts) or "/"


def _grow(agreed: dict[str, str], forbidden: set[str]) -> dict[str, str]:
    """Rules added round by round until every agreed file lands where Plex has it (or none
    of the rules open to it would take it there)."""
    rules: dict[str, str] = {}
    stuck: set[str] = set()
    while True:
        votes: dict[str, Counter] = defaultdict(Counter)
        for stash_path, plex_path in agreed.items():
            if stash_path in stuck or _map(rules, stash_path).lower() == plex_path.lower():
                continue
            rule = _open_rule(stash_path, plex_path, rules, forbidden)
            if rule is None:
                stuck.add(stash_path)
            else:
                votes[rule[0]][rule[1]] += 1
        if not votes:
            return rules
        for stash_prefix, plex_prefixes in votes.items():
            rules[stash_prefix] = plex_prefixes.most_common(1)[0][0]


def _open_rule(stash_path: str, plex_path: str, rules: dict[str, str], forbidden: set[str]):
    """This file's widest rule that would take precedence over the rule now taking it."""
    taking = _rule_taking(rules, stash_path)
    floor = -1 if taking is None else len(taking)
    for stash_prefix, plex_prefix in _levels(stash_path, plex_path):
        if len(stash_prefix) <= floor or stash_prefix in forbidden:
            continue
        if rules.get(stash_prefix, plex_prefix) != plex_prefix:
            continue
        return stash_prefix, plex_prefix
    return None


def _unsafe(rules: dict[str, str], files: list[StashFile], plex: _Plex) -> set[str]:
    """Rules that map some Stash file onto a different Plex file of the same name."""
    bad = set()
    for file in files:
        rule = _rule_taking(rules, file.path)
        if rule is not None and plex.clash(_map(rules, file.path), file):
            bad.add(rule)
    return bad


def _rule_taking(rules: dict[str, str], path: str) -> str | None:
    """The prefix of the rule that maps this path (the longest that holds it), as `PathMap`
    chooses: found by walking up the path's folders, so hundreds of rules cost no more."""
    parts = path.split("/")
    drive = _DRIVE.match(path) is not None
    lowered = {prefix.lower(): prefix for prefix in rules} if drive else None
    for end in range(len(parts) - 1, 0, -1):
        folder = _join(parts[:end])
        if folder in rules:
            return folder
        if lowered is not None and folder.lower() in lowered:  # a drive matches in any case
            return lowered[folder.lower()]
    return None


def _map(rules: dict[str, str], path: str) -> str:
    prefix = _rule_taking(rules, path)
    return path if prefix is None else PathMap(((prefix, rules[prefix]),)).to_plex(path)


def _report(rules: dict[str, str], files: list[StashFile], plex: _Plex, refused) -> Proposal:
    by_scene: dict[int, list[StashFile]] = defaultdict(list)
    for file in files:
        by_scene[file.scene_id].append(file)
    proposed = {prefix: Rule(prefix, target) for prefix, target in rules.items()}
    as_is = found = left_twin = 0
    left_examples: list[str] = []
    for scene_files in by_scene.values():
        as_is += any(plex.at(f.path) for f in scene_files)
        hits = [(f, plex.at(_map(rules, f.path))) for f in scene_files]
        hit = next(((f, at) for f, at in hits if at), None)
        if hit is None:
            left_twin += any(plex.twin(f) for f in scene_files)
            if len(left_examples) < EXAMPLES:
                left_examples.append(shown(scene_files[0].path))
            continue
        found += 1
        taking = _rule_taking(rules, hit[0].path)
        if taking is not None:
            rule = proposed[taking]
            rule.scenes += 1
            if len(rule.examples) < EXAMPLES:
                rule.examples.append((shown(hit[0].path), shown(hit[1])))
    return Proposal(
        rules=sorted(proposed.values(), key=lambda rule: (-len(rule.stash), rule.stash)),
        scenes=len(by_scene),
        found_as_is=as_is,
        found=found,
        left=len(by_scene) - found,
        left_with_twin=left_twin,
        refused=sorted(set(refused)),
        left_examples=left_examples,
    )
