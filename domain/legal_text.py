"""Text printed on a legal document (a party's name, an address line, a line's description).

An invoice is kept for ten years and read by the buyer's software: a field is bounded, and
holds no control character (a line break inside a name would split the field in the XML
and in the PDF). Multi-line text (a note) may hold line breaks.
"""

from __future__ import annotations

import re

from domain.errors import InvalidValue

_SINGLE_LINE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_MULTI_LINE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f]")


def checked(value: str, field: str, limit: int = 200, multiline: bool = False) -> str:
    """``value`` if it is at most ``limit`` characters of printable text, else InvalidValue."""
    if len(value) > limit:
        raise InvalidValue(f"{field} must be at most {limit} characters")
    if (_MULTI_LINE if multiline else _SINGLE_LINE).search(value):
        raise InvalidValue(f"{field} must not contain control characters")
    return value


def required(value: str, field: str, limit: int = 200, multiline: bool = False) -> str:
    if not value.strip():
        raise InvalidValue(f"{field} must not be empty")
    return checked(value, field, limit, multiline)
