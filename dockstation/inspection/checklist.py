"""Checklists: the inspection steps of each category, from `config/categories/*.toml`.

One file per checklist; the file name (without `.toml`) is the checklist's key and the category
it serves, and `categories = [...]` adds aliases. Files are layered like every other config file
(package → `$DOCKSTATION_HOME/config/categories/` → `…/config/hq/categories/`, tables merge and
arrays such as `steps` replace), then validated whole against the grade scale of codes.toml.
A bad file is refused with its path, the key and the reason (`ConfigError`); the caller keeps the
last good set. `generic.toml` is required: it serves every category no file claims.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from dockstation.config import CodesConfig, ConfigError, Strict, _blame, layer_dirs, merge, read_toml

FALLBACK = "generic"
Flag = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{1,39}$")]
Key = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
Command = Literal["PASS", "FAIL", "NA"]

# Risk flags the default checklists raise; the policy reads them from Unit.risk_flags. Sites may
# raise others (any lower_snake name), but should tell whoever writes the policy rules.
KNOWN_FLAGS = ("serial_mismatch", "wrong_item", "empty_box", "missing_accessories",
               "hygiene_seal_broken", "activation_locked", "safety_risk", "short_dated")


class Impact(Strict):
    """What an answer implies: a grade cap, risk flags, and whether the rest can be skipped."""

    grade_cap: str | None = None
    flags: list[Flag] = Field(default_factory=list)
    stop: bool = False  # e.g. an empty box: nothing left to inspect, go straight to the grade
    # photos the failure needs before the step is finished (docs/photos.md); 0: none required
    photos: int = Field(default=0, ge=0, le=10)

    @property
    def empty(self) -> bool:
        return self.grade_cap is None and not self.flags


class Option(Strict):
    key: Key
    label: str = Field(min_length=1, max_length=40)
    command: Command | None = None  # which command barcode picks this option, if any
    grade_cap: str | None = None
    flags: list[Flag] = Field(default_factory=list)
    photos: int = Field(default=0, ge=0, le=10)  # photos this answer needs (e.g. "Damaged")

    @property
    def impact(self) -> Impact:
        return Impact(grade_cap=self.grade_cap, flags=self.flags)


class Step(Strict):
    id: Key
    prompt: str = Field(min_length=1, max_length=160)
    label: str = Field(default="", max_length=24)  # short name in the "observed" list
    help: str = Field(default="", max_length=160)
    kind: Literal["check", "scan", "choice", "number"]
    required: bool = True  # False: n.a. (CMD:NA) is an accepted answer
    # photos the step needs whatever the answer (its fail branch may ask for more: on_fail.photos,
    # an option's photos); the step is not finished until it has them, or a lead waives them
    photos: int = Field(default=0, ge=0, le=10)
    # what a failure implies: a failed check, a scanned value that does not match (or is not on
    # the unit), a number outside pass_min..pass_max
    on_fail: Impact = Impact()
    # kind = "scan": what is scanned and compared with the manifest line
    value: Literal["imei", "serial", "gtin"] | None = None
    # kind = "choice"
    options: list[Option] = Field(default_factory=list)
    # kind = "number": accepted range, and the range that passes
    unit: str = Field(default="", max_length=8)
    min: float | None = None
    max: float | None = None
    pass_min: float | None = None
    pass_max: float | None = None

    @property
    def short(self) -> str:
        return self.label or self.id.replace("_", " ").capitalize()

    @model_validator(mode="after")
    def _kind_fields(self) -> Step:
        if self.kind == "scan" and self.value is None:
            raise ValueError("a scan step needs `value` (imei, serial or gtin)")
        if self.kind != "scan" and self.value is not None:
            raise ValueError("`value` is only for scan steps")
        if self.kind == "choice":
            if len(self.options) < 2:
                raise ValueError("a choice step needs at least two options")
            if len(self.options) > 9:
                raise ValueError("a choice step has at most nine options (keys 1-9)")
            keys = [o.key for o in self.options]
            if len(set(keys)) != len(keys):
                raise ValueError(f"option keys repeat: {keys}")
            commands = [o.command for o in self.options if o.command]
            if len(set(commands)) != len(commands):
                raise ValueError(f"two options answer the same command: {commands}")
            if not self.on_fail.empty or self.on_fail.photos:
                raise ValueError("a choice step has no `on_fail`: put grade_cap/flags/photos on its options")
        elif self.options:
            raise ValueError("`options` are only for choice steps")
        numeric = (self.min, self.max, self.pass_min, self.pass_max)
        if self.kind != "number" and any(v is not None for v in numeric):
            raise ValueError("min/max/pass_min/pass_max are only for number steps")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is above max {self.max}")
        return self


class Checklist(Strict):
    version: str = Field(min_length=1, max_length=40)
    title: str = Field(min_length=1, max_length=40)
    categories: list[Key] = Field(default_factory=list)
    steps: list[Step] = Field(min_length=1, max_length=30)
    key: str = ""  # set by the loader from the file name; not written in the file

    @field_validator("steps")
    @classmethod
    def _unique_ids(cls, steps: list[Step]) -> list[Step]:
        ids = [s.id for s in steps]
        if len(set(ids)) != len(ids):
            raise ValueError(f"step ids repeat: {sorted({i for i in ids if ids.count(i) > 1})}")
        return steps

    def index_of(self, step_id: str) -> int | None:
        return next((i for i, s in enumerate(self.steps) if s.id == step_id), None)


# The step a unit's checklist gets when its manifest line names a serial and the checklist has no
# serial or IMEI step of its own (e.g. a site category that falls to `generic`): an expected
# serial is always verified. Its grade cap is the scale's second-lowest grade (D by default).
SERIAL_STEP_ID = "serial"
SERIAL_VERSION_SUFFIX = "+serial"


def _serial_step(step_id: str, grade_cap: str | None) -> Step:
    return Step(id=step_id, label="Serial number", prompt="Scan the serial number",
                help="The manifest names this unit's serial: from its label or its box. 2 = not found",
                kind="scan", value="serial", on_fail=Impact(flags=["serial_mismatch"], grade_cap=grade_cap))


def with_serial_step(cl: Checklist, grade_cap: str | None) -> Checklist:
    """`cl` with a serial step (after a leading stop check such as "item in parcel"), unless it
    has a serial or IMEI step already. The version says so (`+serial`): the inspection records it."""
    if any(s.kind == "scan" and s.value in ("serial", "imei") for s in cl.steps):
        return cl
    step_id = SERIAL_STEP_ID if cl.index_of(SERIAL_STEP_ID) is None else "expected_serial"
    at = 1 if cl.steps[0].on_fail.stop else 0
    steps = [*cl.steps[:at], _serial_step(step_id, grade_cap), *cl.steps[at:]]
    return cl.model_copy(update={"steps": steps, "version": cl.version + SERIAL_VERSION_SUFFIX})


@dataclass(frozen=True)
class Checklists:
    """All checklists of this bench, and which one serves which category."""

    by_key: dict[str, Checklist]
    by_category: dict[str, str]
    serial_cap: str | None = None  # grade cap of an added serial step (with_serial_step)
    # Checklists with the serial step added, made once per checklist (they are frozen): building
    # one is a pydantic copy of the whole checklist, on every step of a unit with a serial.
    _with_serial: dict[int, tuple[Checklist, Checklist]] = field(default_factory=dict, repr=False, compare=False)

    def for_category(self, category: str) -> Checklist:
        key = self.by_category.get(_norm(category), FALLBACK)
        return self.by_key[key]

    def get(self, key: str) -> Checklist | None:
        return self.by_key.get(key)

    def for_unit(self, category: str, expected_serial: str | None) -> Checklist:
        """The checklist a unit is inspected with: its category's, plus a serial step when the
        manifest expects a serial the checklist would not otherwise ask for."""
        return self.effective(self.for_category(category), expected_serial)

    def effective(self, cl: Checklist, expected_serial: str | None) -> Checklist:
        if not expected_serial:
            return cl
        made = self._with_serial.get(id(cl))
        if made is None or made[0] is not cl:  # keyed by identity; the pair keeps `cl` alive
            made = self._with_serial[id(cl)] = (cl, with_serial_step(cl, self.serial_cap))
        return made[1]


def _norm(category: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", category.strip().lower()).strip("_")


def _grade_refs(cl: Checklist) -> list[tuple[tuple[Any, ...], str]]:
    refs: list[tuple[tuple[Any, ...], str]] = []
    for i, step in enumerate(cl.steps):
        if step.on_fail.grade_cap:
            refs.append((("steps", i, "on_fail", "grade_cap"), step.on_fail.grade_cap))
        for j, opt in enumerate(step.options):
            if opt.grade_cap:
                refs.append((("steps", i, "options", j, "grade_cap"), opt.grade_cap))
    return refs


def _key(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc) or "(top level)"


def validate_checklist(key: str, files: list[tuple[Path, dict[str, Any]]], codes: CodesConfig) -> Checklist:
    """Merge the layers of one checklist file and validate it, grade caps against the scale."""
    merged: dict[str, Any] = {}
    for _, data in files:
        merged = merge(merged, data)
    if "key" in merged:
        raise ConfigError(_blame(files, ("key",)), "key", "the checklist key is the file name; remove `key`")
    try:
        cl = Checklist.model_validate({**merged, "key": key})
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err["loc"])
        raise ConfigError(_blame(files, loc), _key(loc), err["msg"]) from exc
    scale = [g.code for g in codes.grades]
    for loc, code in _grade_refs(cl):
        if code not in scale:
            raise ConfigError(_blame(files, loc), _key(loc),
                              f"grade {code!r} is not in the grade scale of codes.toml ({', '.join(scale)})")
    return cl


def category_dirs(home: Path | None) -> list[Path]:
    return [d / "categories" for d in layer_dirs(home)]


def load_checklists(home: Path | None, codes: CodesConfig) -> Checklists:
    """Every checklist of every layer, validated; raises ConfigError on the first bad file."""
    layers: dict[str, list[tuple[Path, dict[str, Any]]]] = {}
    for d in category_dirs(home):
        if not d.is_dir():
            continue
        for path in sorted(d.glob("*.toml")):
            if not re.fullmatch(r"[a-z][a-z0-9_]{0,31}", path.stem):
                raise ConfigError(str(path), "", "file name must be a lower_snake category key, e.g. phones.toml")
            layers.setdefault(path.stem, []).append((path, read_toml(path)))
    by_key = {key: validate_checklist(key, files, codes) for key, files in sorted(layers.items())}
    if FALLBACK not in by_key:
        where = category_dirs(home)[-1 if home else 0] / f"{FALLBACK}.toml"
        raise ConfigError(str(where), "", "the generic checklist (fallback for any other category) is missing")
    # File names first, so an alias can never take a category that has its own file.
    by_category: dict[str, str] = {key: key for key in by_key}
    for key, cl in by_key.items():
        for i, cat in enumerate(cl.categories):
            owner = by_category.get(cat)
            if owner is not None and owner != key:
                raise ConfigError(_blame(layers[key], ("categories", i)), f"categories.{i}",
                                  f"category {cat!r} is already served by {owner}.toml")
            by_category[cat] = key
    # The site's own names last: a site's mapping wins over the packaged aliases.
    by_category.update(load_category_map(home, by_key))
    scale = [g.code for g in codes.grades]
    return Checklists(by_key=by_key, by_category=by_category,
                      serial_cap=scale[-2] if len(scale) > 1 else None)


class CategoryMap(Strict):
    """`category_map.toml`: a site's own category names → the checklist (file name) serving them."""

    categories: dict[str, str] = Field(default_factory=dict)


CATEGORY_MAP = "category_map.toml"


def load_category_map(home: Path | None, by_key: dict[str, Checklist]) -> dict[str, str]:
    """Every layer's `category_map.toml`, merged and validated: names normalised like a unit's
    category (`"Consumer Electronics"` → `consumer_electronics`), targets existing checklists."""
    files = [(d / CATEGORY_MAP, read_toml(d / CATEGORY_MAP)) for d in layer_dirs(home) if (d / CATEGORY_MAP).is_file()]
    merged: dict[str, Any] = {}
    for _, data in files:
        merged = merge(merged, data)
    try:
        cmap = CategoryMap.model_validate(merged)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err["loc"])
        raise ConfigError(_blame(files, loc), _key(loc), err["msg"]) from exc
    out: dict[str, str] = {}
    for name, target in cmap.categories.items():
        loc = ("categories", name)
        norm = _norm(name)
        if not norm:
            raise ConfigError(_blame(files, loc), _key(loc), "a category name needs a letter or a digit")
        if target not in by_key:
            raise ConfigError(_blame(files, loc), _key(loc),
                              f"no checklist {target!r}: the checklists are {', '.join(sorted(by_key))}")
        if norm in by_key and norm != target:
            raise ConfigError(_blame(files, loc), _key(loc),
                              f"{norm!r} is the checklist {norm}.toml itself: it cannot map to {target!r}")
        out[norm] = target
    return out


_last_good: dict[str, Checklists] = {}


def load_or_last_good(home: Path | None, codes: CodesConfig) -> tuple[Checklists | None, str]:
    """Load the checklists; if a file is now refused, keep the last good set of this home (and say
    why). None only if nothing good was ever loaded here."""
    try:
        _last_good[str(home)] = load_checklists(home, codes)
        return _last_good[str(home)], ""
    except ConfigError as exc:
        return _last_good.get(str(home)), f"Checklist config refused: {exc}"
