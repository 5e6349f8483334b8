"""Which characters the platform stores: the one text rule of every entrance.

Every text a user or a plugin hands the platform (an HTTP body or query, a command-line
argument, a rubric file, an argument of a Python command) ends up in events, read-model
rows and exported bundles, on every store. Some characters cannot be held by every store
or shown by every reader, so they are refused where the text enters, and once more
before any event is recorded (:func:`refuse_bad_text` on the events a write is about to
save), so that no interface can record them:

* U+0000 (NUL): PostgreSQL ``text`` columns cannot hold it;
* the other C0 control characters U+0001–U+001F except TAB, LF and CR, U+007F (DEL)
  and the C1 controls U+0080–U+009F: invisible, and they break terminals and CSV;
* lone surrogates U+D800–U+DFFF: not Unicode scalar values, not encodable as UTF-8;
* the 66 noncharacters U+FDD0–U+FDEF and U+xFFFE, U+xFFFF of every plane: reserved for
  a program's internal use, never for interchange.

Everything else, every script, emoji and private-use character, is allowed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from core.errors import InvalidInput

#: What is allowed, as every refusal says it (Chinese first).
ALLOWED = ("不含 NUL、控制字符、孤立代理项或非字符的文本 "
           "text without NUL, control characters (other than tab and line breaks), "
           "lone surrogates or noncharacters")

_BAD = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef"
    + "".join(f"{chr(plane * 0x10000 + 0xFFFE)}{chr(plane * 0x10000 + 0xFFFF)}" for plane in range(17))
    + "]"
)
#: How deep :func:`find_bad_text` looks into nested values.
MAX_DEPTH = 64


def bad_character(text: str) -> int | None:
    """The index of the first character of ``text`` the platform does not store, or None."""
    found = _BAD.search(text)
    return None if found is None else found.start()


def shown(text: str, limit: int = 60) -> str:
    """``text`` as it can be shown in an error: refused characters escaped as ``\\uXXXX``
    (so the message itself is storable and printable), cut to ``limit`` characters."""
    cut = text if len(text) <= limit else text[:limit] + "…"
    return _BAD.sub(lambda m: f"\\u{ord(m.group()):04x}", cut)


def describe(text: str) -> str:
    """What is wrong with ``text`` (which has a refused character), in Chinese and English."""
    at = bad_character(text)
    assert at is not None
    return f"U+{ord(text[at]):04X} at character {at + 1} 第{at + 1}个字符"


def check(field: str, value: str) -> str:
    """``value`` unchanged, or InvalidInput naming ``field``, the value (escaped) and what
    is allowed."""
    if bad_character(value) is not None:
        raise InvalidInput(field, shown(value), f"{ALLOWED} ({describe(value)} is not)")
    return value


def _walk(value: Any, path: str, depth: int) -> Iterator[tuple[str, str]]:
    if depth > MAX_DEPTH:
        return
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for k, v in value.items():
            where = f"{path}.{k}" if path else str(k)
            if isinstance(k, str):
                yield where, k
            yield from _walk(v, where, depth + 1)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for n, v in enumerate(value):
            yield from _walk(v, f"{path}[{n}]", depth + 1)


def find_bad_text(value: Any, path: str = "") -> tuple[str, str] | None:
    """The first (path, text) among the strings and keys of a JSON-like ``value`` that has a
    refused character, or None. The path is shown with refused characters escaped."""
    for where, text in _walk(value, path, 0):
        if bad_character(text) is not None:
            return shown(where or "body", 200), text
    return None


def check_all(value: Any, path: str = "") -> None:
    """InvalidInput for the first refused text anywhere in ``value`` (see :func:`find_bad_text`)."""
    found = find_bad_text(value, path)
    if found is not None:
        where, text = found
        raise InvalidInput(where, shown(text), f"{ALLOWED} ({describe(text)} is not)")


def refuse_bad_text(events: Any) -> None:
    """InvalidInput if any attribute of any of ``events`` (domain events about to be
    recorded) holds refused text; the field is the event attribute's name."""
    for event in events:
        state = {k: v for k, v in vars(event).items() if k not in ("originator_id", "originator_version", "timestamp")}
        check_all(state)
