"""Carrier barcodes of each format matched to their RMA, with and without their prefixes; the
manifest's tracking numbers stored in the same normal form (dockstation/carriers.py)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from dockstation import carriers
from dockstation.config import CarrierRule, CarrierRules, load_bench_config
from dockstation.manifest import import_manifest
from dockstation.manifest_csv import COLUMNS
from dockstation.receiving import Bench, handle_scan, sign_in
from dockstation.scan import CodeKind, ScanEvent, classify
from dockstation.types import utcnow

# Real payloads (the public tracking_number_data test numbers), as a scanner sends them: the
# tracking number the manifest holds, and the barcodes that carry it.
CASES = [
    # USPS IMpb: 420 + ZIP (GS1 AI 420, with and without its FNC1), or 420 + ZIP+4
    ("usps", "9101026837331000039521", ["420221539101026837331000039521", "42022153\x1d9101026837331000039521",
                                        "9101026837331000039521", "9101 0268 3733 1000 0395 21"]),
    ("usps", "9200190132607600833457", ["4201002334249200190132607600833457"]),
    ("usps", "9400111201080805483016", ["9400111201080805483016"]),
    # FedEx: the 34-digit Express barcode and the Ground "96" barcode end with the tracking number
    ("fedex", "779017972697", ["1001921334250001000300779017972697", "779017972697"]),
    ("fedex", "776632517510", ["9622001900000000000000776632517510"]),
    ("fedex", "987654312345672", ["9611020987654312345672"]),
    # GS1-128: AI 421 (ship-to postal code with its country) beside AI 00 (SSCC)
    ("sscc", "000123450000000027", ["421840940431\x1d00000123450000000027", "00000123450000000027"]),
    # DHL Express (mod 7) and DHL eCommerce
    ("dhl", "5339281990", ["5339281990"]),
    ("dhl", "JJD0099999999", ["JJD0099999999"]),
    # UPS
    ("ups", "1Z999AA10123456784", ["1Z999AA10123456784"]),
]
HEADER = list(COLUMNS)


def _row(rma_id: str, tracking: str, n: int) -> list[str]:
    return [rma_id, f"O-{n}", "2026-11-01T10:00:00+00:00", "2099-12-01T10:00:00+00:00", "open", "1",
            f"SKU-{n}", "", f"Item {n}", "apparel", "1", "10.00", "USD", "", "wrong_size", "", tracking]


@pytest.fixture
def imported(store, home, tmp_path: Path):
    """A manifest whose tracking numbers are written in the barcodes' long forms where they have one."""
    path = tmp_path / "m.csv"
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(HEADER)
        for n, (_, number, payloads) in enumerate(CASES):
            w.writerow(_row(f"RMA-C-{n:03d}", payloads[0], n))  # the manifest has the long form
    report = import_manifest(store, "B07", path)
    assert report.errors == 0
    return store


def _scan(store, bench, code):
    op = sign_in(store, bench, ScanEvent("OP-1001", "t", None, utcnow()), "1001").operator
    c = classify(code, bench.codes.patterns, None, bench.codes.carriers)
    return handle_scan(store, bench, op, ScanEvent(code, "t", None, utcnow()), c)


@pytest.mark.parametrize("n,case", list(enumerate(CASES)), ids=[c[1] for c in CASES])
def test_every_payload_of_every_carrier_receives_its_rma(imported, bench, n, case):
    carrier, number, payloads = case
    for code in payloads:
        c = classify(code, bench.codes.patterns)
        assert c.kind is CodeKind.TRACKING and c.value == number and c.carrier == carrier, code
    for code in payloads:  # each form finds it (the first receipt takes its one item)
        out = _scan(imported, bench, code)
        if out.status == "received":
            assert out.unit.rma_id == f"RMA-C-{n:03d}"
        else:
            assert out.exception_kind == "duplicate" and out.rma_id == f"RMA-C-{n:03d}"


def test_the_manifest_stores_the_normal_form(imported):
    with imported.read() as s:
        stored = [r for (r,) in s.connection().exec_driver_sql(
            "SELECT tracking_number FROM rma_line ORDER BY rma_id")]
    assert stored == [number for _, number, _ in CASES]


@pytest.mark.parametrize("code,why", [
    ("9400111201080805483017", "USPS"),                       # last digit off by one
    ("420221539101026837331000039522", "USPS"),
    ("1001921334250001000300779017972698", "FedEx"),
    ("1Z999AA10123456785", "UPS"),
])
def test_a_wrong_check_digit_is_refused_as_unreadable(bench, code, why):
    c = classify(code, bench.codes.patterns)
    assert c.kind is CodeKind.INVALID and why in c.problem and "check digit" in c.problem


def test_gtins_stay_products_not_parcels(bench):
    for gtin in ("4006381333931", "036000291452", "04006381333931"):
        assert classify(gtin, bench.codes.patterns).kind is CodeKind.GS1


def test_site_prefix_and_suffix_rules_from_codes_toml(store, home, tmp_path):
    (home / "config" / "codes.toml").write_text(
        '[carriers]\nstrip_prefixes = ["RTN*"]\nstrip_suffixes = ["/R"]\n'
        '[[carriers.rules]]\nname = "hr-return"\npattern = \'HR(?P<tracking>1Z[0-9A-Z]{16})X\\d{3}\'\ncarrier = "ups"\n')
    cfg = load_bench_config(home)
    bench = Bench(station_id="B07", codes=cfg.codes, operators=cfg.operators)
    rules = cfg.codes.carriers
    assert carriers.normalise("RTN*1Z999AA10123456784", rules).number == "1Z999AA10123456784"
    assert carriers.normalise("1Z999AA10123456784/R", rules).number == "1Z999AA10123456784"
    t = carriers.normalise("HR1Z999AA10123456784X042", rules)
    assert (t.number, t.carrier, t.rule) == ("1Z999AA10123456784", "ups", "site:hr-return")
    # the manifest importer applies the same rules (its parser gets them as plain values)
    path = tmp_path / "m.csv"
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(HEADER)
        w.writerow(_row("RMA-S-1", "RTN*1Z999AA10123456784", 1))
    from dockstation.manifest_csv import db_time, open_manifest

    mf = open_manifest(path)
    mf.carriers = rules.site()
    import_manifest(store, "B07", mf.start(db_time(utcnow())))
    out = _scan(store, bench, "HR1Z999AA10123456784X042")
    assert out.status == "received" and out.unit.rma_id == "RMA-S-1"


def test_a_rule_without_a_tracking_group_is_refused():
    with pytest.raises(ValueError, match="tracking"):
        CarrierRules(rules=(CarrierRule(name="x", pattern="^RTN(.*)$"),))


# A 12-digit code can be a FedEx Express tracking number and a UPC-A (GTIN-12) at once: both
# check digits hold for this one. The manifest decides: a known tracking number is the parcel.
BOTH = "123456780026"


def test_a_12_digit_code_valid_as_fedex_and_upc_a_is_both():
    assert carriers.fedex_express_ok(BOTH) and carriers.gs1_ok(BOTH)


def test_a_12_digit_code_on_the_manifest_as_a_tracking_number_receives_its_rma(store, bench, tmp_path):
    path = tmp_path / "m.csv"
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(HEADER)
        w.writerow(_row("RMA-F-1", BOTH, 1))
    assert import_manifest(store, "B07", path).errors == 0
    out = _scan(store, bench, BOTH)
    assert out.status == "received" and out.unit.rma_id == "RMA-F-1"


def test_a_12_digit_code_not_on_the_manifest_is_a_product(store, bench, tmp_path):
    path = tmp_path / "m.csv"
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(HEADER)
        row = _row("RMA-U-1", "", 1)
        row[HEADER.index("gtin")] = BOTH  # the item's UPC-A: the same digits
        w.writerow(row)
    assert import_manifest(store, "B07", path).errors == 0
    c = classify(BOTH, bench.codes.patterns)
    assert c.kind is CodeKind.GS1 and c.gtin == BOTH  # the GTIN/UPC path: a product
    out = _scan(store, bench, BOTH)
    assert out.status == "ignored" and "Product barcode" in out.message  # no parcel: not an exception
    from dockstation.search import search

    [m] = search(store, BOTH)
    assert (m.rma_id, m.matched_on) == ("RMA-U-1", ("gtin",))
