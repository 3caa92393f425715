"""Containers after the label (layer 4, execution routing on the floor): totes, gaylords, pallets
and vendor-return boxes that disposed units are sorted into, closed with a label and a manifest.

Plain Python over the store, like the rest of the functional core: no Textual, no HTTP. See
docs/containers.md. Other features ask "is this unit sorted?" with `is_sorted` / `unsorted_units`.
"""

from dockstation.containers.core import (
    KINDS,
    ContainerError,
    ContainerRefused,
    PutOutcome,
    close,
    containers,
    get,
    open_container,
    put,
    reopen,
    take_out,
)
from dockstation.containers.queries import (
    Board,
    Unsorted,
    board,
    container_of,
    is_sorted,
    lot_grade,
    suggest,
    units_in,
    unsorted_count,
    unsorted_units,
)

__all__ = [
    "KINDS", "Board", "ContainerError", "ContainerRefused", "PutOutcome", "Unsorted", "board", "close",
    "container_of", "containers", "get", "is_sorted", "lot_grade", "open_container", "put", "reopen",
    "suggest", "take_out", "units_in", "unsorted_count", "unsorted_units",
]
