"""The generated demo manifest is valid and realistic; the demo home is built once and safely."""

from __future__ import annotations

import csv
from collections import Counter
from datetime import UTC, datetime

import pytest
from sqlmodel import select
from stdnum import ean, imei

from dockstation.config import CodesConfig, load_bench_config, load_layered
from dockstation.demo import CATALOGUE, DemoError, build_demo_home, generate_manifest
from dockstation.manifest import import_manifest
from dockstation.models import Event, Rma
from dockstation.scan import CodeKind, classify, ups_valid
from dockstation.store import Store

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def demo_rows(tmp_path_factory):
    path = tmp_path_factory.mktemp("demo") / "m.csv"
    n = generate_manifest(path, rmas=3000, seed=11, now=NOW)
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == n
    return path, rows


def test_generation_is_deterministic(tmp_path):
    a, b, c = tmp_path / "a.csv", tmp_path / "b.csv", tmp_path / "c.csv"
    generate_manifest(a, rmas=200, seed=5, now=NOW)
    generate_manifest(b, rmas=200, seed=5, now=NOW)
    generate_manifest(c, rmas=200, seed=6, now=NOW)
    assert a.read_bytes() == b.read_bytes() != c.read_bytes()


def test_demo_manifest_imports_without_a_bad_row(store, demo_rows):
    path, rows = demo_rows
    report = import_manifest(store, "B07", path)
    assert report.errors == 0 and report.inserted == len(rows) and not report.warnings


def test_check_digits_are_valid(demo_rows, bench):
    _, rows = demo_rows
    phones = [r for r in rows if r["category"] == "phones"]
    assert phones and all(imei.is_valid(r["expected_serial"]) for r in phones)
    gtins = [r["gtin"] for r in rows if r["gtin"]]
    assert len(gtins) > 0.9 * len(rows) and all(len(g) == 13 and ean.is_valid(g) for g in gtins)
    ups = {r["tracking_number"] for r in rows if r["carrier"] == "ups"}
    assert len(ups) > 0.7 * len({r["rma_id"] for r in rows})
    assert all(ups_valid(t) for t in ups)
    # and the bench's own classifier takes them as UPS tracking numbers
    assert {classify(t, bench.codes.patterns).kind for t in list(ups)[:200]} == {CodeKind.TRACKING}
    for rma_id in list({r["rma_id"] for r in rows})[:50]:
        assert classify(rma_id, bench.codes.patterns).kind is CodeKind.RMA
    # USPS and FedEx numbers carry their carriers' check digits too: the bench refuses a wrong
    # one, so a demo parcel must scan like a real one (a USPS demo parcel once came up "wrong
    # check digit" at the demo bench).
    for carrier in ("usps", "fedex"):
        numbers = {r["tracking_number"] for r in rows if r["carrier"] == carrier}
        assert len(numbers) > 50
        kinds = Counter(classify(t, bench.codes.patterns).kind for t in numbers)
        assert CodeKind.INVALID not in kinds, (carrier, kinds)


def test_the_mix_looks_like_a_returns_day(demo_rows):
    _, rows = demo_rows
    by_rma: dict[str, list[dict[str, str]]] = {}
    for r in rows:
        by_rma.setdefault(r["rma_id"], []).append(r)
    heads = {k: v[0] for k, v in by_rma.items()}
    n = len(heads)
    sizes = Counter(len(v) for v in by_rma.values())
    assert sizes[1] > 0.6 * n and sizes[2] and sizes[3] and sizes[4] and max(sizes) == 4
    cancelled = sum(h["status"] == "cancelled" for h in heads.values())
    expired = sum(h["status"] == "open" and datetime.fromisoformat(h["expires_at"]) < NOW for h in heads.values())
    assert 0.015 * n < cancelled < 0.05 * n and 0.015 * n < expired < 0.05 * n
    windows = {datetime.fromisoformat(h["expires_at"]) - datetime.fromisoformat(h["created_at"]) for h in heads.values()}
    assert {w.days for w in windows} == {30}
    assert {r["category"] for r in rows} == set(CATALOGUE)
    assert Counter(r["qty"] for r in rows).most_common(1)[0][0] == "1"
    reasons = set(load_layered("codes.toml", CodesConfig, None).reason_codes)
    assert {r["reason_code"] for r in rows} <= reasons and len({r["reason_code"] for r in rows}) >= 6
    prices = {r["category"]: [] for r in rows}
    for r in rows:
        prices[r["category"]].append(float(r["unit_price"]))
    assert min(prices["laptops"]) > max(prices["toys"]) / 2  # laptops cost more than toys


def test_demo_home_is_built_once_and_works_as_a_bench(tmp_path):
    home = tmp_path / "demo"
    build_demo_home(home, rmas=120, seed=3)
    cfg = load_bench_config(home)
    assert cfg.station.station_id == "B07"
    assert cfg.station.printer.url == f"dir://{home.resolve()}/spool"
    assert {(o.badge, o.name, o.role) for o in cfg.operators.operators} == {
        ("1001", "Casey Clerk", "clerk"), ("2001", "Gale Grader", "grader"), ("9001", "Lee Lead", "lead")}
    hints = (home / "DEMO").read_text()
    store = Store.in_home(home)
    try:
        with store.read() as s:
            ids = {r.rma_id for r in s.exec(select(Rma))}
            assert len(ids) == 120
            mentioned = [w for w in hints.split() if w.startswith("RMA-2026-")]
            assert mentioned and set(mentioned) <= ids
            kinds = Counter(e.kind for e in s.exec(select(Event)))
            # the import, and a container ready per path and per vendor (docs/containers.md)
            assert kinds == {"manifest_imported": 1, "container_opened": 11, "container_label_queued": 11}
        build_demo_home(home, rmas=120, seed=3)  # idempotent: nothing imported or opened again
        with store.read() as s:
            assert Counter(e.kind for e in s.exec(select(Event))) == kinds
    finally:
        store.close()


def test_fresh_wipes_only_a_demo_home(tmp_path):
    home = tmp_path / "demo"
    build_demo_home(home, rmas=20, seed=1)
    (home / "scratch.txt").write_text("x")
    build_demo_home(home, rmas=20, seed=1, fresh=True)
    assert not (home / "scratch.txt").exists() and (home / "DEMO").exists()
    real = tmp_path / "real-bench"
    (real / "config").mkdir(parents=True)
    (real / "dockstation.sqlite3").write_text("precious")
    (real / "notes.txt").write_text("precious")
    with pytest.raises(DemoError, match="not a demo home"):
        build_demo_home(real, fresh=True)
    with pytest.raises(DemoError, match="not a demo home"):
        build_demo_home(real)
    assert (real / "notes.txt").read_text() == "precious"


def test_a_real_bench_home_is_never_filled_with_demo_returns(tmp_path):
    real = tmp_path / "bench"
    (real / "config").mkdir(parents=True)
    (real / "config" / "station.toml").write_text('station_id = "B09"\n')
    (real / "dockstation.sqlite3").write_bytes(b"")
    with pytest.raises(DemoError, match="not a demo home"):
        build_demo_home(real, rmas=10)
    assert not (real / "manifest.csv").exists() and (real / "dockstation.sqlite3").read_bytes() == b""


def test_an_interrupted_build_is_finished(tmp_path, monkeypatch):
    import dockstation.demo as demo

    home = tmp_path / "demo"
    monkeypatch.setattr(demo, "_hints", lambda h: (_ for _ in ()).throw(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        build_demo_home(home, rmas=10)
    assert (home / "DEMO.building").exists() and not (home / "DEMO").exists()
    monkeypatch.undo()
    build_demo_home(home, rmas=10)
    assert (home / "DEMO").exists() and not (home / "DEMO.building").exists()
