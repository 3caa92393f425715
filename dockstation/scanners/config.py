"""`[[scanners]]` in station.toml: one table per serial scanner."""

from __future__ import annotations

import codecs
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


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

    @field_validator("encoding")
    @classmethod
    def _known_codec(cls, value: str) -> str:
        try:
            codecs.lookup(value)
        except LookupError as exc:
            raise ValueError(f"unknown encoding {value!r}") from exc
        return value
