"""`dockstation doctor`: is this bench ready to work? One check per line (issue 14).

Checks, in order: the configuration loads (as the TUI would load it), somebody can sign in, the
home can be written (and has room), the store's schema and integrity, every photo's file is there
with the SHA-256 its event recorded, the printer answers, the serial scanners are plugged in, the
cameras answer (and checklists that ask for photos have one), HQ answers and takes the token, the bench's clock agrees with
HQ's (its `Date` header), and where the log is. Each check is `ok`, `warn` (works, but look),
`fail` (this bench cannot do part of its job) or `skip` (not set up, or needs a check that
failed). Nothing is changed: the store is opened read-only, ports are not opened (the running
bench may hold them), nothing is sent to the printer.
"""

from __future__ import annotations

import email.utils
import os
import shutil
import sqlite3
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from dockstation.config import BenchConfig, ConfigError, load_bench_config, operators_problem
from dockstation.text import clean

Status = Literal["ok", "warn", "fail", "skip"]
HTTP_TIMEOUT_S = 5.0
SKEW_FAIL_S = 120.0  # the sync header warns from there too (sync.client.SKEW_WARN_S)


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


@dataclass
class _State:
    home: Path
    config: BenchConfig | None = None
    server_date: datetime | None = None  # HQ's clock, from the hq check
    skew_s: float | None = None


def _config(st: _State) -> Check:
    config = load_bench_config(st.home)
    from dockstation.inspection import load_checklists
    from dockstation.policy.config import policy_for_home

    load_checklists(st.home, config.codes)
    policy = policy_for_home(st.home)
    st.config = config
    station = config.station
    return Check("config", "ok", f"station {station.station_id} ({station.site}), policy {policy.version}, "
                 f"{len(station.scanners)} serial scanner(s)")


def _operators(st: _State) -> Check:
    if st.config is None:
        return Check("operators", "skip", "needs a valid configuration")
    if problem := operators_problem(st.config):
        return Check("operators", "fail", problem)
    ops = st.config.operators.operators
    leads = sum(o.role == "lead" for o in ops)
    return Check("operators", "ok" if leads else "warn",
                 f"{len(ops)} operator(s), {leads} lead(s)" + ("" if leads else " — nobody can approve or see the lead view"))


def _home(st: _State) -> Check:
    from dockstation.store_failures import LOW_FREE_BYTES, home_problem

    if not st.home.is_dir():
        return Check("home", "fail", f"no bench in {st.home} (set --home or DOCKSTATION_HOME)")
    if problem := home_problem(st.home):
        return Check("home", "fail", f"{problem} — nothing can be recorded")
    free = shutil.disk_usage(st.home).free
    shown = f"{free / 1e9:.1f} GB" if free >= 1e9 else f"{free / 1e6:.0f} MB"
    if free < LOW_FREE_BYTES:
        return Check("home", "warn", f"{st.home} writable, only {shown} free — free space soon")
    return Check("home", "ok", f"{st.home} writable, {shown} free")


def _store(st: _State) -> Check:
    from dockstation.store import DB_NAME, LATEST

    path = st.home / DB_NAME
    if not path.is_file():
        return Check("store", "warn", f"no database yet: {path} is made at the first start")
    conn = sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True, timeout=5)
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        problems = [row[0] for row in conn.execute("PRAGMA quick_check(5)")]
        units = conn.execute("SELECT count(*) FROM unit").fetchone()[0] if version else 0
    except sqlite3.Error as exc:
        return Check("store", "fail", f"{path}: {exc} — call IT and delete nothing")
    finally:
        conn.close()
    if problems != ["ok"]:
        return Check("store", "fail", f"{path} is damaged ({clean('; '.join(problems), limit=120)}) — call IT, delete nothing")
    if version > LATEST:
        return Check("store", "fail", f"schema v{version} is newer than this release (v{LATEST}): install the newer Dockstation")
    if version < LATEST:
        return Check("store", "ok", f"schema v{version}, brought to v{LATEST} at the next start; {units:,} units; integrity ok")
    return Check("store", "ok", f"schema v{version}; {units:,} units; integrity ok")


def _printer(st: _State) -> Check:
    if st.config is None:
        return Check("printer", "skip", "needs a valid configuration")
    from labels import PrinterError
    from labels.printers import open_printer
    from labels.queue import spool_url

    url = st.config.station.printer.url or spool_url(st.home)
    try:
        printer = open_printer(url)
    except PrinterError as exc:
        return Check("printer", "fail", clean(str(exc)))
    answer = printer.probe()
    shown = clean(printer.url, limit=80)
    if answer is None:
        return Check("printer", "warn", f"{shown}: cannot tell whether it is there")
    if not answer:
        return Check("printer", "fail", f"{shown}: not reachable — labels wait in the queue until it is")
    spool = "" if st.config.station.printer.url else " (label files in the spool: no printer set)"
    return Check("printer", "ok", f"{shown} answers{spool}")


def _port_present(port: str) -> bool:
    if port.lower().startswith("hwgrep://"):
        import serial.tools.list_ports

        return any(True for _ in serial.tools.list_ports.grep(port[len("hwgrep://"):].split("&")[0]))
    if "://" in port:  # other pyserial URLs (socket://, rfc2217://): nothing to look at here
        return True
    return os.path.exists(port)


def _scanners(st: _State) -> Check:
    if st.config is None:
        return Check("scanners", "skip", "needs a valid configuration")
    station = st.config.station
    wanted = [(sc.name, sc.port) for sc in station.scanners]
    if station.wedge.evdev_device:
        wanted.append(("evdev", station.wedge.evdev_device))
    if not wanted:
        return Check("scanners", "ok", "keyboard wedge only (no [[scanners]])")
    missing = [f"{name} ({clean(port, limit=60)})" for name, port in wanted if not _port_present(port)]
    if missing:
        return Check("scanners", "fail", f"not plugged in: {', '.join(missing)}")
    return Check("scanners", "ok", f"present: {', '.join(name for name, _ in wanted)}")


def _cameras(st: _State) -> Check:
    if st.config is None:
        return Check("cameras", "skip", "needs a valid configuration")
    from dockstation.inspection import load_checklists
    from dockstation.photos.rules import wants_photos

    cameras = st.config.station.cameras
    needing = sorted(key for key, cl in load_checklists(st.home, st.config.codes).by_key.items() if wants_photos(cl))
    if not cameras:
        if needing:
            return Check("cameras", "warn", f"no [[cameras]], but checklists ask for photos ({', '.join(needing[:4])}): "
                         "every such step needs a lead's waiver")
        return Check("cameras", "ok", "none set up, and no checklist asks for photos ([[cameras]]: docs/photos.md)")
    from dockstation.cameras import open_camera

    problems = []
    for cfg in cameras:
        camera = open_camera(cfg)
        try:
            if (problem := camera.probe()) is not None:
                problems.append(f"{cfg.name}: {clean(problem, limit=60)}")
        finally:
            camera.close()
    if problems:
        return Check("cameras", "fail", "; ".join(problems))
    return Check("cameras", "ok", f"ready: {', '.join(c.name for c in cameras)}")


def _photos(st: _State) -> Check:
    """Every photo row's file is there with the SHA-256 its event recorded (read-only)."""
    from dockstation.photos.image import sha256_of
    from dockstation.photos.store import FOLDER
    from dockstation.store import DB_NAME

    path = st.home / DB_NAME
    if not path.is_file():
        return Check("photos", "skip", "no database yet")
    conn = sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True, timeout=5)
    try:
        has = conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='photo'").fetchone()
        rows = conn.execute("SELECT lpn, file, sha256, upload_error FROM photo ORDER BY id").fetchall() if has else []
    except sqlite3.Error as exc:
        return Check("photos", "fail", f"cannot read the photo table: {exc}")
    finally:
        conn.close()
    if not rows:
        return Check("photos", "ok", "no photos yet")
    bad: list[str] = []
    for lpn, file, sha, _ in rows:
        try:
            data = (st.home / file).read_bytes()
        except FileNotFoundError:
            bad.append(f"{lpn} {file} missing")
            continue
        except OSError as exc:
            bad.append(f"{lpn} {file} unreadable ({exc.strerror})")
            continue
        if sha256_of(data) != sha:
            bad.append(f"{lpn} {file} changed")
    if bad:
        more = f" (+{len(bad) - 3} more)" if len(bad) > 3 else ""
        return Check("photos", "fail", f"{len(bad)} of {len(rows)} photo file(s) not as recorded: "
                     f"{clean('; '.join(bad[:3]), limit=240)}{more} — restore them from a backup; HQ keeps "
                     "the ones already uploaded")
    known = {file for _, file, _, _ in rows}
    folder = st.home / FOLDER
    orphans = [p for p in folder.glob("*/*.jpg") if p.relative_to(st.home).as_posix() not in known] if folder.is_dir() else []
    refused = sum(1 for *_, err in rows if err)
    detail = f"{len(rows):,} photo(s) present and unchanged"
    if orphans:
        detail += f"; {len(orphans)} file(s) no row names (a crash between file and commit: harmless)"
    if refused:
        return Check("photos", "warn", f"{detail}; {refused} set aside by the upload (dockstation export photos)")
    return Check("photos", "ok", detail)


def _hq(st: _State) -> Check:
    if st.config is None:
        return Check("hq", "skip", "needs a valid configuration")
    hq = st.config.station.hq
    if not hq.url:
        return Check("hq", "skip", "not set ([hq] url in station.toml): this bench works offline")
    if not hq.token:
        return Check("hq", "fail", "[hq] url is set but no [hq] token")
    import httpx

    from sync.protocol import API, PROTOCOL, PROTOCOL_HEADER

    shown = clean(hq.url, limit=80)
    headers = {"Authorization": f"Bearer {hq.token}", PROTOCOL_HEADER: str(PROTOCOL),
               "User-Agent": f"dockstation-doctor/{st.config.station.station_id}"}
    try:
        with httpx.Client(base_url=hq.url.rstrip("/"), headers=headers, timeout=HTTP_TIMEOUT_S) as client:
            sent = time.time()
            resp = client.get(f"{API}/config")
            received = time.time()
    except httpx.HTTPError as exc:
        return Check("hq", "fail", f"{shown} unreachable: {type(exc).__name__}: {clean(exc, limit=100)}")
    if (date := resp.headers.get("date")) is not None:
        try:
            st.server_date = email.utils.parsedate_to_datetime(date)
            # HQ stamped Date somewhere between sending and receiving; 1 s resolution.
            st.skew_s = (sent + received) / 2 - st.server_date.timestamp()
        except (TypeError, ValueError):
            pass
    if resp.status_code in (401, 403):
        return Check("hq", "fail", f"{shown} refuses the token ({resp.status_code}): check [hq] token")
    if resp.status_code >= 400:
        return Check("hq", "fail", f"{shown} answered {resp.status_code}")
    return Check("hq", "ok", f"{shown} reachable, token accepted")


def _clock(st: _State) -> Check:
    if st.skew_s is None:
        return Check("clock", "skip", "needs an answer from HQ (its Date header)")
    skew = st.skew_s
    word = "ahead of" if skew > 0 else "behind"
    if abs(skew) <= 2:
        return Check("clock", "ok", f"within {max(1, round(abs(skew)))} s of HQ")
    status: Status = "fail" if abs(skew) > SKEW_FAIL_S else "warn"
    fix = " — set the time (NTP) or call IT" if status == "fail" else ""
    return Check("clock", status, f"{abs(skew):.0f} s {word} HQ{fix}")


def _log(st: _State) -> Check:
    from dockstation.logs import log_path

    path = log_path(st.home)
    folder = path.parent if path.parent.exists() else st.home
    if not os.access(folder, os.W_OK):
        return Check("log", "warn", f"{path} (cannot be written)")
    return Check("log", "ok", str(path) + ("" if path.exists() else " (made at the next start)"))


CHECKS: list[Callable[[_State], Check]] = [_config, _operators, _home, _store, _photos, _printer, _scanners, _cameras,
                                           _hq, _clock, _log]
NAMES = ["config", "operators", "home", "store", "photos", "printer", "scanners", "cameras", "hq", "clock", "log"]


def run_checks(home: Path) -> list[Check]:
    st = _State(Path(home))
    out: list[Check] = []
    for check, name in zip(CHECKS, NAMES, strict=True):
        try:
            out.append(check(st))
        except ConfigError as exc:
            out.append(Check(name, "fail", f"configuration refused: {exc}"))
        except Exception as exc:  # noqa: BLE001 - one broken check must not hide the others
            out.append(Check(name, "fail", f"check failed: {type(exc).__name__}: {clean(exc, limit=120)}"))
    return out


def report(home: Path, checks: list[Check]) -> dict[str, Any]:
    from dockstation.logs import log_path

    return {"ok": not any(c.status == "fail" for c in checks), "home": str(home),
            "log_file": str(log_path(home)), "at": datetime.now(UTC).isoformat(),
            "checks": [c.as_dict() for c in checks]}
