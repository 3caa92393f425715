"""The receipt label (issue 13, item 5): the unit's LPN label, queued with the receipt.

Rendered as ZPL (rasterised offline by zplkit), PNG and PDF, and decoded back with zxing-cpp: the
barcode gives the LPN. Queued in the receiving transaction (unless the site turns it off),
printed by the print queue on 4x2 stock, reprinted as the unit's latest label.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from labels_support import HOSTILE, FD_RE, decode, pdf_image, zpl_image
from sqlmodel import select

from dockstation.config import ConfigError, load_bench_config
from dockstation.models import Event, PrintJob, Unit
from dockstation.receiving import handle_scan, sign_in
from dockstation.scan import ScanEvent, classify
from dockstation.store import LATEST, Store
from dockstation.types import utcnow
from labels.image import render_pdf, render_png
from labels.layout import receipt_layout
from labels.model import TEMPLATES, LabelError
from labels.queue import PrintQueue, enqueue_label, reprint
from labels.receipt import RECEIPT_TEMPLATES, ReceiptLabel, receipt_template
from labels.zpl import render_zpl, unescape_field

WHEN = datetime(2026, 11, 23, 18, 16, tzinfo=UTC)


@pytest.fixture
def receipt() -> ReceiptLabel:
    return ReceiptLabel(lpn="B07-00012345", rma_id="RMA-2026-000123", line_no=2, lane="express",
                        category="health_beauty", station_id="B07", date=WHEN, sla_due=WHEN + timedelta(hours=8),
                        sku="SKU-4711", description="Electric toothbrush, white")


@pytest.mark.parametrize("name", RECEIPT_TEMPLATES)
def test_the_receipt_label_decoded_back_gives_the_lpn_as_zpl_png_and_pdf(receipt, name):
    t = TEMPLATES[name]
    zpl = render_zpl(receipt, name)
    assert zpl.count(b"^XA") == 1 and b"^PW%d" % t.width in zpl and b"^LL%d" % t.height in zpl
    assert decode(zpl_image(zpl, t)) == ["B07-00012345"]
    assert decode(render_png_image(receipt, name)) == ["B07-00012345"]
    pytest.importorskip("pypdfium2", reason="PDF rasteriser for tests (pip install pypdfium2)")
    assert decode(pdf_image(render_pdf(receipt, name), t.dpi)) == ["B07-00012345"]


def render_png_image(label: ReceiptLabel, name: str):
    return render_png_image_bytes(render_png(label, name))


def test_it_says_lpn_rma_and_line_lane_sla_due_and_category(receipt):
    fields = [unescape_field(m) for m in FD_RE.findall(render_zpl(receipt, "4x2-203"))]
    assert fields[0] == "EXPRESS"  # the lane, large: which shelf the unit goes to
    assert {"DUE 11-24 02:16 UTC", "RMA-2026-000123 / LINE 2", "HEALTH BEAUTY", "B07-00012345", "SKU SKU-4711", "Electric toothbrush, white",
            "B07  RECEIVED 2026-11-23 18:16 UTC"} <= set(fields)
    reprinted = render_zpl(dataclasses.replace(receipt, reprint=2), "4x2-203")
    assert b"^FDREPRINT 2^FS" in reprinted and b"REPRINT" not in render_zpl(receipt, "4x2-203")
    no_due = [line.name for line in receipt_layout(dataclasses.replace(receipt, sla_due=None), "4x2-203")]
    assert "due" not in no_due


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_text_keeps_the_zpl_guarantees_and_still_scans(receipt, text):
    label = dataclasses.replace(receipt, rma_id=text, lane=text, category=text, sku=text, description=text)
    zpl = render_zpl(label, "4x2-203")
    assert zpl.count(b"^XA") == 1 and zpl.count(b"^XZ") == 1 and b"~" not in zpl
    assert zpl.count(b"^FD") == zpl.count(b"^FH^FD")
    assert decode(render_png_image(label, "4x2-203")) == ["B07-00012345"]


def test_a_bad_lpn_or_date_is_refused():
    with pytest.raises(LabelError):
        ReceiptLabel(lpn="B07-1>2", rma_id="R", line_no=1, lane="x", category="c", station_id="B07", date=WHEN)
    with pytest.raises(LabelError):
        ReceiptLabel(lpn="B07-00000001", rma_id="R", line_no=1, lane="x", category="c", station_id="B07",
                     date=datetime(2026, 1, 1))
    assert receipt_template("4x6-300") == "4x2-300" and receipt_template("4x6-203", "4x2-300") == "4x2-300"


# -- queued with the receipt -------------------------------------------------------------------
def receive(store, bench, code="RMA-2026-000001"):
    op = sign_in(store, bench, ScanEvent("OP-1001", "t", None, utcnow()), "1001").operator
    return handle_scan(store, bench, op, ScanEvent(code, "t", None, utcnow()), classify(code, bench.codes.patterns))


def test_receiving_queues_the_receipt_label_in_the_same_transaction(bench, manifest):
    bench = dataclasses.replace(bench, receipt_label=True)
    out = receive(manifest, bench)
    lpn = out.unit.lpn
    with manifest.read() as s:
        [job] = s.exec(select(PrintJob)).all()
        assert (job.lpn, job.label, job.kind, job.state, job.data) == (lpn, "receipt", "label", "queued", b"")
        kinds = [(e.kind, e.lpn) for e in s.exec(select(Event).order_by(Event.seq))]
        queued = s.exec(select(Event).where(Event.kind == "label_queued")).one()
    assert kinds[-2:] == [("unit_received", lpn), ("label_queued", lpn)]
    assert queued.payload == {"job_id": job.id, "reprint": 0, "kind": "label", "label": "receipt"}


def test_a_site_that_turns_it_off_gets_no_receipt_label(bench, manifest):
    out = receive(manifest, bench)  # Bench(receipt_label=False): what station.toml's false gives
    assert out.status == "received"
    with manifest.read() as s:
        assert s.exec(select(PrintJob)).all() == []


def test_station_toml_receipt_label_keys(tmp_path):
    def home(extra: str) -> Path:
        h = tmp_path / str(len(list(tmp_path.iterdir())))
        (h / "config").mkdir(parents=True)
        (h / "config" / "station.toml").write_text(f'station_id = "B07"\n{extra}')
        return h

    printer = load_bench_config(home("")).station.printer
    assert printer.receipt_label is True and printer.receipt_template is None
    off = load_bench_config(home("[printer]\nreceipt_label = false\nreceipt_template = \"4x2-300\"\n"))
    assert off.station.printer.receipt_label is False and off.station.printer.receipt_template == "4x2-300"
    with pytest.raises(ConfigError) as bad:
        load_bench_config(home('[printer]\nreceipt_template = "4x6-203"\n'))
    assert bad.value.key == "printer.receipt_template"
    with pytest.raises(ConfigError):
        load_bench_config(home('[printer]\nreceipt_label = "maybe"\n'))


def test_the_print_queue_prints_it_on_4x2_and_reprints_keep_the_lpn(bench, manifest, tmp_path):
    bench = dataclasses.replace(bench, receipt_label=True)
    lpn = receive(manifest, bench).unit.lpn
    spool = tmp_path / "spool"
    queue = PrintQueue(manifest, "B07", f"dir://{spool}", "4x6-300")
    assert queue.pump().printed == 1
    [first] = list(spool.glob("*.zpl"))
    data = first.read_bytes()
    assert b"^PW1200" in data and b"^LL600" in data  # 4x2 at the printer's 300 dpi
    assert decode(zpl_image(data, TEMPLATES["4x2-300"])) == [lpn]
    job = reprint(manifest, "B07", "1001", lpn)  # before grading: the receipt label again
    assert job.label == "receipt" and job.reprint == 1
    with manifest.write() as s:  # graded and disposed since (the policy's own tests do that part)
        unit = s.get(Unit, lpn)
        unit.disposition, unit.state, unit.disposed_at = "restock", "disposed", utcnow()
        enqueue_label(s, unit)
    assert reprint(manifest, "B07", "1001", lpn).label == "disposition"  # the unit's latest label
    queue.pump()
    printed = sorted(spool.glob("*.zpl"), key=lambda p: int(p.stem.rsplit("-", 1)[1]))
    assert len(printed) == 4
    assert b"^FDREPRINT 1^FS" in printed[1].read_bytes() and b"RECEIVED" in printed[1].read_bytes()
    assert b"^FDRESTOCK^FS" in printed[3].read_bytes() and b"^FDREPRINT 2^FS" in printed[3].read_bytes()
    for path in printed:
        t = TEMPLATES["4x2-300"] if b"RECEIVED" in path.read_bytes() else TEMPLATES["4x6-300"]
        assert decode(zpl_image(path.read_bytes(), t)) == [lpn]  # every label, every reprint: one LPN


def test_labels_render_receipt_from_the_command_line(home, bench, manifest, tmp_path):
    from dockstation.cli import main

    lpn = receive(manifest, bench).unit.lpn
    out = tmp_path / "receipt.png"
    result = CliRunner().invoke(main, ["--home", str(home), "labels", "render", lpn, "--receipt",
                                       "--format", "png", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert decode(render_png_image_bytes(out.read_bytes())) == [lpn]
    refused = CliRunner().invoke(main, ["--home", str(home), "labels", "render", lpn, "-o", str(out)])
    assert refused.exit_code != 0 and "no disposition" in refused.output


def render_png_image_bytes(data: bytes):
    import io

    from PIL import Image

    img = Image.open(io.BytesIO(data))
    img.load()
    return img


def test_store_v6_adds_the_label_column_to_an_older_database(tmp_path):
    from store_helpers import rewind_schema

    path = tmp_path / "bench.sqlite3"
    old = Store(path)
    conn = old.raw_connection()
    conn.execute("INSERT INTO rma (rma_id, order_id, created_at, expires_at, status, updated_at) "
                 "VALUES ('R1', 'O', '2026-01-01', '2027-01-01', 'open', '2026-01-01')")
    conn.execute("INSERT INTO unit (lpn, rma_id, line_no, station_id, sku, category, description, unit_price, "
                 "currency, state, lane, risk_flags, received_at, received_by, source, reprints, updated_at) "
                 "VALUES ('B07-00000001', 'R1', 1, 'B07', 's', 'c', 'd', '1', 'USD', 'disposed', 'standard', '[]', "
                 "'2026-01-01', '1001', 't', 0, '2026-01-01')")
    conn.execute("INSERT INTO print_job (lpn, kind, label, reprint, fmt, template, data, state, attempts, "
                 "created_at, next_attempt_at) VALUES ('B07-00000001', 'label', 'disposition', 0, 'zpl', "
                 "'4x6-203', x'00', 'sent', 1, '2026-01-01', '2026-01-01')")
    conn.close()
    old.close()
    rewind_schema(path, 4)  # what release v4 left: no print_job.label, no approval_request
    conn = sqlite3.connect(path)
    assert "label" not in {r[1] for r in conn.execute("PRAGMA table_info(print_job)")}
    conn.close()

    new = Store(path)
    assert new.schema_version() == LATEST >= 6
    with new.read() as s:
        [job] = s.exec(select(PrintJob)).all()
        assert job.label == "disposition" and job.state == "sent"  # every older job printed that one
    conn = sqlite3.connect(path)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    conn.close()
    assert "approval_request" in tables
    new.close()
