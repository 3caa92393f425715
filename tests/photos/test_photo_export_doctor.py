"""Photos in `dockstation export photos` and in `dockstation doctor` (a missing or changed file)."""

from __future__ import annotations

import csv
import io
import json

from click.testing import CliRunner
from photo_support import picture, receive_unit

from dockstation import inspection as ins
from dockstation.cli import main
from dockstation.inspection import Response
from dockstation.inspection.photos import add_photo
from dockstation.photos.image import process


def two_photos(store, bench, checklists, grader, lead_photo: bool = True):
    lpn = receive_unit(store, bench)
    view = ins.open_inspection(store, bench, grader, lpn, checklists)
    view = ins.answer(store, bench, grader, view.inspection_id, Response("pass"), checklists)
    a = add_photo(store, bench, grader, lpn, process(picture(seed=1)), step="label",
                  inspection_id=view.inspection_id, camera="desk", checklists=checklists)
    b = add_photo(store, bench, bench.operators.by_badge("1001"), lpn, process(picture(seed=2)), camera="desk")
    return lpn, a, b


def test_export_photos_as_json_and_csv(store, bench, checklists, grader, home):
    lpn, a, b = two_photos(store, bench, checklists, grader)
    runner = CliRunner()
    out = runner.invoke(main, ["--home", str(home), "export", "photos", "--format", "json"])
    assert out.exit_code == 0, out.output
    rows = json.loads(out.stdout)
    assert [(r["lpn"], r["step"], r["operator"], r["sha256"], r["file"], r["uploaded"]) for r in rows] == [
        (lpn, "label", "2001", a.sha256, a.file, False), (lpn, "", "1001", b.sha256, b.file, False)]
    assert rows[0]["taken_at"].endswith("+00:00") and rows[0]["camera"] == "desk"
    out = runner.invoke(main, ["--home", str(home), "export", "photos", "--format", "csv"])
    table = list(csv.DictReader(io.StringIO(out.stdout)))
    assert list(table[0])[:7] == ["lpn", "step", "taken_at", "operator", "file", "sha256", "uploaded"]
    assert table[0]["sha256"] == a.sha256 and table[0]["uploaded"] == "False"


def test_doctor_reports_a_missing_or_changed_photo_file(store, bench, checklists, grader, home):
    lpn, a, b = two_photos(store, bench, checklists, grader)
    runner = CliRunner()
    ok = runner.invoke(main, ["--home", str(home), "doctor", "--format", "json"])
    photos = {c["name"]: c for c in json.loads(ok.stdout)["checks"]}["photos"]
    assert photos["status"] == "ok" and "2 photo(s) present and unchanged" in photos["detail"]
    (home / a.file).unlink()
    changed = bytearray((home / b.file).read_bytes())
    changed[-10] ^= 0xFF
    (home / b.file).write_bytes(bytes(changed))
    bad = runner.invoke(main, ["--home", str(home), "doctor"])
    assert bad.exit_code == 1 and "photos" in bad.stderr
    line = next(ln for ln in bad.stdout.splitlines() if " photos " in ln)
    assert "✖ FAIL" in line and f"{lpn} {a.file} missing" in line and f"{lpn} {b.file} changed" in line


def test_doctor_warns_when_checklists_ask_for_photos_and_there_is_no_camera(gadgets):
    out = CliRunner().invoke(main, ["--home", str(gadgets), "doctor", "--format", "json"])
    cameras = {c["name"]: c for c in json.loads(out.stdout)["checks"]}["cameras"]
    assert cameras["status"] == "warn" and "gadgets" in cameras["detail"]
