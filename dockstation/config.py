"""Layered, validated TOML configuration.

Layers, later wins: the package defaults (`config/`), then `$DOCKSTATION_HOME/config/` (site and
station overrides), then `$DOCKSTATION_HOME/config/hq/` (what the bench last pulled from HQ and
validated). Tables merge key by key; arrays and values replace. Every file is parsed and the merged
result validated; a bad file is refused with the file, the key and the reason (`ConfigError`),
and the caller keeps the last good configuration.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from dockstation.home import ENV_HOME, default_home  # noqa: F401 — re-exported
from dockstation.photos.config import CameraConfig, PhotosConfig, unique_cameras
from dockstation.scanners.config import ScannerConfig, evdev_device_problem


class ConfigError(Exception):
    """A configuration file that cannot be used: `file`, `key` and `reason` say why."""

    def __init__(self, file: str, key: str, reason: str) -> None:
        self.file, self.key, self.reason = file, key, reason
        where = f"{file}: {key}: " if key else f"{file}: "
        super().__init__(f"{where}{reason}")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# -- codes.toml ---------------------------------------------------------------------------
class GradeDef(Strict):
    code: str = Field(pattern=r"^[A-Z][A-Z0-9]{0,3}$")
    name: str
    definition: str


class Patterns(Strict):
    rma: str = r"^RMA-[A-Z0-9][A-Z0-9-]{2,40}$"
    lpn: str = r"^(?P<station>[A-Z0-9]{1,8})-(?P<seq>[0-9]{8})$"
    badge: str = r"^OP-(?P<badge>[A-Za-z0-9_-]{1,32})$"
    command: str = r"^CMD:(?P<command>[A-Z]+)(?::(?P<arg>[A-Za-z0-9_+-]{1,16}))?$"
    tracking: dict[str, str] = Field(default_factory=dict)
    # Containers (docs/containers.md): the bench's own `CT-<station>-<6 digits>`, and optionally a
    # site's preprinted container labels (e.g. '^GL[0-9]{6}$'); what they match must also be a
    # valid container id (1-32 of A-Z 0-9 - _, so it can be a Code 128 on the container label).
    container: str = r"^CT-(?P<station>[A-Z0-9]{1,8})-(?P<seq>[0-9]{6})$"
    container_preprinted: str | None = None

    @model_validator(mode="after")
    def _compiles(self) -> Patterns:
        for name, value in [("rma", self.rma), ("lpn", self.lpn), ("badge", self.badge),
                            ("command", self.command), ("container", self.container),
                            ("container_preprinted", self.container_preprinted or ""), *[(f"tracking.{k}", v) for k, v in self.tracking.items()]]:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"patterns.{name}: not a valid regular expression: {exc}") from exc
        return self


class CarrierRule(Strict):
    """A site's own label form: `pattern` (a regular expression, matched against the whole code)
    with a `(?P<tracking>…)` group holding the tracking number; `carrier` names it if it is known."""

    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")
    pattern: str
    carrier: str | None = None

    @field_validator("pattern")
    @classmethod
    def _has_tracking(cls, value: str) -> str:
        try:
            rx = re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from exc
        if "tracking" not in rx.groupindex:
            raise ValueError("needs a (?P<tracking>...) group: the tracking number inside the code")
        return value


class CarrierRules(Strict):
    """codes.toml `[carriers]`: what a site's labels put around the tracking number, removed
    before a scan (or a manifest row) is matched (dockstation/carriers.py, docs/receiving.md)."""

    strip_prefixes: tuple[str, ...] = ()
    strip_suffixes: tuple[str, ...] = ()
    rules: tuple[CarrierRule, ...] = ()

    @property
    def active(self) -> bool:
        return bool(self.strip_prefixes or self.strip_suffixes or self.rules)

    def site(self) -> Any:
        """The same rules as plain values (carriers.SiteRules)."""
        from dockstation.carriers import SiteRules

        return SiteRules(self.strip_prefixes, self.strip_suffixes,
                         tuple((r.name, r.pattern, r.carrier) for r in self.rules))


class CodesConfig(Strict):
    version: str = "1"
    reason_codes: dict[str, str] = Field(default_factory=dict)
    grades: list[GradeDef]
    patterns: Patterns = Patterns()
    carriers: CarrierRules = CarrierRules()

    @field_validator("grades")
    @classmethod
    def _unique_grades(cls, grades: list[GradeDef]) -> list[GradeDef]:
        codes = [g.code for g in grades]
        if not codes:
            raise ValueError("at least one grade is needed")
        if len(set(codes)) != len(codes):
            raise ValueError(f"grade codes repeat: {codes}")
        return grades

    def grade(self, code: str) -> GradeDef | None:
        return next((g for g in self.grades if g.code == code), None)


# -- station.toml -------------------------------------------------------------------------
class HQConfig(Strict):
    url: str | None = None
    token: str | None = None
    interval_seconds: float = Field(default=30.0, gt=0)


class PrinterConfig(Strict):
    url: str | None = None  # None: spool files in $DOCKSTATION_HOME/spool (dir://)
    template: Literal["4x6-203", "4x6-300", "4x2-203", "4x2-300"] = "4x6-203"
    # The LPN label printed at receipt (docs/labels.md): on unless a site turns it off; 4x2 in,
    # by default at `template`'s resolution.
    receipt_label: bool = True
    receipt_template: Literal["4x2-203", "4x2-300"] | None = None


SoundMode = Literal["auto", "audio", "bell", "off"]


class WedgeConfig(Strict):
    """Keyboard-wedge scanners: what tells a scanner burst from a person typing."""

    terminators: list[Literal["enter", "tab", "lf"]] = ["enter", "tab", "lf"]
    max_gap_ms: float = Field(default=60.0, gt=0, le=1000)
    min_length: int = Field(default=4, ge=1)
    max_duration_ms: float = Field(default=1500.0, gt=0)
    prefix: str | None = None
    # Optional (Linux, `pip install 'dockstation[evdev]'`): read a HID scanner from its input
    # device instead of the terminal (docs/scanners.md). None: the terminal only.
    evdev_device: str | None = None

    @field_validator("evdev_device")
    @classmethod
    def _event_device(cls, value: str | None) -> str | None:
        if value is not None and (problem := evdev_device_problem(value)):
            raise ValueError(problem)
        return value


class StationConfig(Strict):
    station_id: str = Field(pattern=r"^[A-Z0-9]{1,8}$")
    site: str = "SITE1"
    hq: HQConfig = HQConfig()
    scanners: list[ScannerConfig] = Field(default_factory=list)
    printer: PrinterConfig = PrinterConfig()
    wedge: WedgeConfig = WedgeConfig()
    # Photo evidence (docs/photos.md): one [[cameras]] table per camera; [photos] size and upload.
    cameras: list[CameraConfig] = Field(default_factory=list)
    photos: PhotosConfig = PhotosConfig()
    # auto: tones through the audio device when there is one (not over SSH), else the terminal
    # bell; audio / bell / off force one (docs/tui.md, Sounds). true and false are auto and off.
    sound: SoundMode = "auto"
    sound_player: str | None = Field(default=None, min_length=1, max_length=200)
    return_grace_days: int = Field(default=0, ge=0)
    # Key remapping by binding id, e.g. "inspect.all_pass" = "space" (docs/tui.md, Keys); the ids
    # and keys are checked against the screens' bindings when the TUI starts (tui/keymap.py).
    keys: dict[str, str] = Field(default_factory=dict)

    @field_validator("sound", mode="before")
    @classmethod
    def _sound_bool(cls, value: object) -> object:
        return {True: "auto", False: "off"}.get(value, value) if isinstance(value, bool) else value

    @field_validator("cameras")
    @classmethod
    def _unique_cameras(cls, cameras: list[CameraConfig]) -> list[CameraConfig]:
        return unique_cameras(cameras)

    @field_validator("scanners")
    @classmethod
    def _unique_names(cls, scanners: list[ScannerConfig]) -> list[ScannerConfig]:
        names = [s.name for s in scanners]
        if len(set(names)) != len(names):
            raise ValueError(f"scanner names repeat: {names}")
        return scanners


# -- operators.toml -----------------------------------------------------------------------
Role = Literal["clerk", "grader", "lead"]


class Operator(Strict):
    badge: str = Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")
    name: str
    role: Role

    def can(self, role: Role) -> bool:
        """A lead may do everything; a grader may also receive."""
        order = {"clerk": 0, "grader": 1, "lead": 2}
        return order[self.role] >= order[role]


class OperatorsConfig(Strict):
    operators: list[Operator] = Field(default_factory=list)

    @field_validator("operators")
    @classmethod
    def _unique_badges(cls, ops: list[Operator]) -> list[Operator]:
        badges = [o.badge for o in ops]
        if len(set(badges)) != len(badges):
            raise ValueError(f"badges repeat: {sorted({b for b in badges if badges.count(b) > 1})}")
        return ops

    def by_badge(self, badge: str) -> Operator | None:
        return next((o for o in self.operators if o.badge == badge), None)


# -- loading ------------------------------------------------------------------------------
M = TypeVar("M", bound=BaseModel)


def package_config_dir() -> Path:
    """`config/` in a source checkout (editable install), or the copy inside the wheel."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "default_config", here.parent / "config"):
        if candidate.is_dir():
            return candidate
    raise ConfigError(str(here / "default_config"), "", "the package's default configuration is missing")


def layer_dirs(home: Path | None) -> list[Path]:
    dirs = [package_config_dir()]
    if home is not None:
        dirs += [home / "config", home / "config" / "hq"]
    return dirs


def read_toml(path: Path) -> dict[str, Any]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(str(path), "", f"cannot read: {exc.strerror or exc}") from exc
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:  # TOML is UTF-8; a latin-1 editor's é is a typical culprit
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ConfigError(str(path), "", f"not UTF-8 text: byte 0x{data[exc.start]:02X} at line {line}, "
                          f"column {column}; save the file as UTF-8") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), "", f"not valid TOML: {exc}") from exc


def operators_problem(config: BenchConfig) -> str | None:
    """Why nobody could sign in at this bench, or None: no operators.toml, or one with no
    operators. Not an error that stops the bench (HQ may still send one), but said at start."""
    path = config.home / "config" / "operators.toml"
    if config.operators.operators:
        return None
    if not any((d / "operators.toml").is_file() for d in layer_dirs(config.home)[1:]):  # the home's own
        return f"nobody can sign in: {path} is missing — add the bench's [[operators]] (docs/configuration.md)"
    return f"nobody can sign in: no [[operators]] in {path} — add them (docs/configuration.md)"


def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def _blame(files: list[tuple[Path, dict[str, Any]]], loc: tuple[Any, ...]) -> str:
    """The last layer that set the key at `loc` (or its nearest parent): the file to fix."""
    for depth in range(len(loc), 0, -1):
        for path, data in reversed(files):
            node: Any = data
            for part in loc[:depth]:
                if isinstance(node, dict) and part in node:
                    node = node[part]
                elif isinstance(node, list) and isinstance(part, int) and part < len(node):
                    node = node[part]
                else:
                    break
            else:
                return str(path)
    return str(files[-1][0]) if files else "?"


def validate(model: type[M], files: list[tuple[Path, dict[str, Any]]], name: str) -> M:
    merged: dict[str, Any] = {}
    for _, data in files:
        merged = merge(merged, data)
    try:
        return model.model_validate(merged)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err["loc"])
        key = ".".join(str(p) for p in loc) or "(top level)"
        where = _blame(files, loc) if files else name
        raise ConfigError(where, key, err["msg"]) from exc


def load_layered(name: str, model: type[M], home: Path | None, *, required: bool = False) -> M:
    """Load `name` (e.g. "codes.toml") from every layer that has it, merged and validated."""
    files = [(d / name, read_toml(d / name)) for d in layer_dirs(home) if (d / name).is_file()]
    if required and not files:
        raise ConfigError(str((home or Path(".")) / "config" / name), "", "file is missing")
    return validate(model, files, name)


class BenchConfig(BaseModel):
    """Everything a bench needs to start; built whole or not at all."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)
    home: Path
    codes: CodesConfig
    station: StationConfig
    operators: OperatorsConfig


def load_bench_config(home: Path) -> BenchConfig:
    return BenchConfig(
        home=home,
        codes=load_layered("codes.toml", CodesConfig, home, required=True),
        station=load_layered("station.toml", StationConfig, home, required=True),
        operators=load_layered("operators.toml", OperatorsConfig, home),
    )
