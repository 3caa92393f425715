"""Carrier barcodes normalised to the tracking number the manifest holds (docs/receiving.md).

A parcel's label often carries more than its tracking number: USPS IMpb puts `420` and the
destination ZIP (ZIP+4) in front of it, FedEx's long barcodes (34 digits, Ground "96" 22 digits)
end with it, GS1-128 labels put AI 420/421 (ship-to postal code) beside it or carry an SSCC
(AI 00) that is the parcel's id, and sites add their own prefixes and suffixes. `normalise` takes
what a scanner (or a manifest) holds and returns the number the two are matched on; the manifest
importer (bench and HQ share dockstation.manifest_csv) stores its tracking numbers the same way,
so a scan and a manifest row meet whichever form each of them had.

Check digits are checked where the carrier defines one: GS1's mod 10 (USPS, FedEx Ground, SSCC:
python-stdnum's `ean.calc_check_digit`, which takes any length), UPS (scan.ups_valid), FedEx
Express (weights 3-1-7, mod 11 then mod 10) and DHL Express (mod 7). `Tracking.check` is True
(valid), False (wrong: the scan is refused as unreadable) or None (no check digit defined, or a
bare number whose carrier is not known for sure).

Pure and cheap: it runs on every scan (bench/bench_scan.py) and on every manifest row that is not
already in its normal form (manifest_csv.parse keeps a fast path for those).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from stdnum import ean

if TYPE_CHECKING:
    from dockstation.config import CarrierRules


@dataclass(frozen=True)
class SiteRules:
    """A site's label rules as plain values (codes.toml `[carriers]`, config.CarrierRules): what
    the manifest parser's child process gets, with no pydantic to import."""

    strip_prefixes: tuple[str, ...] = ()
    strip_suffixes: tuple[str, ...] = ()
    rules: tuple[tuple[str, str, str | None], ...] = ()  # (name, pattern, carrier)

    @property
    def active(self) -> bool:
        return bool(self.strip_prefixes or self.strip_suffixes or self.rules)

    def plain(self) -> list[object]:
        return [list(self.strip_prefixes), list(self.strip_suffixes), [list(r) for r in self.rules]]

    @classmethod
    def of(cls, plain: list[object] | None) -> SiteRules | None:
        if not plain:
            return None
        prefixes, suffixes, rules = plain
        return cls(tuple(prefixes), tuple(suffixes), tuple((n, p, c) for n, p, c in rules))  # type: ignore[arg-type, misc]



GS = "\x1d"
_SPACES = re.compile(r"[ \t]+")
_DIGITS = re.compile(r"[0-9]+", re.ASCII)
_UPS = re.compile(r"1Z[0-9A-Z]{16}", re.ASCII)
_DHL_ECOMMERCE = re.compile(r"(?:JJD|JVGL)[0-9]{10,20}", re.ASCII)


@dataclass(frozen=True)
class Tracking:
    number: str  # what the manifest is matched on
    carrier: str | None = None  # ups, usps, fedex, dhl, sscc; None: not known
    routing: str | None = None  # the postal code a 420/421 prefix carried (never matched on)
    check: bool | None = None  # check digit: valid, wrong, or None (none defined / carrier unsure)
    rule: str = ""  # what took it apart: usps-420, fedex-34, fedex-96, gs1-421, sscc, site:NAME …

    @property
    def changed(self) -> bool:
        return bool(self.rule)


# -- check digits ------------------------------------------------------------------------------
def gs1_ok(number: str) -> bool:
    """GS1 mod 10 (USPS IMpb, FedEx Ground, SSCC), any length: python-stdnum's EAN checksum."""
    return len(number) > 1 and number.isdigit() and ean.calc_check_digit(number[:-1]) == number[-1]


def fedex_express_check_digit(body: str) -> str:
    """FedEx Express: the first 11 digits weighted 3,1,7,3,1,7…; sum mod 11, then mod 10."""
    return str(sum(int(d) * w for d, w in zip(body, (3, 1, 7) * 4)) % 11 % 10)


def fedex_express_ok(number: str) -> bool:
    """FedEx Express 12 digits, the last a check digit (fedex_express_check_digit)."""
    return len(number) == 12 and number.isdigit() and fedex_express_check_digit(number[:11]) == number[11]


def dhl_express_ok(number: str) -> bool:
    """DHL Express 10 digits: the first 9 as a number, mod 7."""
    return len(number) == 10 and number.isdigit() and int(number[:9]) % 7 == int(number[9])


def ups_ok(number: str) -> bool:
    from dockstation.scan import ups_valid

    return ups_valid(number)


# -- normalisation -----------------------------------------------------------------------------
def _routing(element: str) -> str | None:
    """The postal code of a GS1 AI 420 / 421 element, or None if it is not one."""
    if element.startswith("420") and 3 < len(element) <= 23:
        return element[3:]
    if element.startswith("421") and 6 < len(element) <= 15 and element[3:6].isdigit():
        return element[6:]
    return None


def _digits(s: str) -> Tracking | None:
    """A number of digits only: the carrier forms that wrap or end with a tracking number."""
    n = len(s)
    if s.startswith("420") and n in (30, 34, 38):
        # USPS IMpb: 420 + ZIP (5) or ZIP+4 (9) + the tracking number (22 or 26 digits, 9…).
        # 34 digits is ZIP+4 with 22, or ZIP with 26: the check digit tells which.
        for zip_len in (5, 9):
            rest = s[3 + zip_len:]
            if len(rest) in (22, 26) and rest[0] == "9" and gs1_ok(rest):
                return Tracking(rest, "usps", s[3:3 + zip_len], True, "usps-420")
        return Tracking(s[8:], "usps", s[3:8], False, "usps-420")
    if n == 34 and (s.startswith("96") or s.startswith("100")):  # FedEx: ends with the 12-digit number
        tail = s[-12:]
        return Tracking(tail, "fedex", None, fedex_express_ok(tail), "fedex-34")
    if n == 22 and s.startswith("96"):  # FedEx Ground "96": the last 15 digits
        tail = s[-15:]
        return Tracking(tail, "fedex", None, gs1_ok(tail), "fedex-96")
    if n == 20 and s.startswith("00"):  # GS1 AI 00 without its parentheses: the SSCC
        return Tracking(s[2:], "sscc", None, gs1_ok(s[2:]), "sscc")
    if n in (22, 26) and s[0] == "9" and s[1] in "12345":  # USPS IMpb as printed under the barcode
        return Tracking(s, "usps", None, gs1_ok(s))
    if n == 18:
        return Tracking(s, "sscc", None, True) if gs1_ok(s) else None
    if n == 12 and fedex_express_ok(s):
        return Tracking(s, "fedex", None, True)
    if n == 15 and gs1_ok(s):
        return Tracking(s, "fedex", None, True)
    if n == 10 and dhl_express_ok(s):
        return Tracking(s, "dhl", None, True)
    if n == 20 and gs1_ok(s):
        return Tracking(s, "usps", None, True)
    return None


def _gs1_message(s: str) -> Tracking | None:
    """A GS1-128 message with FNC1 separators (GS): routing elements (AI 420/421) dropped, an SSCC
    (AI 00) or the element left over is the tracking number."""
    parts = [p for p in s.split(GS) if p]
    routing = None
    rest: list[str] = []
    for part in parts:
        code = _routing(part)
        if code is not None and routing is None and not rest:
            routing = code
        else:
            rest.append(part)
    if routing is None or len(rest) != 1:
        return None
    inner = normalise(rest[0])
    return Tracking(inner.number, inner.carrier, routing, inner.check, f"gs1-{parts[0][:3]}")


def normalise(code: str, rules: SiteRules | CarrierRules | None = None) -> Tracking:
    """The tracking number in `code` (a scan or a manifest value): site rules first (codes.toml
    `[carriers]`), then the carriers' own forms; anything else comes back as it was (upper-cased
    letters, spaces dropped from digit groups)."""
    s = code.strip(" \r\n\t")
    site = ""
    carrier: str | None = None
    if rules is not None and rules.active:
        s, site, carrier = _site(s, rules if isinstance(rules, SiteRules) else rules.site())
    if GS in s:
        found = _gs1_message(s)
        if found is not None:
            return _tag(found, site, carrier)
        s = s.replace(GS, "")
    if " " in s or "\t" in s:
        compact = _SPACES.sub("", s)
        if compact.isalnum():  # digit groups as printed ("9400 1112 0108 …"), never inner text
            s = compact
    if s.isascii() and s.isalnum():
        s = s.upper()
        if _DIGITS.fullmatch(s):
            found = _digits(s)
            if found is not None:
                return _tag(found, site, carrier)
        elif _UPS.fullmatch(s):
            return _tag(Tracking(s, "ups", None, ups_ok(s)), site, carrier)
        elif _DHL_ECOMMERCE.fullmatch(s):
            return _tag(Tracking(s, "dhl"), site, carrier)
    return Tracking(s, carrier, None, None, site)


def _tag(t: Tracking, site: str, carrier: str | None) -> Tracking:
    if not site:
        return t
    return Tracking(t.number, t.carrier or carrier, t.routing, t.check, f"{site}+{t.rule}" if t.rule else site)


def _site(s: str, rules: SiteRules) -> tuple[str, str, str | None]:
    for name, rx, carrier in _compiled(rules):
        m = rx.fullmatch(s)
        if m and m.group("tracking"):
            return m.group("tracking"), f"site:{name}", carrier
    for prefix in rules.strip_prefixes:
        if prefix and s.startswith(prefix) and len(s) > len(prefix):
            s = s[len(prefix):]
            return _suffix(s, rules), "site:prefix", None
    stripped = _suffix(s, rules)
    return stripped, ("site:suffix" if stripped != s else ""), None


def _suffix(s: str, rules: SiteRules) -> str:
    for suffix in rules.strip_suffixes:
        if suffix and s.endswith(suffix) and len(s) > len(suffix):
            return s[: -len(suffix)]
    return s


@lru_cache(maxsize=16)
def _compiled(rules: SiteRules) -> tuple[tuple[str, re.Pattern[str], str | None], ...]:
    return tuple((name, re.compile(pattern, re.ASCII), carrier) for name, pattern, carrier in rules.rules)


# Digit-only lengths whose value normalise may change (420+ZIP, FedEx 34/96, AI 00 + SSCC).
_WRAPPED = frozenset({20, 22, 30, 34, 38})


def tracking_key(value: str | None, rules: SiteRules | CarrierRules | None = None) -> str | None:
    """A manifest's tracking number as stored (the form scans are matched on); None stays None.
    Runs on every manifest row: the forms that stay as they are (UPS 1Z…, bare numbers) return
    at once."""
    if not value:
        return value
    if rules is None or not rules.active:
        if value.isascii():
            if value.isdigit():
                if len(value) not in _WRAPPED or value[:2] not in ("42", "96", "10", "00"):
                    return value
            elif value.isalnum() and not any("a" <= ch <= "z" for ch in value):
                return value
    return normalise(value, rules).number
