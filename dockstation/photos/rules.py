"""Which steps need photos, and when a step has what it needs. Pure functions.

A checklist step asks for photos in two ways (config/categories/*.toml, docs/photos.md):
- `photos = N` on the step: N photos whatever the answer (e.g. the serial label, the screen);
- `photos = N` in its fail branch: on `on_fail` (a failed check, a mismatched or missing value,
  a number out of range) or on a choice's option (e.g. "Damaged").
A step that needs photos is not finished until it has them — the answer is recorded, the
inspection stays on the step — or a lead has waived them. Photos the grader adds to any other
step (or at the grade) are welcome and never required.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dockstation.inspection.checklist import Checklist, Step

UNIT = ""  # the step of a photo of the unit itself (at the grade, at receipt)


def needed(step: Step, answer: Mapping[str, Any] | None) -> int:
    """How many photos `step` needs, given its answer so far (None: not answered yet)."""
    n = step.photos
    if not answer:
        return n
    if step.kind == "choice":
        option = next((o for o in step.options if o.key == answer.get("value")), None)
        return max(n, option.photos if option is not None else 0)
    if answer.get("result") == "fail":
        return max(n, step.on_fail.photos)
    return n


def wants_photos(cl: Checklist) -> bool:
    """Does any step of `cl` ever need a photo?"""
    return any(s.photos or s.on_fail.photos or any(o.photos for o in s.options) for s in cl.steps)


@dataclass(frozen=True)
class PhotoState:
    """A unit's photos as an inspection sees them: how many per step, which steps a lead waived
    (in this inspection), and the latest photo's file (for the preview)."""

    counts: Mapping[str, int] = field(default_factory=dict)
    waived: frozenset[str] = frozenset()
    last_file: str | None = None
    last_step: str | None = None

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def count(self, step_id: str) -> int:
        return self.counts.get(step_id, 0)

    def missing(self, step: Step, answer: Mapping[str, Any] | None) -> int:
        """Photos `step` still needs (0 when it has them or a lead waived them)."""
        if step.id in self.waived:
            return 0
        return max(0, needed(step, answer) - self.count(step.id))


NONE = PhotoState()


def stops(step: Step, answer: Mapping[str, Any]) -> bool:
    """An answer that ends the checklist (e.g. an empty box): its fail branch says `stop`."""
    return step.kind != "choice" and answer.get("result") == "fail" and step.on_fail.stop


def next_open(cl: Checklist, answers: Mapping[str, Any], state: PhotoState, after: int = -1) -> int:
    """The first step after `after` that is not finished — no answer yet, or photos missing — or
    len(steps) (the grade) when there is none or a finished stop answer ends the checklist."""
    for i, step in enumerate(cl.steps):
        if i <= after:
            continue
        answer = answers.get(step.id)
        if answer is None or state.missing(step, answer):
            return i
        if stops(step, answer):
            return len(cl.steps)
    return len(cl.steps)


def short_need(step: Step, missing: int) -> str:
    return f"{missing} photo{'s' if missing > 1 else ''} of “{step.short}”"
