"""Issue 14 item 13: a forged history pushed first is no longer reported as success.

A stolen token pushes seqs 1-10 with forged events; the real bench then syncs its 11. Before: exit
0, "pushed 11 events … 0 pending", HQ keeping the forged events. Now: `dockstation sync` exits 5
and says CONFLICT on every run until head office resolves it; the bench's header says so; HQ lists
it (`hq list`, `hq conflicts`) and resolves it (`hq resolve-conflict`), after which HQ holds
exactly the bench's events and the bench syncs clean.

A real uvicorn HQ on loopback, on SQLite and on PostgreSQL; the real client and commands.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from click.testing import CliRunner
from sqlalchemy import func, select
from sync_support import assert_hq_holds_exactly, hq_events
from test_sync_loop_cli import fast_loop, run_in_thread  # noqa: F401  (a fixture, used by name)

from dockstation.cli import main
from sync.hq.conflicts import ResolveError, list_open, resolve
from sync.hq.db import HqConflict, HqConflictResolved, add_station

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def forged(seqs: range, station: str = "B07") -> list[dict[str, Any]]:
    return [{"seq": q, "kind": "unit_graded", "at": (T0 + timedelta(minutes=q)).isoformat(), "operator": "6666",
             "lpn": f"{station}-{q:08d}", "rma_id": "RMA-2026-000001", "payload": {"grade": "D", "flags": []}}
            for q in seqs]


def push(hq: Any, token: str, events: list[dict[str, Any]], station: str = "B07") -> httpx.Response:
    return httpx.post(f"{hq.url}/api/v1/events", json={"protocol": 1, "station_id": station, "events": events},
                      headers={"Authorization": f"Bearer {token}"}, timeout=30)


def cli(*args: str) -> Any:
    return CliRunner().invoke(main, list(args))


def count(db: Any, table: Any) -> int:
    with db.read() as conn:
        return conn.execute(select(func.count()).select_from(table.__table__)).scalar_one()


def test_a_forged_history_pushed_first_fails_every_sync_until_hq_resolves_it(hq, hq_db, db_url, make_bench):
    bench = make_bench("B07", url=hq.url)
    bench.record(11)
    thief = push(hq, bench.token, forged(range(1, 11)))  # the stolen token goes first
    assert thief.status_code == 200 and thief.json()["acked_seq"] == 10

    for _ in range(2):  # every run says so, not only the one that met the conflict
        run = cli("--home", str(bench.home), "sync")
        assert run.exit_code == 5, run.output
        assert "CONFLICT at HQ: 10 event(s) of B07 (seqs 1-10)" in run.stderr
        assert "dockstation hq conflicts" in run.stderr and "0 pending" in run.stdout
    assert [e[1] for e in hq_events(hq_db, "B07")][:10] == ["unit_graded"] * 10  # HQ kept its copy meanwhile

    listed = cli("hq", "list", "--db", db_url)
    assert "Open conflicts" in listed.stdout
    assert json.loads(cli("hq", "list", "--db", db_url, "--format", "json").stdout)["stations"][0]["open_conflicts"] == 10
    table = cli("hq", "conflicts", "--db", db_url)
    assert table.exit_code == 0 and "10 open conflict(s) of B07" in table.stdout
    assert "unit_graded B07-00000001" in table.stdout and "unit_received B07-00000001" in table.stdout
    whole = json.loads(cli("hq", "conflicts", "--db", db_url, "--station", "B07", "--format", "json").stdout)
    assert [c["seq"] for c in whole] == list(range(1, 11))
    assert whole[0]["stored"]["operator"] == "6666" and whole[0]["sent"]["operator"] == "1001"
    assert "kind" in whole[0]["differs"] and "payload" in whole[0]["differs"]

    resolved = cli("hq", "resolve-conflict", "--station", "B07", "--keep", "sent", "--db", db_url,
                   "--by", "it-oncall", "--note", "token stolen; rotated")
    assert resolved.exit_code == 0 and "10 conflict(s) of B07 resolved" in resolved.stdout, resolved.output
    assert_hq_holds_exactly(hq_db, bench)  # the genuine history, and only it
    ok = cli("--home", str(bench.home), "sync")
    assert ok.exit_code == 0, ok.output
    assert "no open conflicts" in cli("hq", "conflicts", "--db", db_url).stdout
    with hq_db.read() as conn:
        audit = conn.execute(select(HqConflictResolved.__table__).order_by(HqConflictResolved.id)).all()
    assert len(audit) == 10 and {a.kept for a in audit} == {"sent"} and audit[0].resolved_by == "it-oncall"
    assert audit[0].stored["operator"] == "6666" and audit[0].note == "token stolen; rotated"


def test_forged_content_pushed_after_the_bench_is_a_conflict_too_kept_out_by_keep_stored(hq, hq_db, make_bench):
    bench = make_bench("B07", url=hq.url)
    bench.record(4)
    assert bench.client().sync_once().outcome == "ok"
    answer = push(hq, bench.token, forged(range(2, 4))).json()  # the thief re-sends seqs 2-3
    assert answer["conflicts"] == [2, 3] and answer["stored"] == 0 and answer["duplicates"] == 0
    report = bench.client().sync_once()
    assert (report.outcome, report.exit_code, report.conflicts) == ("conflict", 5, [2, 3])
    assert resolve(hq_db, keep="stored", station_id="B07", by="it") == [
        {"id": 1, "station_id": "B07", "seq": 2}, {"id": 2, "station_id": "B07", "seq": 3}]
    assert_hq_holds_exactly(hq_db, bench)
    assert bench.client().sync_once().outcome == "ok"
    # the same forged content again is not reopened: head office has discarded it once
    assert push(hq, bench.token, forged(range(2, 4))).json()["conflicts"] == []
    assert count(hq_db, HqConflict) == 0


def test_a_differing_version_is_kept_once_and_named_in_every_ack(hq, hq_db):
    token = add_station(hq_db, "B07")
    original = forged(range(1, 3))
    push(hq, token, original)
    other = [{**e, "operator": "7777"} for e in original[:1]]
    for _ in range(3):
        assert push(hq, token, other).json()["conflicts"] == [1]
    assert count(hq_db, HqConflict) == 1  # kept once, however often sent
    assert push(hq, token, []).json()["conflicts"] == [1]  # an empty push hears of it too
    third = [{**e, "operator": "8888"} for e in original[:1]]
    push(hq, token, third)
    assert [c["sent"]["operator"] for c in list_open(hq_db)] == ["7777", "8888"]
    try:
        resolve(hq_db, keep="sent", station_id="B07")
        raise AssertionError("two sent versions of one seq: keep=sent must name one")
    except ResolveError as exc:
        assert "2 different versions" in str(exc)
    chosen = list_open(hq_db)[1]["id"]
    resolve(hq_db, keep="sent", ids=[chosen])
    assert hq_events(hq_db, "B07")[0][3] == "8888"
    assert [c["sent"]["operator"] for c in list_open(hq_db)] == ["7777"]  # still differs: still open


def test_a_seq_repeated_within_a_batch_is_a_duplicate_or_a_conflict(hq, hq_db):
    token = add_station(hq_db, "B07")
    one = forged(range(1, 2))[0]
    same = push(hq, token, [one, one]).json()
    assert (same["stored"], same["duplicates"], same["conflicts"], same["acked_seq"]) == (1, 1, [], 1)
    two = forged(range(2, 3))[0]
    differing = push(hq, token, [two, {**two, "operator": "9"}]).json()
    assert (differing["stored"], differing["duplicates"], differing["conflicts"]) == (1, 0, [2])
    assert hq_events(hq_db, "B07")[1][3] == "6666"  # the first of the batch is stored


def test_resolving_needs_something_to_resolve(hq_db, db_url):
    assert cli("hq", "resolve-conflict", "--keep", "sent", "--db", db_url).exit_code == 1
    nothing = cli("hq", "resolve-conflict", "--station", "B07", "--keep", "sent", "--db", db_url)
    assert nothing.exit_code == 1 and "no open conflicts" in nothing.stderr
    missing = cli("hq", "resolve-conflict", "42", "--keep", "stored", "--db", db_url)
    assert missing.exit_code == 1 and "no open conflict with id 42" in missing.stderr


def test_the_bench_header_shows_the_conflict_in_red_until_it_is_resolved(hq, hq_db, make_bench, fast_loop):
    bench = make_bench("B07", url=hq.url)
    bench.record(3)
    push(hq, bench.token, forged(range(1, 3)))
    client = bench.client()
    stop, statuses, thread = run_in_thread(client)
    try:
        text, level = statuses.wait_for(lambda t, lv: t.startswith("HQ CONFLICT"))
        assert level == "error" and text.startswith("HQ CONFLICT: 2 event(s) differ at HQ — call head office")
        mark = len(statuses.items)
        resolve(hq_db, keep="sent", station_id="B07")
        client.poke()
        statuses.wait_for(lambda t, lv: t == "HQ online · 0 pending" and lv == "ok", after=mark)
    finally:
        stop.set()
        thread.join(10)
    assert_hq_holds_exactly(hq_db, bench)


def test_a_forged_history_past_the_bench_is_dropped_then_resolved(hq, hq_db, db_url, make_bench):
    """The thief pushed seqs 1-15; the bench has 11. Its sync stops (HQ is ahead of it) and says what
    head office does: drop what the bench never sent, then resolve the rest as conflicts."""
    bench = make_bench("B07", url=hq.url)
    bench.record(11)
    push(hq, bench.token, forged(range(1, 16)))
    stopped = cli("--home", str(bench.home), "sync")
    assert stopped.exit_code == 1 and "dockstation hq drop-events B07 --after 11" in stopped.stderr, stopped.output
    dry = cli("hq", "drop-events", "B07", "--after", "11", "--db", db_url)
    assert dry.exit_code == 0 and "would drop 4 event(s)" in dry.stdout and len(hq_events(hq_db, "B07")) == 15
    dropped = cli("hq", "drop-events", "B07", "--after", "11", "--db", db_url, "--yes", "--note", "forged")
    assert dropped.exit_code == 0 and "4 event(s) of B07 above seq 11 dropped" in dropped.stdout
    run = cli("--home", str(bench.home), "sync")
    assert run.exit_code == 5 and "(seqs 1-11)" in run.stderr, run.output
    assert cli("hq", "resolve-conflict", "--station", "B07", "--keep", "sent", "--db", db_url).exit_code == 0
    assert cli("--home", str(bench.home), "sync").exit_code == 0
    assert_hq_holds_exactly(hq_db, bench)
    with hq_db.read() as conn:
        kept = [r.kept for r in conn.execute(select(HqConflictResolved.__table__))]
    assert kept.count("dropped") == 4 and kept.count("sent") == 11
    nothing = cli("hq", "drop-events", "B07", "--after", "1000", "--db", db_url, "--yes")
    assert nothing.exit_code == 1 and "no events above seq 1000" in nothing.stderr
