"""docs/events.md lists every event kind the code writes through `events.record`."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def written_kinds() -> dict[str, str]:
    kinds: dict[str, str] = {}
    for pkg in ("dockstation", "sync", "labels"):
        for path in (ROOT / pkg).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                        and node.func.attr == "record" and isinstance(node.func.value, ast.Name)
                        and node.func.value.id == "events" and len(node.args) >= 3):
                    kind = node.args[2]
                    assert isinstance(kind, ast.Constant), f"{path}:{node.lineno}: kind is not a literal"
                    kinds[kind.value] = f"{path.relative_to(ROOT)}:{node.lineno}"
                # a bulk writer's event (events.Batch, e.g. policy/trigger_apply.py: `w.events.add(kind, …)`,
                # written with one executemany) is an event written as much as one through events.record
                if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "add"
                        and isinstance(node.func.value, ast.Attribute) and node.func.value.attr == "events"
                        and node.args):
                    kind = node.args[0]
                    assert isinstance(kind, ast.Constant), f"{path}:{node.lineno}: kind is not a literal"
                    kinds[kind.value] = f"{path.relative_to(ROOT)}:{node.lineno}"
    return kinds


def test_every_written_kind_is_documented():
    kinds = written_kinds()
    assert {"manifest_imported", "manifest_synced", "config_updated", "unit_received"} <= set(kinds)
    doc = (ROOT / "docs" / "events.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", doc, flags=re.M))
    assert {k: w for k, w in kinds.items() if k not in documented} == {}
    assert documented - set(kinds) == set()  # the table lists only kinds that are written
