"""Bench sounds: three patterns an operator tells apart without looking.

- ok (unit received, disposed, signed in): one bell, or one short high tone;
- attention (pick a line, awaiting a lead, a warning to read): two bells, or two middle tones;
- error (exception recorded, refused): three bells, or three low buzzing tones.

How they sound (`station.toml` `sound`, docs/tui.md "Sounds"):
- `bell`: the terminal bell. Terminals drop a bell that comes too soon after the previous one
  (xterm: ~200 ms), which made 2 and 3 bells 120 ms apart sound like 1: bells are now
  `BELL_SPACING_S` apart, and a pattern starts `PATTERN_GAP_S` after the previous one's last bell;
- `audio`: short WAVs shipped in `dockstation/tui/sounds/` (made by scripts/make_sounds.py, tones
  ≥ 250 ms apart), played by `sound_player` or the first of pw-play, paplay, aplay, afplay found
  on PATH, in a thread of its own: the event loop never waits for a sound. A player that fails
  falls back to the bell for that pattern (and for the session after three failures);
- `auto` (default): audio when the bench has an audio device and a player, and the app runs on a
  real terminal that is not an SSH session (a sound played there would be heard at the far end);
  else the bell. `off` is silent.

A pattern that is sounding finishes; patterns asked for meanwhile collapse into the most severe
of them, which sounds next: an error is never swallowed by a later ok, and a burst of scans never
queues a train of bells behind the screen (the screen and the scan log say what each one was).
`history` keeps the patterns asked for so tests can check them.
"""

from __future__ import annotations

import logging
import os
import shlex
import shutil
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

log = logging.getLogger("dockstation.tui.sound")

Pattern = Literal["ok", "attention", "error"]
BELLS: dict[str, int] = {"ok": 1, "attention": 2, "error": 3}
SEVERITY: dict[str, int] = {"ok": 0, "attention": 1, "error": 2}
BELL_SPACING_S = 0.3  # between two bells of a pattern: above the ~200 ms terminals rate-limit to
PATTERN_GAP_S = 0.45  # from a pattern's last bell to the next pattern's first
SOUNDS_DIR = Path(__file__).resolve().parent / "sounds"
PLAYERS: tuple[tuple[str, ...], ...] = (("pw-play",), ("paplay",), ("aplay", "-q"), ("afplay",))
PLAYER_TIMEOUT_S = 5.0
FAILURES_BEFORE_BELL = 3

Schedule = Callable[[float, Callable[[], None]], object]


def wav_for(pattern: str) -> Path:
    return SOUNDS_DIR / f"{pattern}.wav"


def more_severe(a: Pattern | None, b: Pattern) -> Pattern:
    return b if a is None or SEVERITY[b] >= SEVERITY[a] else a


# -- the terminal bell ------------------------------------------------------------------------
class BellPlayer:
    """Rings patterns on the terminal bell through the app's timers (`schedule`), spaced out."""

    def __init__(self, bell: Callable[[], None], schedule: Schedule,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._bell, self._schedule, self._clock = bell, schedule, clock
        self._busy_until = 0.0
        self._waiting: Pattern | None = None
        self._armed = False

    def play(self, pattern: Pattern) -> None:
        now = self._clock()
        if now < self._busy_until:
            self._waiting = more_severe(self._waiting, pattern)
            if not self._armed:
                self._armed = True
                self._schedule(self._busy_until - now, self._next)
            return
        self._start(pattern, now)

    def _start(self, pattern: Pattern, now: float) -> None:
        n = BELLS[pattern]
        self._bell()
        for i in range(1, n):
            self._schedule(BELL_SPACING_S * i, self._bell)
        self._busy_until = now + BELL_SPACING_S * (n - 1) + PATTERN_GAP_S

    def _next(self) -> None:
        self._armed = False
        pattern, self._waiting = self._waiting, None
        if pattern is not None:
            self._start(pattern, max(self._clock(), self._busy_until))


# -- tones through the audio device -----------------------------------------------------------
class AudioPlayer:
    """Plays a pattern's WAV with an external player, one at a time, in its own daemon thread."""

    def __init__(self, command: list[str], on_fail: Callable[[Pattern, str], None],
                 files: Callable[[str], Path] = wav_for) -> None:
        self.command = command
        self._on_fail, self._files = on_fail, files
        self._cond = threading.Condition()
        self._waiting: Pattern | None = None
        self._closed = False
        self._thread: threading.Thread | None = None
        self.played: deque[Pattern] = deque(maxlen=50)  # sounded (tests wait on it)

    def play(self, pattern: Pattern) -> None:
        with self._cond:
            if self._closed:
                return
            self._waiting = more_severe(self._waiting, pattern)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="sound", daemon=True)
                self._thread.start()
            self._cond.notify()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._waiting is None and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                pattern, self._waiting = self._waiting, None
            problem = self._sound(pattern)
            if problem:
                self._on_fail(pattern, problem)
            self.played.append(pattern)

    def _sound(self, pattern: Pattern) -> str | None:
        try:
            done = subprocess.run([*self.command, str(self._files(pattern))], stdin=subprocess.DEVNULL,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                  timeout=PLAYER_TIMEOUT_S, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"{self.command[0]}: {exc}"
        if done.returncode != 0:
            err = done.stderr.decode("utf-8", "replace").strip().splitlines()
            return f"{self.command[0]} exited {done.returncode}" + (f": {err[-1][:120]}" if err else "")
        return None


# -- choosing how to sound --------------------------------------------------------------------
@dataclass(frozen=True)
class SoundChoice:
    mode: Literal["audio", "bell", "off"]
    command: tuple[str, ...] = ()
    why: str = ""  # why audio was not used, when it was asked for (shown once at start)


def has_audio_device(env: Mapping[str, str] = os.environ, dev: Path = Path("/dev/snd")) -> bool:
    """An ALSA playback device, or a PulseAudio/PipeWire server this user can reach."""
    if sys.platform == "darwin":
        return True
    if env.get("PULSE_SERVER"):
        return True
    runtime = env.get("XDG_RUNTIME_DIR")
    if runtime and any((Path(runtime) / p).exists() for p in ("pulse/native", "pipewire-0")):
        return True
    try:
        return any(dev.glob("pcmC*D*p"))
    except OSError:
        return False


def find_player(configured: str | None, path: str | None = None) -> tuple[str, ...] | None:
    """The player command: `sound_player` (its program found on PATH), else the first known one."""
    candidates = [tuple(shlex.split(configured))] if configured else list(PLAYERS)
    for cmd in candidates:
        if cmd and (found := shutil.which(cmd[0], path=path)):
            return (found, *cmd[1:])
    return None


def choose(mode: str, player: str | None, *, headless: bool, env: Mapping[str, str] = os.environ,
           device: Callable[[], bool] = has_audio_device) -> SoundChoice:
    """How this bench sounds, from `station.toml` `sound` / `sound_player` and where it runs."""
    if mode in ("off", "bell"):
        return SoundChoice(mode)  # type: ignore[arg-type]
    if mode == "auto":
        if headless:
            return SoundChoice("bell")
        if env.get("SSH_CONNECTION") or env.get("SSH_TTY"):
            return SoundChoice("bell")  # a sound played here would be heard at the far end
        if not device():
            return SoundChoice("bell")
    command = find_player(player, env.get("PATH"))
    if command is None:
        what = f"sound_player {player!r} not found on PATH" if player else \
            "no audio player (pw-play, paplay, aplay, afplay) on PATH"
        return SoundChoice("bell", why=f"{what}: the terminal bell sounds instead" if mode == "audio" else "")
    return SoundChoice("audio", command)


class Sounder:
    """The bench's sounds (see the module doc). `enabled = False` silences it."""

    def __init__(self, bell: Callable[[], None], schedule: Schedule, *, enabled: bool = True,
                 choice: SoundChoice | None = None, clock: Callable[[], float] = time.monotonic,
                 on_fail: Callable[[Pattern, str], None] | None = None) -> None:
        self.choice = choice or SoundChoice("bell" if enabled else "off")
        self.enabled = enabled and self.choice.mode != "off"
        self.history: deque[Pattern] = deque(maxlen=50)
        self.bells = BellPlayer(bell, schedule, clock)
        self.audio: AudioPlayer | None = None
        self.failures = 0
        if self.choice.mode == "audio":
            self.audio = AudioPlayer(list(self.choice.command), on_fail or (lambda p, why: None))

    @property
    def mode(self) -> str:
        return "off" if not self.enabled else "audio" if self.audio is not None else "bell"

    def play(self, pattern: Pattern) -> None:
        self.history.append(pattern)
        if not self.enabled:
            return
        if self.audio is not None:
            self.audio.play(pattern)
        else:
            self.bells.play(pattern)

    def audio_failed(self, pattern: Pattern, why: str) -> bool:
        """On the event loop, after the player failed: the bell sounds the pattern instead.
        Returns True when audio is given up for this session (after a few failures)."""
        log.warning("sound %s not played: %s", pattern, why)
        self.failures += 1
        if self.enabled:
            self.bells.play(pattern)
        if self.failures >= FAILURES_BEFORE_BELL and self.audio is not None:
            self.audio.close()
            self.audio = None
            return True
        return False

    def close(self) -> None:
        if self.audio is not None:
            self.audio.close()
