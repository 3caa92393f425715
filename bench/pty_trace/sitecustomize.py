"""Loaded by `dockstation run` under `bench_scan.py --pty --split` only (PYTHONPATH): timestamps of
each scan inside the app, one CSV line per scan's first frame, into $DS_TRACE.

perf_counter is CLOCK_MONOTONIC on Linux, the same clock in the benchmark's process, so the
benchmark lines these up with its own write and read times. Columns: first key of the scan
seen by the app, the dispatcher's start and the end of its dispatch, the time in store calls
(InlineStore.call: the durable transaction, or its thread fallback), the frame's start and end
(rendered and queued to the driver's writer thread); then the main thread's CPU time
(time.thread_time: not the waits for the disk, the GIL or a CPU) from the first key to the end
of the frame, and of it in store calls.
"""

import os
import time

OUT = os.environ.get("DS_TRACE")
if OUT:
    from textual import events
    from textual.app import App

    import dockstation.tui.app as bench_app
    import dockstation.tui.inline_store as inline_store
    from dockstation.tui.messages import KeyBurst

    _out = open(OUT, "a", buffering=1)  # noqa: SIM115 — open for the life of the process
    _keys: dict[str, float | None] = {"first": None, "burst": None, "cpu": None, "burst_cpu": None}
    cpu = time.thread_time
    _scan: dict[str, float] = {}

    _on_event = bench_app.BenchApp.on_event

    async def on_event(self, event):  # type: ignore[no-untyped-def]
        if isinstance(event, (events.Key, KeyBurst)) and _keys["first"] is None:
            _keys["first"], _keys["cpu"] = time.perf_counter(), cpu()
        await _on_event(self, event)

    _enqueue = bench_app.BenchApp.enqueue_scan

    def enqueue_scan(self, scan):  # type: ignore[no-untyped-def]
        _keys["burst"], _keys["first"] = _keys["first"], None
        _keys["burst_cpu"], _keys["cpu"] = _keys["cpu"], None
        _enqueue(self, scan)

    _handle = bench_app.BenchApp._handle

    async def handle(self, scan):  # type: ignore[no-untyped-def]
        _scan.clear()
        _scan.update(key=_keys["burst"] or 0.0, start=time.perf_counter(), store=0.0,
                     cpu=_keys["burst_cpu"] or cpu(), store_cpu=0.0)
        await _handle(self, scan)
        _scan.setdefault("end", time.perf_counter())

    _dispatch = bench_app.BenchApp.dispatch

    async def dispatch(self, scan, c):  # type: ignore[no-untyped-def]
        await _dispatch(self, scan, c)
        _scan["end"] = time.perf_counter()  # before the frame painted at once (tui/paint.py)

    _call = inline_store.InlineStore.call

    async def call(self, fn, *args, **kwargs):  # type: ignore[no-untyped-def]
        t, c = time.perf_counter(), cpu()
        try:
            return await _call(self, fn, *args, **kwargs)
        finally:
            _scan["store"] = _scan.get("store", 0.0) + time.perf_counter() - t
            _scan["store_cpu"] = _scan.get("store_cpu", 0.0) + cpu() - c

    _display = App._display

    def display(self, screen, renderable):  # type: ignore[no-untyped-def]
        t = time.perf_counter()
        _display(self, screen, renderable)
        if renderable is not None and "end" in _scan:
            row = (_scan["key"], _scan["start"], _scan["end"], _scan["store"], t, time.perf_counter(),
                   cpu() - _scan["cpu"], _scan["store_cpu"])
            _out.write(",".join(f"{v:.6f}" for v in row) + "\n")
            _scan.clear()

    bench_app.BenchApp.on_event = on_event
    bench_app.BenchApp.enqueue_scan = enqueue_scan
    bench_app.BenchApp._handle = handle
    bench_app.BenchApp.dispatch = dispatch
    inline_store.InlineStore.call = call
    App._display = display
