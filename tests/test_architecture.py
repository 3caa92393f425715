"""The functional core stays free of UI and I/O frameworks."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = {"textual", "serial", "httpx", "fastapi", "uvicorn"}
CORE = ["dockstation/receiving", "dockstation/containers", "dockstation/inspection", "dockstation/policy", "dockstation/kpis",
        "dockstation/models.py", "dockstation/store.py", "dockstation/events.py", "dockstation/scan.py",
        "dockstation/config.py", "dockstation/types.py", "dockstation/text.py"]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def core_files() -> list[Path]:
    files: list[Path] = []
    for entry in CORE:
        p = ROOT / entry
        files += sorted(p.rglob("*.py")) if p.is_dir() else [p] if p.exists() else []
    return files


def test_core_modules_import_no_ui_or_io_framework():
    files = core_files()
    assert len(files) >= 8
    offenders = {str(f.relative_to(ROOT)): sorted(_imports(f) & FORBIDDEN) for f in files}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_checker_sees_a_forbidden_import(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from textual.app import App\nimport serial.tools\n")
    assert _imports(bad) & FORBIDDEN == {"textual", "serial"}


# The imperative shell: the only places that may import the frameworks above. The screens and
# commands; the device transports (serial scanners, a network camera's snapshot URL); and
# `dockstation doctor`, whose whole job is to touch the devices and HQ and say what answered.
SHELLS = ["dockstation/tui", "dockstation/cli", "dockstation/scanners/ports.py",
          "dockstation/scanners/serial_reader.py", "dockstation/cameras/http.py", "dockstation/doctor.py"]


def test_only_the_shells_import_a_framework():
    shells = [ROOT / s for s in SHELLS]
    offenders = []
    for f in sorted((ROOT / "dockstation").rglob("*.py")) + sorted((ROOT / "labels").rglob("*.py")):
        if _imports(f) & FORBIDDEN and not any(f == s or s in f.parents for s in shells):
            offenders.append(str(f.relative_to(ROOT)))
    assert offenders == []
