"""Policy variables (`${aws:username}`, defaults, `${*}` escapes): tokenise once, resolve per request.

Pure string work; never looks anything up except in the context mapping it is handed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

__all__ = ["QMARK", "STAR", "Part", "Template", "parse_template", "resolve"]

# Wildcards are carried as sentinels so an escaped `${*}` stays a literal asterisk; control
# characters never survive document validation, so they cannot collide with policy text.
STAR = "\x00"
QMARK = "\x01"

_VAR = re.compile(r"\$\{([^}]*)\}")
_DEFAULT = re.compile(r"^\s*([^,'\s][^,']*?)\s*,\s*'([^']*)'\s*$")


class VarRef:
    """A `${key}` or `${key, 'default'}` reference; key stored lower-cased for lookup."""

    __slots__ = ("default", "key")

    def __init__(self, key: str, default: str | None) -> None:
        self.key = key.lower()
        self.default = default

    def __repr__(self) -> str:
        return f"VarRef({self.key!r}, {self.default!r})"


Part = str | VarRef
Template = tuple[Part, ...]


def _wild(text: str) -> str:
    return text.replace("*", STAR).replace("?", QMARK)


def parse_template(text: str, variables: bool) -> Template:
    """Split text into literal parts (wildcards as sentinels) and variable references."""
    if not variables or "${" not in text:
        return (_wild(text),)
    parts: list[Part] = []
    pos = 0
    buf: list[str] = []
    for m in _VAR.finditer(text):
        buf.append(_wild(text[pos : m.start()]))
        inner = m.group(1)
        pos = m.end()
        if inner in ("*", "?", "$"):
            buf.append(inner)  # escaped: a literal character, not a wildcard
            continue
        dm = _DEFAULT.match(inner)
        if dm:
            ref = VarRef(dm.group(1), dm.group(2))
        elif inner.strip() and "," not in inner and "'" not in inner:
            ref = VarRef(inner.strip(), None)
        else:
            buf.append(_wild(m.group(0)))  # not a variable AWS would recognise: literal text
            continue
        if buf:
            parts.append("".join(buf))
            buf = []
        parts.append(ref)
    buf.append(_wild(text[pos:]))
    if buf and "".join(buf):
        parts.append("".join(buf))
    return tuple(parts) if parts else ("",)


def resolve(template: Template, context: Mapping[str, tuple[str, ...]]) -> str | None:
    """Substitute variables (their values are literal text); None if a variable is missing.

    A missing key with a default uses the default; a multi-valued key cannot be substituted.
    """
    if len(template) == 1 and isinstance(template[0], str):
        return template[0]
    out: list[str] = []
    for part in template:
        if isinstance(part, str):
            out.append(part)
            continue
        vals = context.get(part.key)
        if vals is None or len(vals) != 1:
            if part.default is None:
                return None
            out.append(part.default)
        else:
            out.append(vals[0])
    return "".join(out)
