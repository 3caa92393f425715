"""Receiving: sign-in, parcel lookup, units with LPNs, and the exception queue (layer 1)."""

from dockstation.receiving.core import (
    Bench,
    LineChoice,
    Outcome,
    UnitView,
    default_triage,
    handle_scan,
    receive_in,
    receive_line,
    record_exception,
    sign_in,
)

__all__ = [
    "Bench",
    "LineChoice",
    "Outcome",
    "UnitView",
    "default_triage",
    "handle_scan",
    "receive_in",
    "receive_line",
    "record_exception",
    "sign_in",
]
