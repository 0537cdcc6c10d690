"""Reading a test run's XML files safely: no DTD, no entity, one-line errors naming the file.

JUnit and Cobertura files come from the test jobs of a pull request, so they are input from outside.
:func:`parse_xml` reads one with expat and no DTD processing: a ``<!DOCTYPE`` or an entity
declaration is refused, so no external entity is fetched and no entity expands.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from xml.parsers import expat

from qualisys_infra.core.errors import UsageError
from qualisys_infra.core.files import decode_text


class ReportInputError(UsageError):
    """A JUnit or coverage file is missing or is not what it should be. Exit code 2."""


class _Refused(Exception):
    """Raised from inside the expat handlers: stops the parse at once."""


def _refuse(*_: object) -> None:
    raise _Refused("has a DOCTYPE or an entity declaration, which is not accepted (XML entity expansion)")


def _refuse_external(*_: object) -> int:
    raise _Refused("refers to an external entity, which is not accepted")


def parse_xml(path: Path, what: str) -> ET.Element:
    """The root element of ``path``, parsed with no DTD processing; a :class:`ReportInputError` of one
    line (``what: path: what is wrong``) when it is missing, unreadable, empty or not XML."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ReportInputError(f"{what}: {path}: no such file") from None
    except IsADirectoryError:
        raise ReportInputError(f"{what}: {path}: is a folder, not a file") from None
    except OSError as exc:
        raise ReportInputError(f"{what}: {path}: cannot be read: {exc.strerror or exc}") from None
    if not data.strip():
        raise ReportInputError(f"{what}: {path}: is empty, not XML")
    builder = ET.TreeBuilder()
    parser = expat.ParserCreate()
    parser.buffer_text = True
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = _refuse
    parser.EntityDeclHandler = _refuse
    parser.UnparsedEntityDeclHandler = _refuse
    parser.ExternalEntityRefHandler = _refuse_external
    parser.StartElementHandler = builder.start
    parser.EndElementHandler = builder.end
    parser.CharacterDataHandler = builder.data
    try:
        parser.Parse(data, True)
    except _Refused as exc:
        raise ReportInputError(f"{what}: {path}: {exc}") from None
    except expat.ExpatError as exc:
        if not _declares_encoding(data):  # then it is UTF-8, and a byte that is not says more than expat
            try:
                decode_text(data, f"{what}: {path}")
            except UsageError as undecodable:
                raise ReportInputError(str(undecodable)) from None
        reason = expat.ErrorString(exc.code) if exc.code else str(exc)
        raise ReportInputError(
            f"{what}: {path}: not XML: {reason} (line {exc.lineno}, column {exc.offset + 1})"
        ) from None
    return builder.close()


def _declares_encoding(data: bytes) -> bool:
    """Whether the XML declaration names an encoding (``<?xml version="1.0" encoding="ISO-8859-1"?>``)."""
    head = data.lstrip()[:200]
    return head.startswith(b"<?xml") and b"encoding" in head.split(b"?>", 1)[0]
