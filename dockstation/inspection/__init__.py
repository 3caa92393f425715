"""Inspection: category checklists and condition grading (layer 1, intake quality).

Core only (no Textual): checklist config (`checklist`), judging answers and suggesting the grade
(`answers`), the use cases over the store (`core`), and the grader's fast path (`fastpath`: all
pass in one input, scanned values in any order). The screen is dockstation.tui.inspect.
"""

from dockstation.inspection.answers import (
    Answer,
    Expected,
    InvalidAnswer,
    Response,
    evaluate,
    flags_of,
    lowest_cap,
    suggest_grade,
)
from dockstation.inspection.checklist import (
    FALLBACK,
    KNOWN_FLAGS,
    Checklist,
    Checklists,
    Impact,
    Option,
    Step,
    load_checklists,
    load_or_last_good,
)
from dockstation.inspection.core import (
    InspectionError,
    InspectionRefused,
    InspectionResult,
    InspectionView,
    UnitInfo,
    answer,
    cancel,
    finish,
    inspection_result,
    open_inspection_of,
    set_note,
    step_back,
    steps_left,
)
from dockstation.inspection.fastpath import (
    Scanned,
    all_pass,
    all_pass_unit,
    answer_scan,
    match_value,
    passing,
    scan_fits,
)
from dockstation.inspection.opening import open_inspection

__all__ = [
    "FALLBACK", "KNOWN_FLAGS", "Answer", "Checklist", "Checklists", "Expected", "Impact",
    "InspectionError", "InspectionRefused", "InspectionResult", "InspectionView", "InvalidAnswer",
    "Option", "Response", "Scanned", "Step", "UnitInfo", "all_pass", "all_pass_unit", "answer", "answer_scan",
    "match_value",
    "passing", "scan_fits", "cancel", "evaluate", "finish", "flags_of",
    "inspection_result", "load_checklists", "load_or_last_good", "lowest_cap", "open_inspection", "open_inspection_of",
    "set_note", "step_back", "steps_left", "suggest_grade",
]
