"""`[[scanners]]` in station.toml: one table per serial scanner."""

from __future__ import annotations

import codecs
import re
import unicodedata
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

# pyserial 3.5's URL handlers, named here so config stays free of a serial import: an unknown
# scheme (a typo like hwgerp://) is refused at load instead of retrying for ever at the bench.
URL_SCHEMES = {"alt", "cp2110", "hwgrep", "loop", "rfc2217", "socket", "spy"}


def encoding_problem(encoding: str) -> str | None:
    """Why `encoding` cannot frame a serial scanner's lines, or None. Terminators are matched as
    ASCII bytes, so the codec must encode CR/LF as themselves (utf-16 and rot13 do not)."""
    try:
        info = codecs.lookup(encoding)
    except LookupError:
        return f"unknown encoding {encoding!r}"
    if not getattr(info, "_is_text_encoding", True) or "\r\n".encode(encoding) != b"\r\n":
        return f"encoding {encoding!r} is not ASCII-compatible"
    return None


class ScannerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=32)
    port: str = Field(min_length=1)  # /dev/ttyACM0, /dev/serial/by-id/..., or hwgrep://VID:PID
    baudrate: int = Field(default=9600, gt=0)
    bytesize: Literal[5, 6, 7, 8] = 8
    parity: Literal["N", "E", "O", "M", "S"] = "N"
    stopbits: Literal[1, 1.5, 2] = 1
    terminator: Literal["CR", "LF", "CRLF"] = "CR"
    encoding: str = "utf-8"
    max_length: int = Field(default=4096, gt=0)
    # A pause longer than this (ms) without the terminator ends a fragment: a scanner sends a
    # code back to back (~1 ms a byte), a person scans again only after a second or so.
    idle_ms: float = Field(default=200.0, ge=20, le=5000)

    @field_validator("name")
    @classmethod
    def _printable(cls, value: str) -> str:
        if value != value.strip() or any(unicodedata.category(c)[0] == "C" for c in value):
            raise ValueError("must be printable text without leading or trailing spaces")
        return value

    @field_validator("port")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        m = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*)://", value)
        if m and m[1].lower() not in URL_SCHEMES:
            raise ValueError(f"unknown pyserial URL scheme {m[1]!r} (known: {', '.join(sorted(URL_SCHEMES))})")
        return value

    @field_validator("encoding")
    @classmethod
    def _known_codec(cls, value: str) -> str:
        if problem := encoding_problem(value):
            raise ValueError(problem)
        return value


# -- [wedge] evdev_device in station.toml -------------------------------------------------------
_EVDEV_DEVICE = re.compile(r"/dev/input/(?:event[0-9]+|by-(?:id|path)/[!-.0-~]*event[!-.0-~]*)")


def evdev_device_problem(path: str) -> str | None:
    """Why `path` cannot be a wedge scanner's input device, or None. It must be an event device
    under /dev/input: `/dev/input/by-id/…-event-kbd` (best: it survives replugging), a by-path
    link, or `/dev/input/eventN`. Whether it exists is found out at run time (it may be unplugged)."""
    if not _EVDEV_DEVICE.fullmatch(path):
        return (f"{path!r} is not an input event device: use the scanner's "
                "/dev/input/by-id/…-event-kbd link (ls /dev/input/by-id), or /dev/input/eventN")
    return None
