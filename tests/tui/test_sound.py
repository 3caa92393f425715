"""Sounds that stay distinct (issue 13, item 7): bells ≥ 250 ms apart, WAV tones ≥ 250 ms apart,
an audio player found on PATH (a fake one here: the player is outside the project), the bell as
the fallback, and the station.toml setting.

The bell schedule is checked on a simulated clock: what is asserted is the times the Sounder asks
for, never how long anything took.
"""

from __future__ import annotations

import heapq
import itertools
import os
import stat
import struct
import subprocess
import sys
import wave
from pathlib import Path

import pytest
from tui_helpers import scan, wait_for

from dockstation.config import ConfigError, load_bench_config
from dockstation.tui.sound import (
    BELL_SPACING_S,
    BELLS,
    BellPlayer,
    Sounder,
    SoundChoice,
    choose,
    find_player,
    wav_for,
)

ROOT = Path(__file__).resolve().parents[2]
MIN_GAP_S = 0.25  # terminals (xterm: ~200 ms) drop a bell that comes sooner; the ear merges tones


class Clock:
    """A simulated clock and timer queue standing in for the app's `set_timer`."""

    def __init__(self) -> None:
        self.now = 0.0
        self._timers: list[tuple[float, int, object]] = []
        self._n = itertools.count()
        self.bells: list[float] = []

    def schedule(self, delay: float, callback) -> None:
        heapq.heappush(self._timers, (self.now + delay, next(self._n), callback))

    def bell(self) -> None:
        self.bells.append(self.now)

    def run(self, until: float | None = None) -> None:
        while self._timers and (until is None or self._timers[0][0] <= until):
            at, _, callback = heapq.heappop(self._timers)
            self.now = max(self.now, at)
            callback()  # type: ignore[operator]
        if until is not None:
            self.now = max(self.now, until)


def gaps(times: list[float]) -> list[float]:
    return [b - a for a, b in zip(times, times[1:])]


@pytest.mark.parametrize("pattern", ["ok", "attention", "error"])
def test_each_pattern_rings_its_bells_at_least_250_ms_apart(pattern):
    clock = Clock()
    BellPlayer(clock.bell, clock.schedule, lambda: clock.now).play(pattern)
    clock.run()
    assert len(clock.bells) == BELLS[pattern]
    assert all(g >= MIN_GAP_S for g in gaps(clock.bells))


def test_patterns_in_quick_succession_stay_apart_and_an_error_is_never_swallowed():
    clock = Clock()
    player = BellPlayer(clock.bell, clock.schedule, lambda: clock.now)
    player.play("ok")
    clock.run(until=0.05)
    player.play("error")  # while the ok is still sounding …
    player.play("ok")  # … and another ok: they collapse into the more severe, the error
    clock.run()
    assert len(clock.bells) == 1 + 3
    assert all(g >= MIN_GAP_S for g in gaps(clock.bells))
    assert gaps(clock.bells)[0] > BELL_SPACING_S  # the patterns are apart more than their bells


def test_a_burst_of_scans_does_not_queue_a_train_of_bells():
    clock = Clock()
    player = BellPlayer(clock.bell, clock.schedule, lambda: clock.now)
    for _ in range(20):
        player.play("ok")
    clock.run()
    assert len(clock.bells) == 2 and gaps(clock.bells)[0] >= MIN_GAP_S


def read_wav(path: Path) -> tuple[int, list[int]]:
    with wave.open(str(path)) as w:
        assert (w.getnchannels(), w.getsampwidth()) == (1, 2)
        rate, frames = w.getframerate(), w.readframes(w.getnframes())
    return rate, list(struct.unpack(f"<{len(frames) // 2}h", frames))


def tones(rate: int, samples: list[int]) -> list[tuple[float, float]]:
    """(onset seconds, frequency Hz) of each tone: runs of loud 5 ms windows."""
    win = rate // 200
    loud = [max(abs(v) for v in samples[i:i + win]) > 2000 for i in range(0, len(samples), win)]
    out, start = [], None
    for n, on in enumerate([*loud, False]):
        if on and start is None:
            start = n
        elif not on and start is not None:
            seg = samples[start * win:n * win]
            crossings = sum(1 for a, b in zip(seg, seg[1:]) if a < 0 <= b)
            out.append((start * win / rate, crossings / (len(seg) / rate)))
            start = None
    return out


def test_the_shipped_wavs_are_distinct_short_and_their_tones_250_ms_apart():
    found = {}
    for pattern, count in BELLS.items():
        rate, samples = read_wav(wav_for(pattern))
        assert len(samples) / rate < 1.2  # short: the next scan is coming
        t = tones(rate, samples)
        assert len(t) == count, pattern
        assert all(g >= MIN_GAP_S for g in gaps([onset for onset, _ in t])), pattern
        found[pattern] = t[0][1]
    # ok high, attention in the middle, error low (its harmonics make it buzz; the fundamental
    # dominates the zero crossings)
    assert found["ok"] > found["attention"] > 2 * found["error"]


def test_the_wavs_are_what_the_script_makes(tmp_path):
    subprocess.run([sys.executable, str(ROOT / "scripts" / "make_sounds.py"), "--out", str(tmp_path)],
                   check=True, capture_output=True)
    for pattern in BELLS:
        _, shipped = read_wav(wav_for(pattern))
        _, made = read_wav(tmp_path / f"{pattern}.wav")
        assert len(shipped) == len(made) and max(abs(a - b) for a, b in zip(shipped, made)) <= 1


# -- choosing how to sound ---------------------------------------------------------------------
def fake_player(folder: Path, name: str = "aplay", exit_code: int = 0) -> Path:
    """A stand-in audio player (outside the project): it writes the file it was asked to play."""
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / "played.txt"
    script = folder / name
    script.write_text(f'#!/bin/sh\nfor a in "$@"; do last="$a"; done\necho "$last" >> "{log}"\nexit {exit_code}\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return log


@pytest.mark.skipif(sys.platform == "darwin", reason="every Mac has a device (afplay)")
def test_choose_auto_uses_audio_only_on_a_local_terminal_with_a_device_and_a_player(tmp_path):
    fake_player(tmp_path / "bin")
    env = {"PATH": str(tmp_path / "bin")}
    has, none = (lambda: True), (lambda: False)
    assert choose("auto", None, headless=False, env=env, device=has) == SoundChoice(
        "audio", (str(tmp_path / "bin" / "aplay"), "-q"))
    assert choose("auto", None, headless=True, env=env, device=has).mode == "bell"  # nobody hears it
    assert choose("auto", None, headless=False, env={**env, "SSH_CONNECTION": "10.0.0.1 1 2 22"},
                  device=has).mode == "bell"  # it would sound at the far end
    assert choose("auto", None, headless=False, env=env, device=none).mode == "bell"
    assert choose("auto", None, headless=False, env={"PATH": str(tmp_path)}, device=has) == SoundChoice("bell")
    assert choose("bell", None, headless=False, env=env, device=has).mode == "bell"
    assert choose("off", None, headless=False, env=env, device=has).mode == "off"
    missing = choose("audio", None, headless=True, env={"PATH": str(tmp_path)}, device=has)
    assert missing.mode == "bell" and "no audio player" in missing.why  # said once at start
    configured = choose("audio", "aplay -D plughw:1", headless=True, env=env, device=none)
    assert configured.command == (str(tmp_path / "bin" / "aplay"), "-D", "plughw:1")
    assert find_player("no-such-player", env["PATH"]) is None


def make_home(path: Path, extra_station: str = "") -> Path:
    (path / "config").mkdir(parents=True)
    (path / "config" / "station.toml").write_text(f'station_id = "B07"\n{extra_station}')
    return path


def test_station_toml_sound_setting(tmp_path):
    for value, expected in [('"audio"', "audio"), ('"bell"', "bell"), ('"off"', "off"), ("true", "auto"),
                            ("false", "off")]:
        home = make_home(tmp_path / value.strip('"'), extra_station=f"sound = {value}\n")
        assert load_bench_config(home).station.sound == expected
    assert load_bench_config(make_home(tmp_path / "default")).station.sound == "auto"
    with pytest.raises(ConfigError) as bad:
        load_bench_config(make_home(tmp_path / "bad", extra_station='sound = "loud"\n'))
    assert bad.value.key == "sound"


# -- in the app ----------------------------------------------------------------------------------
@pytest.fixture
def player_on_path(tmp_path, monkeypatch):
    def make(exit_code: int = 0) -> Path:
        folder = tmp_path / "bin"
        log = fake_player(folder, "pw-play", exit_code)
        monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ.get('PATH', '')}")
        return log

    return make


def audio_home(home: Path) -> None:
    station = home / "config" / "station.toml"
    station.write_text(station.read_text() + 'sound = "audio"\n')


async def test_the_app_plays_distinct_tones_through_the_player_without_blocking(make_app, manifest, home,
                                                                                player_on_path):
    log = player_on_path()
    audio_home(home)
    app = make_app()
    bells: list[int] = []
    app.bell = lambda: bells.append(1)  # type: ignore[method-assign]
    async with app.run_test(size=(80, 24)) as pilot:
        assert app.sound.mode == "audio" and Path(app.sound.choice.command[0]).name == "pw-play"
        await scan(pilot, app, "OP-1001")
        await wait_for(pilot, lambda: log.exists() and "ok.wav" in log.read_text(), "the ok tone")
        await scan(pilot, app, "RMA-9999-000404")  # an exception
        await wait_for(pilot, lambda: "error.wav" in log.read_text(), "the error tone")
    played = [Path(line).name for line in log.read_text().split()]
    assert played == ["ok.wav", "error.wav"] and bells == []  # tones instead of bells
    assert all(Path(line).parent == wav_for("ok").parent for line in log.read_text().split())


async def test_a_failing_player_falls_back_to_the_bell_and_says_so(make_app, manifest, home, player_on_path):
    player_on_path(exit_code=1)
    audio_home(home)
    app = make_app()
    bells: list[int] = []
    app.bell = lambda: bells.append(1)  # type: ignore[method-assign]
    async with app.run_test(size=(80, 24)) as pilot:
        await scan(pilot, app, "OP-1001")
        await wait_for(pilot, lambda: len(bells) == 1, "the bell instead")
        assert any("Sound:" in n.message and "bell" in n.message for n in app._notifications)
        for code in ("RMA-9999-000405", "RMA-9999-000406"):
            await scan(pilot, app, code)
        await wait_for(pilot, lambda: app.sound.mode == "bell", "audio given up after three failures")


def test_the_sounder_plays_nothing_when_off():
    clock = Clock()
    sounder = Sounder(clock.bell, clock.schedule, choice=SoundChoice("off"), clock=lambda: clock.now)
    sounder.play("error")
    clock.run()
    assert clock.bells == [] and list(sounder.history) == ["error"] and sounder.mode == "off"
