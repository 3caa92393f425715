"""Helpers for the photo tests: JPEGs with GPS EXIF, a snapshot camera on loopback, a checklist
whose steps ask for photos, units received at the bench."""

from __future__ import annotations

import io
import threading
from datetime import timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from PIL import Image, ImageDraw

from dockstation.models import Rma, RmaLine
from dockstation.receiving import Bench, receive_line
from dockstation.scan import ScanEvent
from dockstation.store import Store
from dockstation.types import utcnow

GPS_IFD = 0x8825
ORIENTATION = 0x0112

# A site checklist: a photo of the label whatever the answer; the screen's fail branch needs one;
# "Damaged" needs two; the last check needs none.
GADGETS = """
version = "t-1"
title = "Gadgets"

[[steps]]
id = "label"
prompt = "Rating label readable?"
kind = "check"
photos = 1

[[steps]]
id = "screen"
prompt = "Screen free of cracks?"
kind = "check"
on_fail = { grade_cap = "C", photos = 1 }

[[steps]]
id = "cosmetic"
prompt = "Body condition?"
kind = "choice"
options = [
  { key = "like_new", label = "Like new", command = "PASS" },
  { key = "damaged", label = "Damaged", command = "FAIL", grade_cap = "D", photos = 2 },
]

[[steps]]
id = "works"
prompt = "Works?"
kind = "check"
"""


def write_checklist(home: Path, name: str = "gadgets", body: str = GADGETS) -> None:
    folder = home / "config" / "categories"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.toml").write_text(body)


def picture(width: int = 1200, height: int = 800, colour: tuple[int, int, int] = (30, 120, 200), *,
            gps: bool = True, orientation: int = 1, seed: int = 0) -> bytes:
    """A JPEG like a phone's: GPS position, maker and model in its EXIF; an arrow pointing up."""
    im = Image.new("RGB", (width, height), colour)
    draw = ImageDraw.Draw(im)
    draw.polygon([(width // 2, 10), (width // 2 - 60, 120), (width // 2 + 60, 120)], fill=(255, 255, 0))
    draw.rectangle([seed % 50, seed % 50, seed % 50 + 40, seed % 50 + 40], fill=(seed % 256, 0, 0))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    exif[0x0110] = "Phone 15"
    exif[ORIENTATION] = orientation
    if gps:
        exif[GPS_IFD] = {1: "N", 2: (52.0, 22.0, 11.5), 3: "E", 4: (4.0, 53.0, 38.2), 5: 0, 6: 3.5}
    out = io.BytesIO()
    im.save(out, "JPEG", exif=exif.tobytes(), quality=90)
    return out.getvalue()


class SnapshotCamera:
    """A network camera's snapshot URL on 127.0.0.1: GET /snapshot.jpg answers `body` (a JPEG);
    `status` other than 200 makes it fail; each answer's bytes may differ (`next_body`)."""

    def __init__(self, body: bytes | None = None) -> None:
        self.body = body or picture()
        self.status = 200
        self.requests = 0
        self.auth: str | None = None  # the Authorization header of the last request
        self.bodies: list[bytes] = []  # served in turn, then `body`
        camera = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
                camera.requests += 1
                camera.auth = self.headers.get("Authorization")
                if self.path != "/snapshot.jpg" or camera.status != 200:
                    self.send_response(404 if self.path != "/snapshot.jpg" else camera.status)
                    self.end_headers()
                    return
                body = camera.bodies.pop(0) if camera.bodies else camera.body
                self.send_response(200)
                self.send_header("Content-Type", "image/jpeg")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/snapshot.jpg"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def receive_unit(store: Store, bench: Bench, category: str = "gadgets", n: int = 1) -> str:
    """One unit of `category`, received by the clerk; its LPN."""
    rma_id = f"RMA-PHOTO-{n:05d}"
    now = utcnow()
    with store.write() as s:
        s.add(Rma(rma_id=rma_id, order_id=f"O-{n}", created_at=now - timedelta(days=2),
                  expires_at=now + timedelta(days=30), status="open", updated_at=now))
        s.add(RmaLine(rma_id=rma_id, line_no=1, sku="GAD-1", description="A gadget", category=category,
                      unit_price=Decimal("80.00")))
    clerk = bench.operators.by_badge("1001")
    out = receive_line(store, bench, clerk, rma_id, 1, ScanEvent(rma_id, "test", None, now))
    assert out.status == "received", out.message
    return out.unit.lpn
