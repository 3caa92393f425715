"""`dockstation containers …` and `dockstation export containers`, end to end through click."""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path

from click.testing import CliRunner
from containers_support import disposed
from PIL import Image

from dockstation import containers as ct
from dockstation.cli import main

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "labels"))
from labels_support import decode  # noqa: E402


def run(home, *args):
    res = CliRunner().invoke(main, ["--home", str(home), *args])
    return res.exit_code, res.output


def test_open_put_close_label_manifest_and_export(home, store, bench, policy, tmp_path):
    code, out = run(home, "containers", "open", "--path", "vendor_return")
    assert code == 0 and out.strip() == "CT-B07-000001"
    lpn = disposed(store, bench, policy, 1, category="headphones", grade="D", price="90.00", reason_code="defective")
    ct.put(store, "B07", "2001", lpn, "CT-B07-000001", policy=policy)
    code, out = run(home, "containers", "close", "CT-B07-000001")
    assert code == 1 and "authorisation" in out
    code, out = run(home, "containers", "close", "CT-B07-000001", "--authorisation", "RA-77")
    assert code == 0 and "closed: 1 units" in out
    assert (home / "containers" / "CT-B07-000001-manifest.csv").is_file()
    assert (home / "containers" / "CT-B07-000001-manifest.pdf").is_file()
    png = tmp_path / "c.png"
    code, _ = run(home, "containers", "label", "CT-B07-000001", "--format", "png", "-o", str(png))
    assert code == 0 and decode(Image.open(png)) == ["CT-B07-000001"]
    man = tmp_path / "m.csv"
    code, _ = run(home, "containers", "manifest", "CT-B07-000001", "--format", "csv", "-o", str(man))
    assert [r["lpn"] for r in csv.DictReader(io.StringIO(man.read_text()))] == [lpn]
    code, out = run(home, "export", "containers", "--format", "json")
    assert code == 0
    (row,) = json.loads(out)
    assert row["id"] == "CT-B07-000001" and row["path"] == "vendor_return" and row["vendor"] == "soundco"
    assert row["state"] == "closed" and row["authorisation"] == "RA-77" and row["lot_grade"] == "D"
    assert row["units"] == [lpn] and row["value"] == "63.50" and row["closed_at"].endswith("+00:00")
    code, out = run(home, "export", "containers", "--format", "csv")
    assert code == 0 and out.splitlines()[0].startswith("id,kind,path,vendor,state,opened_at,closed_at")
    code, out = run(home, "containers", "reopen", "CT-B07-000001", "--reason", "RA was wrong")
    assert code == 0 and ct.get(store, "CT-B07-000001").state == "open"


def test_bad_input_is_refused_with_one_line(home, store):
    code, out = run(home, "containers", "open", "--path", "teleport")
    assert code == 1 and "unknown path" in out
    code, out = run(home, "containers", "open", "--path", "liquidate", "--vendor", "nobody")
    assert code == 1 and "unknown vendor" in out
    code, out = run(home, "containers", "close", "CT-B07-999999")
    assert code == 1 and "no container" in out
