"""Untrusted text (scanners, manifests, HQ) made safe to show and to store.

Neither Rich nor Textual strips terminal escape sequences (FIELD-NOTES), so every string from
outside goes through `clean` before display; the TUI then wraps it in `rich.text.Text` so it is
never parsed as markup.

What `clean` removes or replaces, and why:
- escape sequences and C0/C1 control characters: they drive the terminal (GS, RS and EOT are
  shown by name, since GS1 codes carry them; a tab becomes a space);
- format characters (Unicode category Cf: the bidi embeddings, overrides and isolates
  U+202A–U+202E and U+2066–U+2069, LRM/RLM/ALM, zero-width space/joiners U+200B–U+200D, word
  joiner U+2060, BOM U+FEFF, soft hyphen, tag characters): invisible, and the bidi ones reorder
  what follows them, so `RMA-1‮321` could read as another code. They carry no meaning a bench
  needs (a joined emoji falls apart into its parts, which stays readable);
- the Hangul fillers (U+115F, U+1160, U+3164, U+FFA0): letters by category, but blank;
- line and paragraph separators (Zl, Zp: U+2028, U+2029): a line break inside one line; shown
  as a space;
- lone surrogates (Cs: bytes decoded with `surrogateescape`, broken UTF-16): they cannot be
  written to a UTF-8 terminal or database at all; shown as the escaped byte (`\\xe9`) they stand
  for (`escape_surrogates`).
"""

from __future__ import annotations

import re
import unicodedata

# ESC-introduced sequences: CSI (ESC [ ... final), OSC (ESC ] ... BEL or ST), and 2-byte escapes.
_ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"          # CSI
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC ... BEL / ST
    r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"   # DCS / SOS / PM / APC ... ST
    r"|\x1b[@-Z\\-_]"                   # other 2-byte escapes
    r"|\x9b[0-?]*[ -/]*[@-~]"           # 8-bit CSI
)
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_NAMES = {"\x1d": "<GS>", "\x1e": "<RS>", "\x04": "<EOT>", "\t": " "}
_SURROGATES = re.compile("[\ud800-\udfff]")
_BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0")
# Categories never shown as they are: format characters, separators, surrogates.
HIDDEN_CATEGORIES = frozenset({"Cf", "Zl", "Zp", "Cs"})

MAX_DISPLAY = 200


def _surrogate(match: re.Match[str]) -> str:
    point = ord(match.group())
    # U+DC80–U+DCFF is how `surrogateescape` carries an undecodable byte 0x80–0xFF.
    return f"\\x{point - 0xDC00:02x}" if 0xDC80 <= point <= 0xDCFF else f"\\u{point:04x}"


def escape_surrogates(value: str) -> str:
    """`value` with every lone surrogate written as a backslash escape: the byte 0xE9 decoded
    with surrogateescape (U+DCE9) becomes `\\xe9`, any other one `\\ud800`. The result always
    encodes as UTF-8 (SQLite, JSON, the terminal) and shows what was received."""
    return _SURROGATES.sub(_surrogate, value) if not value.isascii() else value


def hidden_chars(value: str) -> list[str]:
    """The distinct invisible or line-breaking characters of `value` (see the module doc), in order."""
    if value.isascii():
        return []
    seen: dict[str, None] = {}
    for char in value:
        if not char.isascii() and (unicodedata.category(char) in HIDDEN_CATEGORIES or char in _BLANK_LETTERS):
            seen.setdefault(char)
    return list(seen)


def _unhide(text: str) -> str:
    out: list[str] = []
    for char in text:
        if char.isascii():
            out.append(char)
            continue
        category = unicodedata.category(char)
        if category in ("Zl", "Zp"):
            out.append(" ")
        elif category == "Cs":
            out.append(_surrogate(_SURROGATES.match(char)))  # type: ignore[arg-type]
        elif category != "Cf" and char not in _BLANK_LETTERS:
            out.append(char)
    return "".join(out)


def clean(value: object, *, limit: int | None = MAX_DISPLAY, show_gs: bool = True) -> str:
    """One line of plain text: escape sequences removed, GS shown as <GS>, other controls dropped,
    format characters dropped, separators as spaces, lone surrogates escaped (module doc)."""
    text = "" if value is None else str(value)
    text = _ESCAPES.sub("", text)
    if show_gs:
        text = _CONTROLS.sub(lambda m: _NAMES.get(m.group(), ""), text)
    else:
        text = _CONTROLS.sub("", text)
    if not text.isascii():
        text = _unhide(text)
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


def has_controls(value: str, *, allow: str = "\x1d") -> bool:
    return any(ch not in allow for ch in _CONTROLS.findall(value))


def bounded(value: str, limit: int = 512) -> str:
    """For storage: keep untrusted text as data, but bounded (a 10 kB scan is evidence, not data).
    Lone surrogates are escaped: they cannot be stored as UTF-8 (`escape_surrogates`)."""
    value = escape_surrogates(value)
    return value if len(value) <= limit else value[:limit] + f"…[+{len(value) - limit} chars]"
