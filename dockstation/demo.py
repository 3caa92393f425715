"""A realistic generated manifest, and a ready-to-run demo bench home.

`generate_manifest` writes a Manifest CSV (ARCHITECTURE.md contract) that looks like a returns
warehouse's day: nine categories with their own catalogues and price ranges, valid GTIN-13s,
IMEIs for phones (Luhn), UPS `1Z` numbers with valid check digits, multi-line RMAs, some
cancelled and some expired. It is deterministic for a seed and fast enough for the 1M-row bench.
`build_demo_home` makes a bench home that `dockstation demo` opens.
"""

from __future__ import annotations

import csv
import random
import shutil
from bisect import bisect
from itertools import accumulate
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from stdnum import ean, luhn

from dockstation.config import CodesConfig, load_layered
from dockstation.carriers import fedex_express_check_digit
from dockstation.scan import ups_check_digit

COLUMNS = [
    "rma_id", "order_id", "created_at", "expires_at", "status", "line_no", "sku", "gtin",
    "description", "category", "qty", "unit_price", "currency", "expected_serial", "reason_code",
    "carrier", "tracking_number",
]
MARKER = "DEMO"
STATION_ID = "B07"
RETURN_WINDOW = timedelta(days=30)

# category: (weight, sku prefix, (brands), (products), (variants), price range, serial kind)
CATALOGUE: dict[str, tuple[int, str, tuple[str, ...], tuple[str, ...], tuple[str, ...], tuple[int, int], str]] = {
    "phones": (8, "PHN", ("Nokara", "Pixelo", "Galaxa", "Moto G"), ("X", "Pro", "Lite", "Max", "Mini"),
               ("128GB Black", "256GB Blue", "128GB Green", "512GB Silver"), (149, 1199), "imei"),
    "laptops": (4, "LAP", ("ThinkBook", "Aspira", "ZenNote", "Inspira"), ("14", "15 Pro", "13 Air", "16 Creator"),
                ("i5 16GB 512GB", "Ryzen 7 16GB 1TB", "i7 32GB 1TB", "M-class 8GB 256GB"), (399, 2499), "serial"),
    "headphones": (8, "HDP", ("Sonique", "BassLab", "Auralis", "Quietly"), ("ANC 700", "Buds 2", "Studio", "Sport"),
                   ("Black", "White", "Midnight Blue"), (29, 449), "serial"),
    "apparel": (25, "APP", ("Northfold", "Urbanthread", "Kestrel", "Basics Co"),
                ("T-shirt", "Hoodie", "Denim jacket", "Chinos", "Summer dress", "Rain jacket"),
                ("XS", "S", "M", "L", "XL"), (12, 189), ""),
    "footwear": (12, "FTW", ("Stridewell", "Runa", "Oakpath", "Pacer"),
                 ("Runner", "Trail shoe", "Leather boot", "Sandal", "Court sneaker"),
                 ("EU 38", "EU 40", "EU 42", "EU 44", "EU 46"), (25, 240), ""),
    "home": (15, "HOM", ("Hearth", "Lumo", "Casa Nova", "Brewmaster"),
             ("Table lamp", "Coffee maker", "Duvet cover", "Cookware set", "Air purifier"),
             ("Standard", "Large", "Grey", "Oak"), (15, 399), ""),
    "health_beauty": (10, "HBA", ("Glowe", "Purely", "Dermica", "Smoothline"),
                      ("Hair dryer", "Electric toothbrush", "Skincare set", "Beard trimmer"),
                      ("Standard", "Travel", "Pro"), (9, 249), ""),
    "toys": (10, "TOY", ("Brickly", "Playden", "Wondertoy", "Robokid"),
             ("Building set", "RC car", "Puzzle 1000", "Robot kit", "Plush bear"),
             ("Age 6+", "Age 8+", "Age 12+"), (8, 199), ""),
    "other": (8, "OTH", ("Trailhead", "Gearup", "Paperleaf", "Petpal"),
              ("Backpack", "Camping stove", "Notebook set", "Pet bed", "Yoga mat"),
              ("Standard", "Large"), (10, 179), ""),
}

# Reasons a customer gives, weighted per kind of goods (keys must exist in codes.toml).
_REASONS_ELECTRONICS = {"defective": 30, "changed_mind": 20, "not_as_described": 12, "damaged_in_transit": 8,
                        "missing_parts": 8, "wrong_item_sent": 5, "unwanted_gift": 8, "late_delivery": 4,
                        "fraud_suspected": 1}
_REASONS_FIT = {"wrong_size": 45, "changed_mind": 20, "not_as_described": 12, "damaged_in_transit": 4,
                "wrong_item_sent": 5, "unwanted_gift": 8, "late_delivery": 5, "defective": 3}
_REASONS_OTHER = {"changed_mind": 30, "defective": 15, "not_as_described": 15, "damaged_in_transit": 10,
                  "missing_parts": 6, "wrong_item_sent": 6, "unwanted_gift": 12, "late_delivery": 6}
_REASONS = {"phones": _REASONS_ELECTRONICS, "laptops": _REASONS_ELECTRONICS, "headphones": _REASONS_ELECTRONICS,
            "apparel": _REASONS_FIT, "footwear": _REASONS_FIT}
_OFFSETS = (timezone.utc, timezone(timedelta(hours=-5)), timezone(timedelta(hours=1)))
_ALNUM = "0123456789ABCDEFGHJKLMNPRSTUVWXYZ"


class _Weighted:
    """`random.choices` with precomputed cumulative weights (it is the generator's hot spot)."""

    def __init__(self, weights: dict[str, int]) -> None:
        self.items = list(weights)
        self.cum = list(accumulate(weights.values()))
        self.total = self.cum[-1]

    def pick(self, rng: random.Random) -> str:
        return self.items[bisect(self.cum, rng.random() * self.total)]


def _digits(rng: random.Random, k: int) -> str:
    return f"{rng.randrange(10**k):0{k}d}"


def _gtin13(rng: random.Random) -> str:
    body = "40" + _digits(rng, 10)
    return body + ean.calc_check_digit(body)


def ups_tracking(rng: random.Random) -> str:
    """A UPS 1Z number: shipper (6), service (2), package (7), and the check digit."""
    body = "".join(rng.choices(_ALNUM, k=6)) + rng.choice(("01", "02", "03", "12", "42")) + _digits(rng, 7)
    return f"1Z{body}{ups_check_digit(body)}"


def _imei(rng: random.Random) -> str:
    body = rng.choice(("35693803", "35328211", "35420811", "86753104")) + _digits(rng, 6)
    return body + luhn.calc_check_digit(body)


def _products(rng: random.Random) -> dict[str, list[tuple[str, str | None, str, str, str]]]:
    """Per category: (sku, gtin, description, unit price, serial kind)."""
    out: dict[str, list[tuple[str, str | None, str, str, str]]] = {}
    for cat, (_w, prefix, brands, names, variants, (lo, hi), serial) in CATALOGUE.items():
        items = []
        for b, brand in enumerate(brands):
            for n, name in enumerate(names):
                base = rng.uniform(lo, hi)
                for v, variant in enumerate(variants):
                    price = f"{round(base * (1 + 0.08 * v)) - 0.01:.2f}" if base > 20 else f"{base * (1 + 0.05 * v):.2f}"
                    # Some apparel and "other" goods carry no GTIN on the manifest (own-label stock).
                    gtin = None if cat in ("apparel", "other") and rng.random() < 0.1 else _gtin13(rng)
                    sku = f"{prefix}-{b}{n:02d}{v:02d}"
                    items.append((sku, gtin, f"{brand} {name} {variant}", price, serial))
        out[cat] = items
    return out


def generate_manifest(path: Path | str, *, rmas: int, seed: int, now: datetime) -> int:
    """Write a Manifest CSV of `rmas` RMAs to `path`; return the number of data rows written."""
    rng = random.Random(seed)
    now = now.astimezone(UTC) if now.tzinfo else now.replace(tzinfo=UTC)
    known = set(load_layered("codes.toml", CodesConfig, None).reason_codes)
    reasons = {c: _Weighted({r: w for r, w in _REASONS.get(c, _REASONS_OTHER).items() if r in known})
               for c in CATALOGUE}
    products = _products(rng)
    categories = _Weighted({c: spec[0] for c, spec in CATALOGUE.items()})
    width = max(6, len(str(rmas)))
    rows = 0
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh, lineterminator="\n")
        out.writerow(COLUMNS)
        batch: list[list[object]] = []
        for i in range(1, rmas + 1):
            roll = rng.random()
            status = "cancelled" if roll < 0.03 else "open"
            if 0.03 <= roll < 0.06:  # expired: created more than a window ago
                created = now - timedelta(days=rng.uniform(31, 75))
            else:
                created = now - timedelta(days=rng.uniform(0.1, 25))
            created = created.replace(microsecond=0).astimezone(_OFFSETS[i % 3])
            expires = created + RETURN_WINDOW
            ckind = rng.random()
            if ckind < 0.82:
                carrier, tracking = "ups", ups_tracking(rng)
            elif ckind < 0.90:
                # Check digits as the carriers print them: the bench refuses a number without
                # (dockstation/carriers.py), so a demo parcel must scan like a real one.
                body = "9400" + _digits(rng, 17)
                carrier, tracking = "usps", body + ean.calc_check_digit(body)
            elif ckind < 0.96:
                body = _digits(rng, 11)
                carrier, tracking = "fedex", body + fedex_express_check_digit(body)
            else:
                carrier, tracking = "", ""  # dropped off at a store: no carrier label
            nlines = 1 if rng.random() < 0.75 else rng.choice((2, 2, 3, 4))
            head = [f"RMA-{now.year}-{i:0{width}d}", f"ORD-{rng.randrange(10**7, 10**8)}",
                    created.isoformat(), expires.isoformat(), status]
            cat = categories.pick(rng)
            for line_no in range(1, nlines + 1):
                if line_no > 1 and rng.random() < 0.4:
                    cat = categories.pick(rng)
                sku, gtin, desc, price, serial_kind = rng.choice(products[cat])
                qty = 1 if serial_kind or rng.random() < 0.93 else rng.choice((2, 2, 3))
                if serial_kind == "imei":
                    serial = _imei(rng)
                elif serial_kind == "serial" and (cat == "laptops" or rng.random() < 0.6):
                    serial = "".join(rng.choices(_ALNUM, k=10))
                else:
                    serial = ""
                batch.append([*head, line_no, sku, gtin or "", desc, cat, qty, price, "USD", serial,
                              reasons[cat].pick(rng), carrier, tracking])
            if len(batch) >= 10_000:
                out.writerows(batch)
                rows += len(batch)
                batch.clear()
        out.writerows(batch)
        rows += len(batch)
    return rows


# -- the demo home ----------------------------------------------------------------------------
class DemoError(Exception):
    pass


OPERATORS_TOML = """# Demo operators: scan OP-<badge> to sign in.
[[operators]]
badge = "1001"
name = "Casey Clerk"
role = "clerk"

[[operators]]
badge = "2001"
name = "Gale Grader"
role = "grader"

[[operators]]
badge = "9001"
name = "Lee Lead"
role = "lead"
"""


def _toml_str(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _hints(home: Path) -> str:
    """A few codes from the imported manifest to try, one per case the bench handles."""
    from dockstation.manifest import db_time
    from dockstation.store import Store

    store = Store.in_home(home)
    try:
        conn = store.raw_connection()
        q = conn.execute
        now = db_time(datetime.now(UTC))
        single = q("SELECT l.rma_id, l.description FROM rma_line l JOIN rma r USING (rma_id) WHERE r.status='open'"
                   " AND r.expires_at > ? AND l.category='phones' AND l.line_no=1 AND NOT EXISTS"
                   " (SELECT 1 FROM rma_line m WHERE m.rma_id=l.rma_id AND m.line_no=2) LIMIT 1", (now,)).fetchone()
        ups = q("SELECT l.tracking_number, l.rma_id FROM rma_line l JOIN rma r USING (rma_id) WHERE r.status='open'"
                " AND r.expires_at > ? AND l.carrier='ups' LIMIT 1", (now,)).fetchone()
        multi = q("SELECT l.rma_id, count(*) FROM rma_line l JOIN rma r USING (rma_id) WHERE r.status='open'"
                  " AND r.expires_at > ? GROUP BY l.rma_id HAVING count(*) >= 3 LIMIT 1", (now,)).fetchone()
        cancelled = q("SELECT rma_id FROM rma WHERE status='cancelled' LIMIT 1").fetchone()
        expired = q("SELECT rma_id FROM rma WHERE status='open' AND expires_at < ? LIMIT 1", (now,)).fetchone()
        conn.close()
    finally:
        store.close()
    lines = ["Dockstation demo bench (station B07). Sign in with OP-1001 (clerk), OP-2001 (grader)",
             "or OP-9001 (lead), then type or scan:", ""]
    if single:
        lines.append(f"  {single[0]}   one line: {single[1]}")
    if ups:
        lines.append(f"  {ups[0]}   UPS tracking number of {ups[1]}")
    if multi:
        lines.append(f"  {multi[0]}   {multi[1]} lines: pick the line or scan its GTIN")
    if cancelled:
        lines.append(f"  {cancelled[0]}   cancelled: an exception for the lead")
    if expired:
        lines.append(f"  {expired[0]}   outside the return window")
    lines.append("  RMA-1999-000000   not in the manifest")
    lines += ["", "After a disposition, scan its container to sort the unit: CT-B07-000001 restock … "
              "CT-B07-000008 dispose, CT-B07-000009… vendor-return boxes (dockstation containers list)."]
    return "\n".join(lines) + "\n"


DEMO_PATHS = ("restock", "open_box", "refurbish", "liquidate", "recycle", "donate", "quarantine", "dispose")


def _open_containers(store: Any, home: Path) -> None:
    """A container open for each path, and an RTV box per vendor, as a floor would have them ready
    (docs/containers.md); once (an interrupted build does not open them twice)."""
    from dockstation.containers import containers, open_container
    from dockstation.policy import load_policy

    if containers(store):
        return
    policy = load_policy(home)
    for path in DEMO_PATHS:
        if path in policy.paths:
            open_container(store, STATION_ID, "demo", policy=policy, paths=[path])
    for vendor in policy.vendors:
        open_container(store, STATION_ID, "demo", policy=policy, paths=["vendor_return"], vendor=vendor)


def build_demo_home(home: Path, *, rmas: int = 2000, seed: int = 7, fresh: bool = False) -> None:
    """Create (or keep) a demo bench home: config, a generated manifest imported, a DEMO marker.

    Idempotent: a home that already has the DEMO marker is left alone. `fresh` wipes it first,
    but only a demo home: never a real bench's. The marker is written last (DEMO.building
    meanwhile), so a half-built home (interrupted) is finished on the next call.
    """
    from dockstation.manifest import import_manifest
    from dockstation.store import Store

    home = Path(home).expanduser().resolve()
    marker, building = home / MARKER, home / f"{MARKER}.building"
    if fresh and home.exists():
        if not (marker.is_file() or building.is_file()):
            raise DemoError(f"{home}: not a demo home (no {MARKER} file); refusing to wipe it")
        shutil.rmtree(home)
    if marker.is_file():
        return
    # Only an empty folder, or a demo home whose building was interrupted, is built in: never a
    # real bench's home (that would import demo returns into its database).
    if home.exists() and any(home.iterdir()) and not building.is_file():
        raise DemoError(f"{home}: not a demo home and not empty; choose another folder")
    home.mkdir(parents=True, exist_ok=True)
    building.touch()
    (home / "config").mkdir(parents=True, exist_ok=True)
    (home / "spool").mkdir(exist_ok=True)
    station = home / "config" / "station.toml"
    if not station.exists():
        station.write_text(f'# Demo bench\nstation_id = "{STATION_ID}"\n\n[printer]\n'
                           f"url = {_toml_str(f'dir://{home}/spool')}\n", encoding="utf-8")
    operators = home / "config" / "operators.toml"
    if not operators.exists():
        operators.write_text(OPERATORS_TOML, encoding="utf-8")
    manifest = home / "manifest.csv"
    if not manifest.exists():
        tmp = manifest.with_suffix(".part")
        generate_manifest(tmp, rmas=rmas, seed=seed, now=datetime.now(UTC))
        tmp.replace(manifest)
    store = Store.in_home(home)
    try:
        report = import_manifest(store, STATION_ID, manifest, operator=None)
        _open_containers(store, home)
    finally:
        store.close()
    if report.errors:
        raise DemoError(f"{manifest}: the demo manifest has {report.errors} bad rows: {report.error_rows[:3]}")
    marker.write_text(_hints(home), encoding="utf-8")
    building.unlink()
