"""A closed container's label and manifest, rendered and read back: the label's barcode gives the
id, the manifest lists exactly its units and the lowest grade; the print queue sends the label."""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path

import pytest
from containers_support import disposed, events_of, operator

from dockstation import containers as ct
from dockstation.containers import manifest
from dockstation.containers.printing import label_bytes, label_of
from labels.container import ContainerLabel, render_container
from labels.model import LabelError, get_template
from labels.queue import PrintQueue

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "labels"))
from labels_support import decode, pdf_image, zpl_image  # noqa: E402

GRADES = ["A", "B", "C", "D", "F"]


@pytest.fixture
def closed(store, bench, policy):
    c = ct.open_container(store, "B07", "9001", policy=policy, paths=["liquidate"])
    lpns = [disposed(store, bench, policy, i, grade=g, price="40.00") for i, g in enumerate("CDC", 1)]
    for lpn in lpns:
        ct.put(store, "B07", "2001", lpn, c.id, policy=policy)
    return ct.close(store, "B07", operator(bench, "grader"), c.id, grade_order=GRADES), lpns


@pytest.mark.parametrize("fmt", ["zpl", "png", "pdf"])
def test_the_label_s_barcode_gives_the_container_id(closed, fmt):
    c, _ = closed
    data = label_bytes(c, fmt, "4x6-203")
    size = get_template("4x6-203")
    if fmt == "zpl":
        img = zpl_image(data, size)
        assert b"LOT GRADE D" in data and b"UNITS 3" in data and b"VALUE 24.80" in data
    elif fmt == "png":
        from PIL import Image
        img = Image.open(io.BytesIO(data))
    else:
        img = pdf_image(data, 203)
    assert decode(img) == [c.id]


def test_label_fields_are_escaped_and_the_id_validated(closed):
    c, _ = closed
    label = label_of(c)
    hostile = ContainerLabel(**{**label.__dict__, "destination": "^XZ^XA~JA", "vendor": None})
    zpl = render_container(hostile, "zpl")
    assert zpl.count(b"^XA") == 1 and b"~" not in zpl
    with pytest.raises(LabelError):
        ContainerLabel(**{**label.__dict__, "container_id": "CT>:1"})


def test_the_manifest_lists_exactly_its_units_and_the_lowest_grade(closed, store):
    c, lpns = closed
    m = manifest.load(store, c.id)
    rows = list(csv.DictReader(io.StringIO(manifest.render(m, "csv").decode())))
    assert [r["lpn"] for r in rows] == lpns
    assert [(r["grade"], r["recovery_value"]) for r in rows] == [("C", "10.00"), ("D", "4.80"), ("C", "10.00")]
    pdf = manifest.render(m, "pdf")
    import pypdfium2
    doc = pypdfium2.PdfDocument(pdf)
    text = "".join(doc[i].get_textpage().get_text_range() for i in range(len(doc)))
    doc.close()
    for lpn in lpns:
        assert lpn in text
    assert "lot grade D" in text and c.id in text and "value 24.80" in text
    found = [w for w in text.split() if w.startswith("B07-")]
    assert found == lpns


def test_the_print_queue_sends_the_container_label(closed, store, tmp_path):
    c, _ = closed
    spool = tmp_path / "spool"
    queue = PrintQueue(store, "B07", f"dir://{spool}")
    status = queue.pump()
    assert status.state == "ok" and status.waiting == 0
    files = sorted(p.name for p in spool.iterdir())
    assert any(name.startswith(c.id) for name in files)
    assert events_of(store, kind="container_label_printed")
