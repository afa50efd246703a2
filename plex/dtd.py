"""Refusing an answer that declares a DTD, before anything parses it.

plexapi parses answers with `xml.etree`, which expands the entities of an internal DTD (expat
refuses only past 100-fold amplification): a few KiB of declarations become hundreds of MiB
of text, past every byte cap on what we read. Plex never sends a DTD, so an answer that
declares one is not Plex's (a wrong address, or someone in the middle of a plain-http
`plexUrl`) and is refused whole.

expat itself finds the declaration, so an encoding we would not think of (UTF-16, say) cannot
hide it; it stops at the root element's start tag, before any entity could be expanded.
"""

from __future__ import annotations

from xml.parsers import expat


class DeclaresDTD(Exception):
    """An answer declared a DTD (`<!DOCTYPE ...>`), which Plex never sends."""


class _Prolog(Exception):
    """The prolog has been read: the root element starts here."""


def refuse_dtd(body: bytes) -> None:
    """Raise DeclaresDTD if `body` declares a DTD before its root element."""

    def doctype(*_args) -> None:
        raise DeclaresDTD("a DTD")

    def root(*_args) -> None:
        raise _Prolog

    parser = expat.ParserCreate()
    parser.StartDoctypeDeclHandler = doctype
    parser.StartElementHandler = root
    try:
        parser.Parse(body, True)
    except (_Prolog, expat.ExpatError):
        return  # the root came first, or it is no XML (JSON, empty: expat stops at once)
