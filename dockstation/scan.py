"""What a scanner sent, and what kind of code it is.

`ScanEvent` is the one shape every scanner (keyboard wedge, serial, evdev) produces. `classify`
is pure: patterns come from codes.toml, GS1 parsing from biip.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from functools import lru_cache

from dockstation import carriers
from dockstation.config import CarrierRules, Patterns
from dockstation.text import escape_surrogates, has_controls, hidden_chars

MAX_CODE_LENGTH = 256
# What any container id must be (the bench's own or a site's preprinted): a Code 128 payload
# with nothing that changes the symbol (docs/containers.md).
_CONTAINER_ID = re.compile(r"[A-Z0-9][A-Z0-9_-]{0,31}", re.ASCII)


@dataclass(frozen=True)
class ScanEvent:
    code: str  # terminator removed; GS (\x1d) kept
    source: str  # "wedge", "serial:<name>", "keyboard"
    symbology: str | None  # AIM identifier such as "]C1", split off by the reader, if any
    at: datetime

    def __post_init__(self) -> None:
        # Whatever a reader produced, a code is text that can be stored and shown: bytes that
        # were decoded with surrogateescape become `\xe9` (then classified as invalid, below).
        for name in ("code", "symbology"):
            value = getattr(self, name)
            if isinstance(value, str) and not value.isascii():
                object.__setattr__(self, name, escape_surrogates(value))


class CodeKind(StrEnum):
    RMA = "rma"
    TRACKING = "tracking"
    GS1 = "gs1"
    LPN = "lpn"
    BADGE = "badge"
    COMMAND = "command"
    CONTAINER = "container"
    UNKNOWN = "unknown"
    INVALID = "invalid"


@dataclass(frozen=True)
class Classified:
    kind: CodeKind
    raw: str
    value: str = ""  # the RMA id, tracking number, LPN, badge id or command name
    arg: str | None = None  # command argument (CMD:GRADE:<arg>)
    carrier: str | None = None
    gtin: str | None = None
    serial: str | None = None
    sscc: str | None = None
    problem: str | None = None  # why a code is INVALID
    extra: dict[str, str] = field(default_factory=dict)


@lru_cache(maxsize=64)
def _rx(pattern: str) -> _Full:
    # ASCII: `\d` must not accept Arabic-Indic digits; fullmatch: `$` must not accept a trailing LF.
    return _Full(re.compile(pattern, re.ASCII))


class _Full:
    def __init__(self, rx: re.Pattern[str]) -> None:
        self.rx = rx

    def match(self, text: str) -> re.Match[str] | None:
        return self.rx.fullmatch(text)


def ups_check_digit(body: str) -> int:
    """Check digit of a UPS 1Z number over the 15 characters after `1Z` (letters map A=2…)."""
    total = 0
    for i, ch in enumerate(body):
        n = int(ch) if ch.isdigit() else (ord(ch) - ord("A") + 2) % 10
        total += n * (2 if i % 2 else 1)
    return (10 - total % 10) % 10


def ups_valid(code: str) -> bool:
    return len(code) == 18 and code[-1].isdigit() and ups_check_digit(code[2:17]) == int(code[-1])


def _gs1(code: str, symbology: str | None) -> Classified | None:
    import biip  # here, not at the top: its GS1 tables cost the bench's start-up ~50 ms (preloaded once the first screen is up)

    text = (symbology or "") + code
    result = biip.parse(text)
    msg = result.gs1_message
    gtin = result.gtin.value if result.gtin else None
    serial = None
    if msg is not None:
        element = msg.element_strings.get(ai="21")
        serial = element.value if element else None
    sscc = result.sscc.value if result.sscc else None
    structured = symbology is not None or "\x1d" in code or code.startswith("01") and len(code) > 16
    if gtin is None and sscc is None and not (structured and msg is not None):
        return None
    return Classified(CodeKind.GS1, code, value=gtin or sscc or code, gtin=gtin, serial=serial, sscc=sscc)


def _tracking(code: str, t: carriers.Tracking) -> Classified:
    if t.check is False:
        what = {"usps": "USPS", "fedex": "FedEx", "ups": "UPS", "dhl": "DHL", "sscc": "SSCC (AI 00)"}.get(
            t.carrier or "", "carrier")
        return Classified(CodeKind.INVALID, code, problem=f"{what} tracking number with a wrong check digit")
    extra = {"routing": t.routing} if t.routing else {}
    if t.rule:
        extra["rule"] = t.rule
    return Classified(CodeKind.TRACKING, code, value=t.number, carrier=t.carrier, extra=extra)


def classify(code: str, patterns: Patterns, symbology: str | None = None,
             rules: CarrierRules | None = None) -> Classified:
    """What `code` is. `rules`: the site's carrier label rules (codes.toml `[carriers]`)."""
    if not code:
        return Classified(CodeKind.INVALID, code, problem="empty code")
    if "\x00" in code:
        return Classified(CodeKind.INVALID, code, problem="contains a NUL byte")
    if len(code) > MAX_CODE_LENGTH:
        return Classified(CodeKind.INVALID, code, problem=f"too long ({len(code)} characters)")
    if has_controls(code):
        return Classified(CodeKind.INVALID, code, problem="contains control characters")
    if "\\x" in code or "\ufffd" in code or escape_surrogates(code) != code:
        return Classified(CodeKind.INVALID, code, problem="bytes that are not valid text")
    if hidden := hidden_chars(code):
        names = " ".join(f"U+{ord(c):04X}" for c in hidden[:4])
        return Classified(CodeKind.INVALID, code, problem=f"invisible or bidi characters ({names})")
    if m := _rx(patterns.command).match(code):
        return Classified(CodeKind.COMMAND, code, value=m["command"], arg=m.groupdict().get("arg"))
    if m := _rx(patterns.badge).match(code):
        return Classified(CodeKind.BADGE, code, value=m["badge"])
    if _rx(patterns.rma).match(code):
        return Classified(CodeKind.RMA, code, value=code)
    if _rx(patterns.lpn).match(code):
        return Classified(CodeKind.LPN, code, value=code)
    if _rx(patterns.container).match(code) or (
            patterns.container_preprinted and _rx(patterns.container_preprinted).match(code)
            and _CONTAINER_ID.fullmatch(code)):
        return Classified(CodeKind.CONTAINER, code, value=code)
    if code.startswith("1Z") and (ups := patterns.tracking.get("ups")) and _rx(ups).match(code):
        if not ups_valid(code):
            return Classified(CodeKind.INVALID, code, problem="UPS tracking number with a wrong check digit")
        return Classified(CodeKind.TRACKING, code, value=code, carrier="ups")
    # Carrier forms that wrap the tracking number (a site's prefix, USPS 420+ZIP, FedEx 34/96,
    # GS1 AI 420/421/00) and USPS IMpb, whose lengths no GTIN has: before GS1, which would take
    # some of them apart otherwise. Bare numbers a GTIN could be (12, 13, 14 digits) go to biip first.
    t = carriers.normalise(code, rules)
    if t.rule or (t.carrier == "usps" and len(t.number) in (22, 26)):
        return _tracking(code, t)
    try:
        gs1 = _gs1(code, symbology)
    except Exception:  # biip raises its own errors for malformed GS1; a bad code is not a crash
        gs1 = None
    if gs1 is not None:
        if gs1.sscc and not gs1.gtin:  # a parcel's SSCC (AI 00): carriers use it as its id
            return Classified(CodeKind.TRACKING, code, value=gs1.sscc, carrier="sscc", sscc=gs1.sscc)
        return gs1
    for carrier, pattern in patterns.tracking.items():
        if _rx(pattern).match(code):
            return Classified(CodeKind.TRACKING, code, value=t.number, carrier=carrier)
    return Classified(CodeKind.UNKNOWN, code, value=code)
