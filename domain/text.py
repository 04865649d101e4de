"""Safe text: what a free-text field may hold before the ledger records it.

The log is immutable, so a value recorded once is read by every consumer for good: a
character a read model cannot store (NUL on PostgreSQL, an unpaired surrogate anywhere)
would stop it at that event forever, and a card number would be copied to every feed,
webhook and broker. Every free-text value is therefore checked once, at the entry point,
by the one rule here (the HTTP schemas reuse it):

- no control characters (C0, DEL, C1), except tab and newline in multi-line text (where
  a CRLF line end is read as LF);
- no line or paragraph separator (U+2028, U+2029) in single-line text;
- no unpaired surrogate (it cannot be encoded as UTF-8);
- at most ``limit`` characters;
- no card number (domain/card_number.py).
"""

from __future__ import annotations

import re

from domain.card_number import refuse_card_numbers
from domain.errors import InvalidValue

# Compiled once: a command checks a few short strings, a support case up to 10,000 chars.
_SINGLE_LINE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
_MULTI_LINE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


class UnsafeText(InvalidValue):
    """Text holding a character the ledger never records (a control character, an
    unpaired surrogate, a line break in a single-line field)."""

    code = "unsafe-text"


def refuse_control_characters(value: str, field: str, multiline: bool = False) -> str:
    """``value`` unless it holds a character that must never be recorded; CRLF becomes LF
    in multi-line text (browsers send textareas with CRLF)."""
    if multiline:
        value = value.replace("\r\n", "\n")
    found = (_MULTI_LINE if multiline else _SINGLE_LINE).search(value)
    if found is not None:
        raise UnsafeText(
            f"{field} must not contain control characters or unpaired surrogates: "
            f"found U+{ord(found.group()):04X} at character {found.start() + 1}"
        )
    return value


def safe_text(value: str, field: str, limit: int, multiline: bool = False) -> str:
    """``value``, checked as the module says; raises ``UnsafeText``, ``CardNumberRefused``
    or ``InvalidValue`` (too long)."""
    value = refuse_control_characters(value, field, multiline)
    if len(value) > limit:
        raise InvalidValue(f"{field} must be at most {limit} characters")
    refuse_card_numbers(value, field)
    return value
