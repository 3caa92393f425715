"""An inspection killed mid-way (SIGKILL, no clean-up) resumes at its step with its answers."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap

from inspection_support import IMEI
from sqlmodel import select

from dockstation import inspection as ins
from dockstation.inspection import Response
from dockstation.models import Event, Unit

CHILD = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path
    from dockstation.config import load_bench_config
    from dockstation.inspection import Response, answer, load_checklists, open_inspection
    from dockstation.receiving import Bench
    from dockstation.store import Store

    home, lpn, imei = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
    cfg = load_bench_config(home)
    bench = Bench(station_id=cfg.station.station_id, codes=cfg.codes, operators=cfg.operators)
    store = Store.in_home(home)
    checklists = load_checklists(home, cfg.codes)
    grader = cfg.operators.by_badge("2001")
    view = open_inspection(store, bench, grader, lpn, checklists)
    view = answer(store, bench, grader, view.inspection_id, Response("pass"), checklists)
    view = answer(store, bench, grader, view.inspection_id, Response("value", imei), checklists)
    print(view.step.id, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)  # no atexit, no engine dispose, no WAL checkpoint
""")


def test_resume_after_the_process_is_killed_mid_inspection(home, store, bench, checklists, grader, receive):
    lpn = receive("phones")
    store.close()  # the child is the only writer, as at a bench
    child = subprocess.run([sys.executable, "-c", CHILD, str(home), lpn, IMEI], capture_output=True, text=True,
                           timeout=120)
    assert child.returncode == -signal.SIGKILL, child.stderr
    assert child.stdout.strip() == "powers_on"  # it got as far as showing step 3

    view = ins.open_inspection(store, bench, grader, lpn, checklists)
    assert view.resumed and view.step_index == 2 and view.step.id == "powers_on"
    assert view.answers["item_present"]["result"] == "pass"
    assert view.answers["imei"]["value"] == IMEI and view.answers["imei"]["by"] == "2001"
    with store.read() as s:
        assert s.get(Unit, lpn).state == "inspecting"
        kinds = [e.kind for e in s.exec(select(Event).where(Event.lpn == lpn).order_by(Event.seq))]
    assert kinds == ["unit_received", "inspection_started", "inspection_answered", "inspection_answered"]

    # … and the grader carries on to the grade.
    while view.step is not None:
        view = ins.answer(store, bench, grader, view.inspection_id, Response("pass" if view.step.kind != "number"
                                                                             else "na"), checklists)
    assert ins.finish(store, bench, grader, view.inspection_id, checklists).grade == "A"
