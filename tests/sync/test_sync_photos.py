"""Photos from bench to HQ (issue 18): after their events, content-addressed and idempotent,
resumable photo by photo; HQ verifies each on arrival, and a station reads only its own.

Real parts: HQ in uvicorn on loopback (SQLite and PostgreSQL), HQ stopped, the fault proxy cutting
an upload half-way and dropping HQ's answer after it stored the photo.
"""

from __future__ import annotations

import hashlib
import sys
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from netfaults import FaultProxy, HQServer, free_port
from sqlalchemy import func, select

from dockstation.config import load_bench_config
from dockstation.inspection.photos import add_photo
from dockstation.models import Photo, Rma, RmaLine
from dockstation.photos.image import process
from dockstation.receiving import Bench, receive_line
from dockstation.scan import ScanEvent
from dockstation.types import utcnow
from sync.hq.app import create_app
from sync.hq.db import HqPhoto, add_reader
from sync.photos import PhotoUploader, RateLimit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "photos"))
from photo_support import picture  # noqa: E402

H = {"X-Dockstation-Protocol": "1"}


@pytest.fixture
def photos_dir(tmp_path):
    return tmp_path / "hq-photos"


@pytest.fixture
def hq(hq_db, photos_dir):  # this file's HQ keeps its photos in the test's folder
    server = HQServer(create_app(hq_db, photos_dir=photos_dir)).start()
    yield server
    server.stop()


def with_photos(bench_side, units: int = 3, per_unit: int = 2, first_seed: int = 0) -> list[str]:
    """Receive `units` units at the bench and take `per_unit` photos of each; their LPNs."""
    cfg = load_bench_config(bench_side.home)
    bench = Bench(station_id=cfg.station.station_id, codes=cfg.codes, operators=cfg.operators)
    clerk = bench.operators.by_badge("1001")
    lpns, seed = [], first_seed
    for n in range(units):
        rma_id = f"RMA-P-{bench.station_id}-{n:04d}"
        now = utcnow()
        with bench_side.store.write() as s:
            s.add(Rma(rma_id=rma_id, order_id="O", created_at=now - timedelta(days=1),
                      expires_at=now + timedelta(days=30), status="open", updated_at=now))
            s.add(RmaLine(rma_id=rma_id, line_no=1, sku="S", category="home", unit_price=Decimal("5.00")))
        out = receive_line(bench_side.store, bench, clerk, rma_id, 1, ScanEvent(rma_id, "test", None, now))
        lpns.append(out.unit.lpn)
        for _ in range(per_unit):
            seed += 1
            add_photo(bench_side.store, bench, clerk, out.unit.lpn, process(picture(seed=seed)), camera="desk")
    return lpns


def bench_photos(bench_side) -> list[Photo]:
    with bench_side.store.read() as s:
        return list(s.exec(select(Photo).order_by(Photo.id)).scalars().all())


def hq_rows(db) -> list[tuple[str, str, str]]:
    t = HqPhoto.__table__
    with db.read() as conn:
        return [tuple(r) for r in conn.execute(select(t.c.sha256, t.c.station_id, t.c.lpn))]


def hq_files(photos_dir: Path) -> dict[str, str]:
    """Every photo file at HQ: its name's sha256 → the sha256 of its bytes."""
    return {p.stem: hashlib.sha256(p.read_bytes()).hexdigest() for p in photos_dir.glob("*/*.jpg")}


def test_hq_down_then_a_cut_mid_upload_then_every_photo_at_hq_once_and_verified(hq_db, hq, make_bench, photos_dir):
    port = free_port()
    bench = make_bench(url=f"http://127.0.0.1:{port}")  # HQ is down
    with_photos(bench)
    photos = bench_photos(bench)
    assert len(photos) == 6 and len({p.sha256 for p in photos}) == 6
    uploader = PhotoUploader(bench.store, bench.home, bench.station())
    report = bench.client().sync_once()
    assert report.outcome == "partial"
    report = uploader.upload_once()
    assert (report.outcome, report.uploaded, report.pending) == ("ok", 0, 6)  # HQ has no event yet: nothing may go
    proxy = FaultProxy(hq.port)
    try:
        bench.set_hq(proxy.url, bench.token)
        uploader = PhotoUploader(bench.store, bench.home, bench.station())
        # Before its events, a photo is refused (409): the uploader never sends one that early...
        first = photos[0]
        early = httpx.put(f"{proxy.url}/api/v1/photos/{first.sha256}", params={"lpn": first.lpn},
                          content=(bench.home / first.file).read_bytes(),
                          headers={**H, "Authorization": f"Bearer {bench.token}", "Content-Type": "image/jpeg"})
        assert early.status_code == 409 and "push the events first" in early.text
        assert bench.client().sync_once().outcome == "ok"  # ...and after them, it may
        proxy.fail_next("cut_request", match=b"PUT /api/v1/photos", skip=2)
        report = uploader.upload_once()
        assert proxy.fired["cut_request"] == 1
        assert (report.outcome, report.uploaded, report.pending) == ("partial", 2, 4)
        assert len(hq_rows(hq_db)) == 2 and len(hq_files(photos_dir)) == 2  # the cut photo: nothing of it kept
        proxy.fail_next("drop_response", match=b"PUT /api/v1/photos")  # HQ stores it, the bench never hears
        report = uploader.upload_once()
        assert proxy.fired["drop_response"] == 1 and report.outcome == "partial" and report.pending == 4
        report = uploader.upload_once()
        assert (report.outcome, report.uploaded, report.already, report.pending) == ("ok", 3, 1, 0)
    finally:
        proxy.close()
    files = hq_files(photos_dir)
    assert sorted(files) == sorted(p.sha256 for p in photos)  # every photo, once
    assert all(name == digest for name, digest in files.items())  # each hash-verified
    assert sorted(hq_rows(hq_db)) == sorted((p.sha256, "B07", p.lpn) for p in photos)
    assert all(p.uploaded_at is not None and p.upload_error is None for p in bench_photos(bench))
    again = uploader.upload_once(retry_failed=True)  # a --full run: nothing left to send
    assert (again.uploaded, again.already, again.pending) == (0, 0, 0)


def test_hq_verifies_a_photo_on_arrival(hq_db, hq, make_bench, photos_dir):
    bench = make_bench(url=hq.url)
    [lpn] = with_photos(bench, units=1, per_unit=1)
    assert bench.client().sync_once().outcome == "ok"
    [photo] = bench_photos(bench)
    data = (bench.home / photo.file).read_bytes()
    auth = {**H, "Authorization": f"Bearer {bench.token}"}

    def put(sha: str, body: bytes, *, lpn: str = lpn, ctype: str = "image/jpeg") -> httpx.Response:
        return httpx.put(f"{hq.url}/api/v1/photos/{sha}", params={"lpn": lpn}, content=body,
                         headers={**auth, "Content-Type": ctype}, timeout=30)

    tampered = bytearray(data)
    tampered[len(data) // 2] ^= 0xFF
    assert put(photo.sha256, bytes(tampered)).status_code == 422  # the bytes must hash to the name
    assert put(photo.sha256, data, ctype="application/octet-stream").status_code == 415
    other = process(picture(seed=77))
    assert put(other.sha256, other.data).status_code == 409  # no event of this station names it
    assert put(photo.sha256, b"\xff" * (17 << 20)).status_code == 413  # a photo's own limit
    assert not hq_files(photos_dir) and not hq_rows(hq_db)
    first, second = put(photo.sha256, data), put(photo.sha256, data)
    assert (first.status_code, first.json()["created"]) == (201, True)
    assert (second.status_code, second.json()["created"]) == (200, False)  # idempotent
    assert hq_files(photos_dir) == {photo.sha256: photo.sha256} and len(hq_rows(hq_db)) == 1


def test_a_station_token_cannot_read_another_stations_photos(hq_db, hq, make_bench):
    b07, b08 = make_bench("B07", url=hq.url), make_bench("B08", url=hq.url)
    [lpn] = with_photos(b07, units=1, per_unit=1)
    with_photos(b08, units=1, per_unit=1, first_seed=50)
    for b in (b07, b08):
        assert b.client().sync_once().outcome == "ok"
        assert PhotoUploader(b.store, b.home, b.station()).upload_once().uploaded == 1
    [photo] = bench_photos(b07)
    reader = add_reader(hq_db, "support")

    def get(path: str, token: str) -> httpx.Response:
        return httpx.get(f"{hq.url}/api/v1{path}", headers={"Authorization": f"Bearer {token}"}, timeout=30)

    own = get(f"/photos/{photo.sha256}", b07.token)
    assert own.status_code == 200 and own.headers["content-type"] == "image/jpeg"
    assert hashlib.sha256(own.content).hexdigest() == photo.sha256
    assert get(f"/photos/{photo.sha256}", reader).content == own.content  # head office reads any photo
    theirs = get(f"/photos/{photo.sha256}", b08.token)
    assert theirs.status_code == 404 and own.content not in theirs.content
    assert get(f"/units/{lpn}", b08.token).status_code == 404
    forged = httpx.put(f"{hq.url}/api/v1/photos/{photo.sha256}", params={"lpn": lpn},
                       content=(b07.home / photo.file).read_bytes(),
                       headers={**H, "Authorization": f"Bearer {b08.token}", "Content-Type": "image/jpeg"})
    assert forged.status_code == 403
    unit = get(f"/units/{lpn}", reader).json()
    [listed] = unit["photos"]
    assert listed["sha256"] == photo.sha256 and listed["stored"] is True and listed["operator"] == "1001"
    assert listed["url"] == f"/api/v1/photos/{photo.sha256}" and listed["bytes"] == photo.bytes
    assert get(f"/units/{lpn}", b07.token).json()["photos"] == unit["photos"]  # the owning station too


def test_the_upload_keeps_within_the_bandwidth_cap():
    now = [0.0]
    slept: list[float] = []

    def sleep(s: float) -> None:
        slept.append(s)
        now[0] += s

    limit = RateLimit(800, clock=lambda: now[0], sleep=sleep)  # 800 kbit/s = 100 kB/s
    for _ in range(64):  # 1 MiB in 16 KiB chunks
        limit.take(16 * 1024)
    assert 1024 * 1024 / 100_000 - 0.2 <= now[0] <= 1024 * 1024 / 100_000 + 0.2  # about 10.5 s of the clock
    free = RateLimit(0, clock=lambda: 0.0, sleep=sleep)
    before = len(slept)
    free.take(10 << 20)
    assert len(slept) == before  # 0: no cap


def test_dockstation_sync_uploads_photos_after_the_events(hq_db, hq, make_bench, photos_dir):
    from click.testing import CliRunner

    from dockstation.cli import main

    bench = make_bench(url=hq.url)
    with_photos(bench, units=2, per_unit=1)
    result = CliRunner().invoke(main, ["--home", str(bench.home), "sync"])
    assert result.exit_code == 0, result.output
    assert "2 photo(s) sent (0 waiting)" in result.output
    assert len(hq_files(photos_dir)) == 2
