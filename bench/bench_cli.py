"""Command start-up: `dockstation --version`, `--help` and shell completion, whole processes.

    .venv/bin/python bench/bench_cli.py [--runs 30]

Each case is a fresh process, started the way a user (or the shell, on every TAB) starts it: the
installed `dockstation` script. Beside it, in the same run and interleaved with it: `python -c
pass` (the interpreter's own start) and a bare click app with a group, a --version option and
two commands (what any click program costs). Prints median and p90 in milliseconds, and the
ratio of medians to both baselines. Target: each case ≤ 300 ms.

    .venv/bin/python bench/bench_cli.py --tui [--runs 10]

--tui: start to a stable bench screen in tmux (80x24): `dockstation run` on a demo home beside a
bare Textual app (a header, a line of text, a footer), alternating. "first" is when the screen
first shows the app's prompt, "stable" when it last changed before staying the same for 0.5 s
(the screen is polled with `tmux capture-pane` every ~3 ms). Target: stable ≤ 2 x bare.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BARE_CLICK = '''
import click

@click.group()
@click.version_option("1.0", prog_name="bare")
def main():
    """A bare click app."""

@main.command()
@click.argument("file")
def load(file):
    """Load a file."""

@main.command()
@click.option("--format", type=click.Choice(["csv", "json"]))
def export(format):
    """Export."""

main(prog_name="bare")
'''


def entry_point() -> str:
    script = Path(sys.executable).with_name("dockstation")
    if not script.exists():
        sys.exit(f"no {script}: run `make install` first")
    return str(script)


def timed(cmd: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr.decode()[-500:]}")
    return elapsed * 1000


def complete(words: str) -> dict[str, str]:
    cword = len(words.split()) - (0 if words.endswith(" ") else 1)
    return {"_DOCKSTATION_COMPLETE": "bash_complete", "COMP_WORDS": words, "COMP_CWORD": str(cword),
            "_BARE_COMPLETE": "bash_complete"}


BARE_TEXTUAL = '''
from textual.app import App
from textual.widgets import Footer, Header, Static

class Bare(App):
    BINDINGS = [("ctrl+q", "quit", "Quit")]
    def compose(self):
        yield Header()
        yield Static("Scan your badge")
        yield Footer()

Bare().run()
'''
SETTLE_S = 0.5
TMUX = ["tmux", "-L", f"ds-bench-{os.getpid()}"]  # a server of our own, kept up by a "keeper" session


def tmux_start(cmd: str, marker: str, size: tuple[int, int] = (80, 24)) -> tuple[float, float]:
    """(first, stable) seconds from `tmux new-session` to the marker on screen / the last change."""
    name = "app"
    t0 = time.perf_counter()
    subprocess.run([*TMUX, "new-session", "-d", "-s", name, "-x", str(size[0]), "-y", str(size[1]), cmd],
                   check=True)
    last, changed, first = None, t0, None
    try:
        while True:
            screen = subprocess.run([*TMUX, "capture-pane", "-p", "-t", name], capture_output=True,
                                    text=True).stdout
            now = time.perf_counter()
            if screen != last:
                last, changed = screen, now
            if first is None and marker in screen:
                first = now
            if first is not None and now - changed >= SETTLE_S:
                return first - t0, changed - t0
            if now - t0 > 30:
                sys.exit(f"{cmd}: no {marker!r} on screen after 30 s:\n{screen}")
            time.sleep(0.003)
    finally:
        subprocess.run([*TMUX, "kill-session", "-t", name], stderr=subprocess.DEVNULL)


def tui_main(runs: int) -> int:
    import shlex

    from dockstation.demo import build_demo_home

    ds = entry_point()
    with tempfile.TemporaryDirectory(prefix="ds-bench-tui-") as tmp:
        home = Path(tmp) / "demo"
        build_demo_home(home, rmas=2000)
        bare = Path(tmp) / "bare_textual.py"
        bare.write_text(BARE_TEXTUAL)
        cases = {"bare Textual app": (f"{shlex.quote(sys.executable)} {shlex.quote(str(bare))}", "Scan your badge"),
                 "dockstation run": (f"{shlex.quote(ds)} --home {shlex.quote(str(home))} run", "Scan your badge")}
        subprocess.run([*TMUX, "new-session", "-d", "-s", "keeper", "sleep 3600"], check=True)
        try:
            for cmd, marker in cases.values():  # warm the OS file cache and .pyc files
                tmux_start(cmd, marker)
            got: dict[str, list[tuple[float, float]]] = {name: [] for name in cases}
            for _ in range(runs):
                for name, (cmd, marker) in cases.items():
                    got[name].append(tmux_start(cmd, marker))
        finally:
            subprocess.run([*TMUX, "kill-server"], stderr=subprocess.DEVNULL)
    load = os.getloadavg()[0]
    print(f"start to a stable screen in tmux 80x24, {runs} runs each, alternating; load average {load:.2f}")
    base = statistics.median(s for _, s in got["bare Textual app"])
    for name, values in got.items():
        first = statistics.median(f for f, _ in values)
        stable = sorted(s for _, s in values)
        line = (f"  {name:18} first {first * 1000:6.0f} ms   stable p50 {statistics.median(stable) * 1000:6.0f} ms"
                f"  max {stable[-1] * 1000:6.0f} ms")
        if name != "bare Textual app":
            line += f"   x {statistics.median(stable) / base:4.2f} bare (target <= 2)"
        print(line)
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=None, help="processes per case (default 30; --tui 10)")
    ap.add_argument("--tui", action="store_true", help="start to a stable bench screen, in tmux")
    args = ap.parse_args()
    if args.tui:
        return tui_main(args.runs or 10)
    args.runs = args.runs or 30
    ds = entry_point()
    with tempfile.TemporaryDirectory(prefix="ds-bench-cli-") as tmp:
        bare = Path(tmp) / "bare.py"
        bare.write_text(BARE_CLICK)
        base_env = {**os.environ, "DOCKSTATION_HOME": str(Path(tmp) / "home")}
        cases: dict[str, tuple[list[str], dict[str, str]]] = {
            "python -c pass": ([sys.executable, "-c", "pass"], base_env),
            "bare click --version": ([sys.executable, str(bare), "--version"], base_env),
            "bare click --help": ([sys.executable, str(bare), "--help"], base_env),
            "dockstation --version": ([ds, "--version"], base_env),
            "dockstation --help": ([ds, "--help"], base_env),
            "dockstation manifest --help": ([ds, "manifest", "--help"], base_env),
            "TAB: dockstation <TAB>": ([ds], {**base_env, **complete("dockstation ")}),
            "TAB: dockstation manifest <TAB>": ([ds], {**base_env, **complete("dockstation manifest ")}),
            "TAB: export units --format <TAB>": ([ds], {**base_env, **complete("dockstation export units --format ")}),
        }
        times: dict[str, list[float]] = {name: [] for name in cases}
        for name, (cmd, env) in cases.items():  # warm the OS file cache and .pyc files
            timed(cmd, env)
        for _ in range(args.runs):  # interleaved: a busy moment hits every case alike
            for name, (cmd, env) in cases.items():
                times[name].append(timed(cmd, env))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"{args.runs} runs each, interleaved; load average {load:.2f}; {os.cpu_count()} CPUs")
    py = statistics.median(times["python -c pass"])
    click_ms = statistics.median(times["bare click --version"])
    for name, values in times.items():
        values.sort()
        p50, p90 = statistics.median(values), values[int(0.9 * (len(values) - 1))]
        line = f"  {name:34} p50 {p50:6.1f} ms  p90 {p90:6.1f} ms"
        if name.startswith(("dockstation", "TAB")):
            line += f"   x {p50 / py:4.1f} python -c pass   x {p50 / click_ms:4.2f} bare click"
            line += "   ok" if p50 <= 300 else "   OVER 300 ms"
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
