"""The sync protocol: the wire models shared by the station client and the HQ server.

Every request carries the protocol version: a `protocol` field in every JSON body, and the
`X-Dockstation-Protocol` header on every request (GETs have no body). HQ refuses a version it does
not speak with a message saying which ones it does, so a bench and an HQ of different releases
fail loudly instead of misreading each other.

Times on the wire are ISO 8601 with an offset. HQ sends them canonical (`...T..:..:..ffffff+00:00`)
so the bench can store manifest pages without parsing every value twice.
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, StrictInt, StrictStr, field_validator

PROTOCOL = 1
SUPPORTED = frozenset({1})
PROTOCOL_HEADER = "X-Dockstation-Protocol"
# On a push: the bench's clock minus HQ's in seconds, as the bench measured it on its last exchange
# (EventAck.server_time against the round trip's midpoint); HQ shows it per station.
CLOCK_SKEW_HEADER = "X-Dockstation-Clock-Skew"
MAX_SKEW_S = 3.2e7  # about a year: anything further is no clock
API = "/api/v1"
MAX_BATCH = 5000  # events per POST; the client sends 2,000 (fixed costs per request amortised)
# An event's `at`: RFC 3339 (what OpenAPI's date-time means), seconds and offset required, in years
# 0002-9998 so that any offset converts to UTC (9999-12-31T23:00-05:00 is past the last datetime),
# offsets within ±15:59 as PostgreSQL takes them (real ones span -12:00 to +14:00). OpenAPI
# carries the same pattern, so the schema says exactly what HQ takes.
_YEAR = "(?:000[2-9]|00[1-9][0-9]|0[1-9][0-9]{2}|[1-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9])"
AT_PATTERN = (rf"^{_YEAR}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])[Tt](?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"
              r"(?:\.[0-9]+)?(?:[Zz]|[+-](?:0[0-9]|1[0-5]):[0-5][0-9])$")
_AT = re.compile(AT_PATTERN, re.ASCII)
MAX_PAGE = 50_000  # RMAs per manifest page
MAX_CHANGE_DIGITS = 18  # a cursor's change_id: < 10**18, well inside both databases' 64-bit integers

# Column order of a manifest page's rows. A page is two flat arrays of arrays, not objects: a
# bench takes 1M RMAs as rows it can hand to SQLite as they are, with no Python per row.
# The customer columns (issue 16) come last: the bench's search finds a pulled manifest by name
# and e-mail as it finds an imported one. A bench and an HQ of different releases see different
# `rma_fields` and say so (the page is refused whole, never misread).
RMA_FIELDS = ("rma_id", "order_id", "created_at", "expires_at", "status", "updated_at", "customer_name",
              "customer_email")
LINE_FIELDS = ("rma_id", "line_no", "sku", "gtin", "description", "category", "qty", "unit_price",
               "currency", "expected_serial", "reason_code", "carrier", "tracking_number")

# Files HQ may never set on a bench: who the bench is and who may sign in there stay local.
LOCAL_ONLY = frozenset({"station.toml", "operators.toml"})


class ProtocolError(ValueError):
    pass


def _whole(value: Any) -> Any:
    """JSON Schema's integer includes 3.0: take a whole float as its int, nothing else (no bool, no text)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


# An integer as OpenAPI means it: 7 or 7.0, never "7" or true.
WholeNumber = Annotated[StrictInt, BeforeValidator(_whole)]


def check_protocol(version: int | str | None) -> int:
    """The version as int, or ProtocolError naming what this side speaks."""
    try:
        value = int(version)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ProtocolError(
            f"missing or unreadable protocol version {version!r}: send the "
            f"{PROTOCOL_HEADER} header / `protocol` field (this side speaks {sorted(SUPPORTED)})"
        ) from None
    if value not in SUPPORTED:
        raise ProtocolError(
            f"protocol version {value} is not supported here (this side speaks {sorted(SUPPORTED)}); "
            "upgrade the older of bench and HQ"
        )
    return value


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # Strict, and the schema names the versions: what OpenAPI says is exactly what HQ takes.
    protocol: WholeNumber = Field(default=PROTOCOL, json_schema_extra={"enum": sorted(SUPPORTED)})

    @field_validator("protocol")
    @classmethod
    def _known(cls, value: int) -> int:
        try:
            return check_protocol(value)
        except ProtocolError as exc:
            raise ValueError(str(exc)) from None


# -- events -------------------------------------------------------------------------------
class EventIn(BaseModel):
    """One bench event as pushed. `station_id` may be repeated here but must match the batch.

    Strict: a number is not a string here nor a string a number, and `at` is ISO 8601 text, so
    what HQ stores (PostgreSQL reads the same JSON) is exactly what the bench sent."""

    model_config = ConfigDict(extra="forbid")
    seq: WholeNumber = Field(ge=1, le=2**62)
    kind: StrictStr = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")
    at: AwareDatetime = Field(json_schema_extra={"pattern": AT_PATTERN})  # RFC 3339 text; the bench's claim
    operator: StrictStr | None = Field(default=None, max_length=64)
    lpn: StrictStr | None = Field(default=None, max_length=64)
    rma_id: StrictStr | None = Field(default=None, max_length=128)
    payload: dict[str, Any] = Field(default_factory=dict)
    station_id: StrictStr | None = Field(default=None, max_length=16)

    @field_validator("at", mode="before")
    @classmethod
    def _iso_text(cls, value: Any) -> Any:
        # pydantic alone would also take a number of seconds ("1700000000"); PostgreSQL, which
        # reads the same body, would not. Only RFC 3339 text passes, so both read the same time.
        if isinstance(value, datetime):  # built in Python (the client), not parsed
            return value
        if not isinstance(value, str) or not _AT.fullmatch(value):
            raise ValueError("`at` must be RFC 3339 text with seconds and an offset (within ±15:59), in years "
                             "0002-9998, e.g. 2026-11-30T04:00:00+00:00")
        return value


class EventBatch(_Body):
    """`POST /api/v1/events`. The station is the token's; `station_id` here is only checked.

    A seq repeated within one batch is taken like a seq sent again in a later batch: the first is
    stored, a repeat with the same content is a duplicate, one with other content a conflict."""

    station_id: StrictStr = Field(pattern=r"^[A-Z0-9]{1,8}$")
    events: list[EventIn] = Field(default_factory=list, max_length=MAX_BATCH)


class EventAck(_Body):
    station_id: str
    acked_seq: int  # highest seq stored without gaps (from 1) for this station
    stored: int  # events of this batch newly stored
    duplicates: int  # events HQ already held (a retry), identical
    # Seqs of this station HQ holds with other content than was sent, open until head office
    # resolves them: this batch's and earlier ones' (at most 1,000), in every answer.
    conflicts: list[int] = Field(default_factory=list)
    server_time: datetime  # so a bench can tell its clock is off


# -- manifest -----------------------------------------------------------------------------
class ManifestPage(_Body):
    """`GET /api/v1/manifest`: RMAs changed after `after`, whole (header and all lines).

    `rmas` rows are `[*RMA_FIELDS]`, `lines` rows `[*LINE_FIELDS]` (every line of those RMAs);
    times are UTC as `YYYY-MM-DDTHH:MM:SS.ffffff+00:00`. `cursor` is the next `after`;
    `more` says whether to ask again now. `remaining` (only with `count=true`) is the number
    of changed RMAs from this page on, for a progress bar.
    """

    cursor: str
    more: bool
    rma_fields: list[str] = list(RMA_FIELDS)
    line_fields: list[str] = list(LINE_FIELDS)
    rmas: list[list[Any]]
    lines: list[list[Any]]
    remaining: int | None = None


def encode_cursor(change_id: int) -> str:
    """Opaque to the bench: it only hands the cursor back."""
    return base64.urlsafe_b64encode(f"c1:{change_id}".encode()).decode().rstrip("=")


def _cursor_pattern() -> str:
    """Exactly the cursors `encode_cursor` makes: base64url (unpadded) of `c1:` and 1-18 digits.

    `c1:` is three bytes, so it is always `YzE6`; then each three digits are four characters, a
    last two digits three, a last one two. An ASCII digit is 0x30-0x39, which leaves few letters
    in each place (worked out bit by bit: 0011dddd 0011dddd 0011dddd in 6-bit groups)."""
    lead = "(?:[MN][DTjz]|O[DT])"  # the first digit's bits (8 and 9 only with D or T)
    three = f"{lead}[AEIMQUYcgk][wxyz0-5]"
    two = f"{lead}[AEIMQUYcgk]"
    one = "(?:[MN][AQgw]|O[AQ])"
    return f"^(?:YzE6(?:{three}){{0,5}}(?:{three}|{two}|{one}))?$"


CURSOR_PATTERN = _cursor_pattern()
_CURSOR = re.compile(CURSOR_PATTERN)


def decode_cursor(cursor: str | None) -> int:
    """The change id in a cursor; ProtocolError for anything CURSOR_PATTERN does not match."""
    if not cursor:
        return 0
    try:
        if not _CURSOR.fullmatch(cursor):
            raise ValueError
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        tag, _, number = raw.partition(":")
        if tag != "c1" or not number.isascii() or not number.isdigit() or len(number) > MAX_CHANGE_DIGITS:
            raise ValueError
        return int(number)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ProtocolError(f"not a manifest cursor from this HQ: {cursor[:40]!r}") from None


# -- config -------------------------------------------------------------------------------
class ConfigBundle(_Body):
    """`GET /api/v1/config`: the files of HQ's config directory; `version` is also the ETag."""

    version: str = Field(pattern=r"^[0-9a-f]{16,64}$")
    files: dict[str, str]

    @field_validator("files")
    @classmethod
    def _safe_names(cls, files: dict[str, str]) -> dict[str, str]:
        for name in files:
            check_bundle_name(name)
        return files


def check_bundle_name(name: str) -> str:
    """A relative `*.toml` path with no way out of the config directory, and not a local file."""
    parts = name.split("/")
    if (not name.endswith(".toml") or name.startswith("/") or "\\" in name
            or any(p in ("", ".", "..") or p.startswith(".") for p in parts) or len(parts) > 3):
        raise ValueError(f"bad file name in config bundle: {name[:80]!r}")
    if name in LOCAL_ONLY:
        raise ValueError(f"{name} is set by each bench, never by HQ")
    return name


class Health(BaseModel):
    status: str
    protocol: list[int]
    database: str
