"""Photo evidence: capture-to-stored latency, and uploads to HQ while the bench scans. Prints
figures; asserts nothing.

    .venv/bin/python bench/bench_photos.py [--shots 120] [--scans 300]

1. Capture to stored, from a snapshot camera on loopback (a stdlib HTTP server in a thread serving
   a 1920x1080 camera JPEG of ~0.5 MB), the way the bench takes a photo: the HTTP GET
   (dockstation.cameras.http), made a stored photo (upright, metadata stripped, resized to
   1600 px, JPEG: dockstation.photos.image), then stored (file written and fsynced, its row and
   `photo_taken` event in one transaction: dockstation.inspection.photos.add_photo). Beside it,
   the raw baseline: the same HTTP GET with httpx and the camera's bytes written to a file and
   fsynced, nothing else.
2. Scan latency (a parcel scan's receiving use case: classify, one write transaction with its
   unit, event and receipt label) with no upload running, then while the bench uploads every
   photo to a real HQ (`dockstation hq serve` in its own process on loopback, SQLite) with no
   cap and with a cap, and once more with nothing running (the noise). Upload throughput beside.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402
from PIL import Image, ImageDraw, ImageFilter  # noqa: E402
from sqlalchemy import update  # noqa: E402
from sqlmodel import select  # noqa: E402

from dockstation.cameras import open_camera  # noqa: E402
from dockstation.cameras.capture import shoot  # noqa: E402
from dockstation.config import load_bench_config, load_layered, StationConfig  # noqa: E402
from dockstation.inspection.photos import add_photo  # noqa: E402
from dockstation.models import Photo, Rma, RmaLine  # noqa: E402
from dockstation.receiving import Bench, handle_scan  # noqa: E402
from dockstation.scan import ScanEvent, classify  # noqa: E402
from dockstation.store import Store  # noqa: E402
from dockstation.types import utcnow  # noqa: E402
from sync.client import SyncClient  # noqa: E402
from sync.hq.db import HQDatabase, add_station  # noqa: E402
from sync.photos import PhotoUploader  # noqa: E402

OPERATORS = '[[operators]]\nbadge = "2001"\nname = "Gale Grader"\nrole = "grader"\n'


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def camera_jpeg() -> bytes:
    """A 1920x1080 picture with texture (so it compresses like a photo, not like a flat card)."""
    rnd = random.Random(7)
    im = Image.effect_noise((1920, 1080), 40).convert("RGB")
    draw = ImageDraw.Draw(im)
    for _ in range(300):
        x, y = rnd.randrange(1920), rnd.randrange(1080)
        draw.ellipse([x, y, x + rnd.randrange(20, 200), y + rnd.randrange(20, 200)],
                     fill=(rnd.randrange(256), rnd.randrange(256), rnd.randrange(256)))
    im = im.filter(ImageFilter.GaussianBlur(1))
    exif = Image.Exif()
    exif[0x8825] = {1: "N", 2: (52.0, 22.0, 11.5), 3: "E", 4: (4.0, 53.0, 38.2)}
    out = io.BytesIO()
    im.save(out, "JPEG", quality=90, exif=exif.tobytes())
    return out.getvalue()


def serve_snapshot(body: bytes) -> tuple[ThreadingHTTPServer, str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/snapshot.jpg"


def make_home(root: Path, extra: str = "") -> Path:
    home = root / "bench"
    (home / "config").mkdir(parents=True, exist_ok=True)
    (home / "config" / "station.toml").write_text(f'station_id = "B07"\nsound = "off"\n{extra}')
    (home / "config" / "operators.toml").write_text(OPERATORS)
    return home


def add_rmas(store: Store, n: int, start: int) -> list[str]:
    now = utcnow()
    ids = [f"RMA-2026-{i:06d}" for i in range(start, start + n)]
    with store.write() as s:
        for rma_id in ids:
            s.add(Rma(rma_id=rma_id, order_id="O", created_at=now - timedelta(days=1),
                      expires_at=now + timedelta(days=30), status="open", updated_at=now))
            s.add(RmaLine(rma_id=rma_id, line_no=1, sku="SKU-1", category="home", unit_price=Decimal("25.00")))
    return ids


def scan_latencies(store: Store, bench: Bench, ids: list[str], keep_going: threading.Event | None = None) -> list[float]:
    """Scan each RMA (a parcel): ms per receiving use case. With `keep_going`, only while it is set."""
    op = bench.operators.by_badge("2001")
    out = []
    for rma_id in ids:
        scan = ScanEvent(rma_id, "wedge", None, utcnow())
        t0 = time.perf_counter()
        outcome = handle_scan(store, bench, op, scan, classify(rma_id, bench.codes.patterns))
        out.append((time.perf_counter() - t0) * 1000)
        assert outcome.status == "received", outcome.message
        if keep_going is not None and not keep_going.is_set():
            break  # only the scans made while the upload ran count
        time.sleep(0.005)  # scans come one by one at a bench, not back to back
    return out


def bench_capture(home: Path, store: Store, bench: Bench, url: str, shots: int) -> None:
    station = load_bench_config(home).station
    camera = open_camera(station.cameras[0])
    op = bench.operators.by_badge("2001")
    ids = add_rmas(store, shots, 1)
    lpns = []
    for rma_id in ids:
        out = handle_scan(store, bench, op, ScanEvent(rma_id, "test", None, utcnow()),
                          classify(rma_id, bench.codes.patterns))
        lpns.append(out.unit.lpn)
    raw_dir = Path(tempfile.mkdtemp(prefix="raw-", dir=home))
    client = httpx.Client()
    ours, raw, parts = [], [], {"capture": [], "process": [], "store": []}
    shoot(camera, station.photos)  # warm up both paths (connections, Pillow's codecs)
    client.get(url)
    for i, lpn in enumerate(lpns):
        t0 = time.perf_counter()
        body = client.get(url).content
        with open(raw_dir / f"{i}.jpg", "wb") as fh:
            fh.write(body)
            fh.flush()
            os.fsync(fh.fileno())
        raw.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        shot = shoot(camera, station.photos)
        t1 = time.perf_counter()
        # Each photo differs from the last as a real camera's do (a unit's same picture is kept once).
        processed = shot.processed
        add_photo(store, bench, op, lpn, processed, camera="desk")
        t2 = time.perf_counter()
        ours.append((t2 - t0) * 1000)
        parts["capture"].append(shot.capture_s * 1000)
        parts["process"].append(shot.process_s * 1000)
        parts["store"].append((t2 - t1) * 1000)
    camera.close()
    size = shot.raw_bytes / 1e6
    print(f"capture to stored, {shots} photos from a loopback snapshot camera ({size:.2f} MB JPEG 1920x1080 -> "
          f"{processed.width}x{processed.height}, {processed.size / 1e3:.0f} KB stored)")
    print(f"  {'':34} {'p50 ms':>8} {'p99 ms':>8}")
    print(f"  {'raw: HTTP GET + file write+fsync':34} {statistics.median(raw):8.1f} {pct(raw, 99):8.1f}")
    print(f"  {'bench: capture -> stored':34} {statistics.median(ours):8.1f} {pct(ours, 99):8.1f}"
          f"   ratio {statistics.median(ours) / statistics.median(raw):.1f}x (p50)")
    for name, values in parts.items():
        print(f"    {name:32} {statistics.median(values):8.1f} {pct(values, 99):8.1f}")


def start_hq(root: Path, token_out: list[str]) -> tuple[subprocess.Popen, str]:
    import socket

    db_path = root / "hq.sqlite3"
    db = HQDatabase(f"sqlite:///{db_path}")
    token_out.append(add_station(db, "B07"))
    db.dispose()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-c", "from dockstation.cli import main; main()", "hq", "serve",
                             "--db", f"sqlite:///{db_path}", "--port", str(port), "--photos-dir", str(root / "photos"),
                             "--log-level", "warning"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("HQ did not start")


def bench_uploads(root: Path, home: Path, store: Store, bench: Bench, scans: int) -> None:
    token: list[str] = []
    proc, url = start_hq(root, token)
    try:
        station_toml = home / "config" / "station.toml"
        base = station_toml.read_text()

        def set_cap(kbps: int) -> StationConfig:
            station_toml.write_text(base + f'[hq]\nurl = "{url}"\ntoken = "{token[0]}"\n[photos]\nupload_kbps = {kbps}\n')
            return load_layered("station.toml", StationConfig, home, required=True)

        station = set_cap(0)
        assert SyncClient(store, home, station).sync_once().outcome == "ok"  # the photos' events first
        with store.read() as s:
            sizes = list(s.exec(select(Photo.bytes)).all())
        photos, total = len(sizes), sum(sizes)
        next_rma = [10_000]

        def rmas(n: int) -> list[str]:
            ids = add_rmas(store, n, next_rma[0])
            next_rma[0] += n
            return ids

        def idle(label: str) -> None:
            store.checkpoint()  # as the TUI does now and then: every phase starts from the same WAL
            rows.append((label, scan_latencies(store, bench, rmas(scans)), None))

        rows: list[tuple[str, list[float], tuple[float, float, float] | None]] = []
        idle("no upload")
        for label, kbps in (("uploading, no cap", 0), ("uploading, 40 Mbit/s cap", 40_000)):
            if rows[-1][2] is not None:
                idle("no upload")
            store.checkpoint()
            with store.write() as s:  # every photo again: HQ takes each as it would (hashed, 200 already held)
                s.execute(update(Photo).values(uploaded_at=None))
            uploader = PhotoUploader(store, home, set_cap(kbps))
            running = threading.Event()
            result: dict[str, object] = {}

            def upload() -> None:
                running.set()
                t0 = time.perf_counter()
                result["report"] = uploader.upload_once()
                result["s"] = time.perf_counter() - t0
                running.clear()

            thread = threading.Thread(target=upload)
            thread.start()
            running.wait()
            lat = scan_latencies(store, bench, rmas(scans * 4), keep_going=running)
            thread.join()
            report = result["report"]
            assert report.pending == 0, report.message
            seconds = float(result["s"])  # type: ignore[arg-type]
            rows.append((label, lat, (seconds, photos / seconds, total / seconds / 1e6)))
            uploader.close()
        idle("no upload")
        print(f"\nscan latency (receiving use case, ms) while {photos} photos ({total / 1e6:.1f} MB) go to HQ "
              "(its own process, loopback)")
        print(f"  {'':30} {'scans':>6} {'p50':>7} {'p99':>7}   upload")
        for label, lat, up in rows:
            upload = f"{up[0]:.1f} s, {up[1]:.0f} photos/s, {up[2]:.1f} MB/s" if up else ""
            print(f"  {label:30} {len(lat):6d} {statistics.median(lat):7.2f} {pct(lat, 99):7.2f}   {upload}")
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shots", type=int, default=120)
    parser.add_argument("--scans", type=int, default=300)
    args = parser.parse_args()
    body = camera_jpeg()
    server, url = serve_snapshot(body)
    with tempfile.TemporaryDirectory(prefix="bench-photos-") as tmp:
        root = Path(tmp)
        home = make_home(root, f'[[cameras]]\nname = "desk"\nurl = "{url}"\n')
        store = Store.in_home(home)
        cfg = load_bench_config(home)
        bench = Bench(station_id="B07", codes=cfg.codes, operators=cfg.operators, receipt_label=True)
        try:
            bench_capture(home, store, bench, url, args.shots)
            bench_uploads(root, home, store, bench, args.scans)
        finally:
            store.close()
            server.shutdown()


if __name__ == "__main__":
    main()
