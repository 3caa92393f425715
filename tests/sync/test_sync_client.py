"""The station client against a real HQ: push, pull manifest and config, catch-up, --full."""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime, timedelta

import pytest
from netfaults import HQServer
from sqlalchemy import delete, select, update

from dockstation.config import CodesConfig, load_layered, package_config_dir
from dockstation.models import Event, Rma, RmaLine
from sync.hq import app as hq_app
from sync.bundle import BundleRefused, build_bundle, install_bundle
from sync.hq.app import create_app
from sync.hq.db import HqEvent, HqStation
from sync.hq.manifest_import import import_rmas
from sync.protocol import ConfigBundle, encode_cursor
from sync.station_store import CONFIG_ERROR, CURSOR, kv_get, kv_put
from sync_support import assert_hq_holds_exactly, hq_events

T = datetime(2026, 11, 1, tzinfo=UTC)


def line(rid: str, n: int = 1, **kw) -> tuple:
    v = {"sku": f"SKU-{n}", "gtin": None, "description": "Phone X", "category": "phones", "qty": 2,
         "unit_price": "699.00", "currency": "USD", "expected_serial": None, "reason_code": "defective",
         "carrier": None, "tracking_number": None} | kw
    return (rid, n, *v.values())


def add_rmas(db, ids, status: str = "open", **kw) -> None:
    import_rmas(db, {rid: (f"O-{rid}", T, T + timedelta(days=30), status) for rid in ids},
                {rid: [line(rid, 1, **kw), line(rid, 2, **kw)] for rid in ids})


def bench_rmas(bench) -> dict[str, tuple]:
    with bench.store.read() as s:
        rmas = {r.rma_id: r.status for r in s.exec(select(Rma)).scalars()}
        lines = {(l.rma_id, l.line_no): (l.description, l.received_qty, str(l.unit_price))
                 for l in s.exec(select(RmaLine)).scalars()}
    return {rid: (status, {k[1]: v for k, v in lines.items() if k[0] == rid}) for rid, status in rmas.items()}


def kinds(bench) -> list[str]:
    with bench.store.read() as s:
        return [e.kind for e in s.exec(select(Event).order_by(Event.seq)).scalars()]


def test_one_sync_pushes_pulls_and_leaves_nothing_pending(hq_db, hq, make_bench):
    add_rmas(hq_db, ["RMA-2026-000001", "RMA-2026-000002"])
    bench = make_bench(url=hq.url)
    bench.record(30)
    report = bench.client().sync_once()
    assert (report.outcome, report.exit_code, report.pending) == ("ok", 0, 0)
    assert report.rmas_changed == 2 and report.lines_changed == 4 and report.config_updated
    assert set(bench_rmas(bench)) == {"RMA-2026-000001", "RMA-2026-000002"}
    assert kinds(bench)[-2:] == ["manifest_synced", "config_updated"]
    assert_hq_holds_exactly(hq_db, bench)  # including what the sync itself recorded
    hq_layer = bench.home / "config" / "hq"
    assert (hq_layer / "codes.toml").is_file() and not (hq_layer / "station.toml").exists()
    again = bench.client().sync_once()
    assert (again.outcome, again.pushed, again.rmas_changed, again.config_updated) == ("ok", 0, 0, False)


def test_a_bench_offline_for_days_catches_up_in_one_run(hq_db, hq, make_bench):
    add_rmas(hq_db, [f"RMA-2026-{i:06d}" for i in range(1, 2501)])
    bench = make_bench(url=hq.url)
    bench.record(3000)
    seen: dict[str, tuple[int, int | None]] = {}
    report = bench.client(batch_size=500, page_limit=1000).sync_once(progress=lambda p, d, t: seen.__setitem__(p, (d, t)))
    assert (report.outcome, report.pending, report.pages) == ("ok", 0, 3)
    assert seen["manifest"] == (2500, 2500) and seen["push"][0] == seen["push"][1]
    assert len(bench_rmas(bench)) == 2500
    assert_hq_holds_exactly(hq_db, bench)


def test_pull_applies_changes_and_cancellations_but_never_lowers_received_qty(hq_db, hq, make_bench):
    add_rmas(hq_db, ["RMA-2026-000001", "RMA-2026-000002"])
    bench = make_bench(url=hq.url)
    bench.client().sync_once()
    with bench.store.write() as s:  # a unit was received here against line 1
        s.execute(update(RmaLine).where(RmaLine.rma_id == "RMA-2026-000001", RmaLine.line_no == 1)
                  .values(received_qty=1))
    add_rmas(hq_db, ["RMA-2026-000001"], description="Phone X (refurb)")
    add_rmas(hq_db, ["RMA-2026-000002"], status="cancelled")
    events_before = kinds(bench).count("manifest_synced")
    report = bench.client().sync_once()
    assert report.outcome == "ok" and report.rmas_changed == 1 and report.lines_changed == 2
    rmas = bench_rmas(bench)
    assert rmas["RMA-2026-000001"][1][1] == ("Phone X (refurb)", 1, "699.00")
    assert rmas["RMA-2026-000002"][0] == "cancelled"
    assert kinds(bench).count("manifest_synced") == events_before + 1
    full = bench.client().sync_once(full=True)  # the whole manifest again: nothing changes
    assert full.outcome == "ok" and full.rmas_changed == full.lines_changed == 0
    assert bench_rmas(bench) == rmas


def test_a_cursor_from_another_hq_database_starts_over(hq_db, hq, make_bench):
    add_rmas(hq_db, ["RMA-2026-000001"])
    bench = make_bench(url=hq.url)
    bench.client().sync_once()
    kv_put(bench.store, sync__manifest_cursor=encode_cursor(10_000))
    report = bench.client().sync_once()
    assert report.outcome == "ok"
    assert kv_get(bench.store, CURSOR) == encode_cursor(1)


def test_hq_restored_from_an_older_backup_gets_the_lost_events_again(hq_db, hq, make_bench):
    bench = make_bench(url=hq.url)
    bench.record(40)
    assert bench.client().sync_once().pending == 0
    with hq_db.write() as conn:  # HQ's database goes back in time to seq 10
        conn.execute(delete(HqEvent.__table__).where(HqEvent.__table__.c.seq > 10))
        conn.execute(update(HqStation.__table__).values(acked_seq=10))
    assert bench.client().pending() == 0
    report = bench.client().sync_once()  # nothing is pending here, yet HQ is asked, and re-sent to
    assert report.outcome == "ok" and report.pushed == 41 - 10  # 40 + the config_updated event
    assert_hq_holds_exactly(hq_db, bench)


def test_full_sync_fills_a_gap_the_normal_one_cannot_see(hq_db, hq, make_bench):
    bench = make_bench(url=hq.url)
    bench.record(40)
    bench.client().sync_once()
    with hq_db.write() as conn:  # events lost in the middle; HQ's mark still says 40+
        conn.execute(delete(HqEvent.__table__).where(HqEvent.__table__.c.seq.between(5, 8)))
    bench.client().sync_once()
    assert len(hq_events(hq_db, "B07")) == 41 - 4  # a normal sync cannot see the hole
    report = bench.client().sync_once(full=True)
    assert report.outcome == "ok"
    assert_hq_holds_exactly(hq_db, bench)


# -- configuration from HQ -------------------------------------------------------------------
@pytest.fixture
def hq_config(tmp_path, hq_db, monkeypatch):
    """An HQ serving a config directory the test edits; HQ's own check is switched off so a bad
    bundle reaches the bench (as from an older HQ release, or files changed under it)."""
    directory = tmp_path / "hq-config"
    shutil.copytree(package_config_dir(), directory, ignore=shutil.ignore_patterns("station.toml", "operators.toml"))
    monkeypatch.setattr(hq_app, "check_bundle", lambda bundle, _label: bundle)
    server = HQServer(create_app(hq_db, config_dir=directory)).start()
    yield directory, server
    server.stop()


def test_a_bad_config_from_hq_is_refused_and_the_last_good_stays(hq_config, make_bench):
    directory, server = hq_config
    bench = make_bench(url=server.url)
    assert bench.client().sync_once().config_updated
    good = os.readlink(bench.home / "config" / "hq")
    codes = directory / "codes.toml"
    codes.write_text(codes.read_text().replace('code = "B"', 'code = "b?"'))  # not a grade code
    report = bench.client().sync_once()
    assert (report.outcome, report.exit_code) == ("config_refused", 4)
    assert "grades" in report.config_error and "codes.toml" in report.config_error
    assert os.readlink(bench.home / "config" / "hq") == good
    assert load_layered("codes.toml", CodesConfig, bench.home).grade("B") is not None
    assert "grades" in kv_get(bench.store, CONFIG_ERROR)
    again = bench.client().sync_once()  # the same bad version is not fetched again, still reported
    assert again.outcome == "config_refused"
    codes.write_text(codes.read_text().replace('code = "b?"', 'code = "B"').replace("Like new", "As new"))
    fixed = bench.client().sync_once()
    assert fixed.outcome == "ok" and fixed.config_updated and kv_get(bench.store, CONFIG_ERROR) == ""
    assert load_layered("codes.toml", CodesConfig, bench.home).grade("A").name == "As new"


def test_a_bundle_is_validated_with_the_benchs_own_overrides(make_bench):
    """HQ's files are fine on their own; with this bench's site overrides they are not."""
    from dockstation.inspection.checklist import load_checklists

    bench = make_bench(register=False)
    pkg = package_config_dir()
    codes = (pkg / "codes.toml").read_text()
    extra_grade = '\n[[grades]]\ncode = "E"\nname = "Site grade"\ndefinition = "Only at this site."\n'
    (bench.home / "config" / "codes.toml").write_text(codes.split("[[grades]]", 1)[0] + "[[grades]]"
                                                      + codes.split("[[grades]]", 1)[1].split("[patterns]")[0] + extra_grade)
    (bench.home / "config" / "categories").mkdir()
    (bench.home / "config" / "categories" / "widgets.toml").write_text(
        (pkg / "categories" / "generic.toml").read_text().replace('grade_cap = "D"', 'grade_cap = "E"', 1)
        .replace('categories = ["other"]', 'categories = ["widgets"]'))
    own = load_layered("codes.toml", CodesConfig, bench.home)
    load_checklists(bench.home, own)  # the bench's own configuration is good
    # HQ's codes.toml (grades A-F) replaces the bench's list, so the site checklist's "E" dangles.
    with pytest.raises(BundleRefused, match="widgets"):
        install_bundle(bench.home, build_bundle(pkg))
    assert not (bench.home / "config" / "hq").exists()
    install_bundle(bench.home, ConfigBundle(version="e" * 64, files={"kpis.toml": "[lead]\nrefresh_seconds = 10\n"}))
    assert (bench.home / "config" / "hq" / "kpis.toml").is_file()


@pytest.mark.parametrize("name", ["station.toml", "operators.toml", "../escape.toml", "/etc/x.toml", "a/.hidden.toml"])
def test_hq_can_never_set_local_files_or_write_outside(make_bench, name):
    bench = make_bench(register=False)
    with pytest.raises((BundleRefused, ValueError)):
        install_bundle(bench.home, ConfigBundle.model_construct(version="a" * 64, files={name: "x = 1\n"}))
    assert not (bench.home / "config" / "hq").exists()


def test_a_pulled_manifest_is_searchable_by_customer_name_and_email(hq_db, hq, make_bench, tmp_path):
    """The customer columns go CSV → HQ (import-manifest) → manifest page → bench (pull), so the
    bench's search finds a pulled RMA by name and e-mail as it finds an imported one; a changed
    name reaches the bench (and its name index) on the next pull."""
    import csv

    from dockstation.manifest_csv import COLUMNS
    from dockstation.search import search
    from sync.hq.manifest_import import import_csv

    def write(name: str) -> None:
        path = tmp_path / "m.csv"
        with path.open("w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow([*COLUMNS, "customer_name", "customer_email"])
            for rid, who, mail in (("RMA-C-1", name, "Zoe.Muller@Example.com"), ("RMA-C-2", "", "")):
                w.writerow([rid, f"O-{rid}", "2026-11-01T10:00:00+00:00", "2099-12-01T10:00:00+00:00", "open", "1",
                            "SKU-1", "", "Lamp", "home", "1", "25.00", "USD", "", "changed_mind", "", "", who, mail])
        report = import_csv(hq_db, path, reason_codes={"changed_mind"})
        assert report.errors == 0

    write("Zoë Müller")
    bench = make_bench(url=hq.url)
    assert bench.client().sync_once().outcome == "ok"
    assert [m.rma_id for m in search(bench.store, "zoe mül")] == ["RMA-C-1"]  # the name index, accents folded
    [m] = search(bench.store, "zoe.muller@example.com")
    assert (m.rma_id, m.matched_on, m.customer_name) == ("RMA-C-1", ("email",), "Zoë Müller")
    with bench.store.read() as s:
        assert s.get(Rma, "RMA-C-2").customer_name is None
    write("Zoë Schmidt")  # a changed name: a new change at HQ, pulled, re-indexed
    report = bench.client().sync_once()
    assert report.rmas_changed == 1
    assert search(bench.store, "müller") == [] and [m.rma_id for m in search(bench.store, "schmidt")] == ["RMA-C-1"]
