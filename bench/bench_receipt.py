"""What queueing the receipt label costs a receiving scan: the same core, label on and off.

    .venv/bin/python bench/bench_receipt.py                  # 100k RMAs, 2 x 1000 scans, < 1 min
    .venv/bin/python bench/bench_receipt.py --rmas 1000000

A bench home with a generated manifest (bench_scan's `make_home` and `pick_codes`), then the
receiving core (`classify` + `handle_scan`: one BEGIN IMMEDIATE transaction, synchronous=FULL)
in one process on one store, scans alternating `Bench.receipt_label` off and on, so both see the
same machine load, disk and database size. Only scans that received a unit are counted, after
--warmup scans. Prints p50 / p99 of both and the ratio of "on" to its baseline, "off" (the
receiving transaction without the label's job row and event). Never a timed assertion.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_scan import make_home, pct, pick_codes  # noqa: E402

from dockstation.config import load_bench_config  # noqa: E402
from dockstation.receiving import Bench, handle_scan, sign_in  # noqa: E402
from dockstation.scan import ScanEvent, classify  # noqa: E402
from dockstation.store import Store  # noqa: E402
from dockstation.tui.app import load_triage  # noqa: E402
from dockstation.types import utcnow  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rmas", type=int, default=100_000)
    parser.add_argument("--scans", type=int, default=1000, help="scans per side")
    parser.add_argument("--warmup", type=int, default=40)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as work:
        home, took = make_home(Path(work), args.rmas, args.seed)
        first, second = pick_codes(home, args.scans, args.seed)
        codes = [c for pair in zip(first, second, strict=True) for c in pair]
        cfg = load_bench_config(home)
        on = Bench(cfg.station.station_id, cfg.codes, cfg.operators, cfg.station.return_grace_days,
                   load_triage(home, cfg), receipt_label=True)
        off = dataclasses.replace(on, receipt_label=False)
        store = Store.in_home(home)
        op = sign_in(store, on, ScanEvent("OP-1001", "bench", None, utcnow()), "1001").operator
        times: dict[bool, list[float]] = {True: [], False: []}
        for i, code in enumerate(codes):
            bench = off if i % 2 == 0 else on
            t0 = time.perf_counter()
            out = handle_scan(store, bench, op, ScanEvent(code, "bench", None, utcnow()),
                              classify(code, cfg.codes.patterns))
            ms = (time.perf_counter() - t0) * 1000
            if i >= args.warmup and out.status == "received":
                times[bench.receipt_label].append(ms)
        store.close()
    base, label = times[False], times[True]
    print(f"manifest: {args.rmas:,} RMAs imported in {took:.1f} s; {len(codes)} scans alternating")
    print(f"  receipt_label off (baseline)  receipts {len(base):5}  p50 {pct(base, 50):6.2f} ms  "
          f"p99 {pct(base, 99):6.2f} ms")
    print(f"  receipt_label on              receipts {len(label):5}  p50 {pct(label, 50):6.2f} ms  "
          f"p99 {pct(label, 99):6.2f} ms   x{pct(label, 50) / pct(base, 50):.2f} / "
          f"x{pct(label, 99) / pct(base, 99):.2f} baseline")
    print(f"  the label's job and event: +{pct(label, 50) - pct(base, 50):.2f} ms p50")
    return 0


if __name__ == "__main__":
    sys.exit(main())
