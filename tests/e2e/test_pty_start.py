"""Starting the real bench (issue 14, items 7 and 10): bad config, no operators, the log."""

from __future__ import annotations

import subprocess

from test_pty_receive import DEADLINE_S, SCRIPT, terminal  # noqa: F401  (fixture)


def run(home, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(SCRIPT), "--home", str(home), *args], capture_output=True, text=True,
                          timeout=DEADLINE_S)


def test_a_station_toml_that_is_not_utf8_is_refused_in_one_line(home):
    (home / "config" / "station.toml").write_bytes(b'station_id = "B07"\nsite = "Lyon \xe9"\n')
    out = run(home, "run")
    assert out.returncode == 1
    assert out.stderr.strip() == (f"dockstation: configuration refused: {home}/config/station.toml: not UTF-8 "
                                  "text: byte 0xE9 at line 2, column 14; save the file as UTF-8")


def test_an_operators_toml_that_is_not_utf8_is_refused_too(home):
    (home / "config" / "operators.toml").write_bytes(b'[[operators]]\nbadge = "1"\nname = "Ren\xe9"\nrole = "lead"\n')
    out = run(home, "run")
    assert out.returncode == 1 and len(out.stderr.strip().splitlines()) == 1
    assert "operators.toml: not UTF-8 text: byte 0xE9 at line 3" in out.stderr


def test_a_bench_nobody_can_sign_in_to_says_so_at_start(terminal, home):  # noqa: F811
    (home / "config" / "operators.toml").unlink()
    term = terminal()
    term.wait_for_text("nobody can sign in")
    term.wait_for_text("operators.toml is missing")
    # The lines above are also the CLI's warning, printed before the app takes the terminal
    # (a ctrl+q written then is the tty's XON, never a key): wait for the app's own notice.
    term.wait_for_text("NO OPERATORS")
    assert term.quit() == 0
    log = (home / "logs" / "dockstation.log").read_text()
    assert "nobody can sign in" in log


def test_start_and_stop_are_in_the_bench_log(terminal, home, manifest):  # noqa: F811
    term = terminal()
    term.wait_for_text("Scan your badge")
    assert term.quit() == 0
    log = (home / "logs" / "dockstation.log").read_text()
    assert "bench B07 starting" in log and "bench B07 stopped" in log
