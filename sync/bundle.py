"""The configuration bundle: HQ serves the TOML files of a directory, the bench validates and installs.

HQ side: `build_bundle(dir)` reads every `*.toml` under the directory (except station.toml and
operators.toml, which only a bench sets), version = sha256 of names and contents (also the ETag).

Bench side: `install_bundle(home, bundle)`
1. writes the files into a shadow home whose `config/` is a copy of the bench's own overrides and
   whose `config/hq/` is the candidate, and loads every configuration the bench has (codes,
   station, operators, checklists, policy, KPIs) from it, exactly as the bench would;
2. only if all of that loads, points `$HOME/config/hq` at the new version with one atomic rename
   of a symlink. A bad bundle raises BundleRefused (file, key, reason); the last good one stays.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from dockstation.config import ConfigError, load_bench_config, read_toml
from sync.protocol import LOCAL_ONLY, ConfigBundle, check_bundle_name

VERSIONS = ".hq-versions"  # under $HOME/config: one directory per installed version (last two kept)
MAX_FILE = 1 << 20


class BundleRefused(Exception):
    pass


# -- HQ -------------------------------------------------------------------------------------
def build_bundle(config_dir: Path) -> ConfigBundle:
    files: dict[str, str] = {}
    for path in sorted(Path(config_dir).rglob("*.toml")):
        rel = path.relative_to(config_dir).as_posix()
        if rel in LOCAL_ONLY or any(part.startswith(".") for part in rel.split("/")):
            continue
        files[rel] = path.read_text(encoding="utf-8")
    return bundle_of(files)


def bundle_of(files: dict[str, str]) -> ConfigBundle:
    """The bundle of these files; its version is a hash of names and contents (the ETag)."""
    digest = hashlib.sha256(json.dumps(files, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    return ConfigBundle(version=digest, files=dict(sorted(files.items())))


# -- validation (both sides) ----------------------------------------------------------------
def _optional(module: str, name: str) -> Callable[..., Any] | None:
    try:
        return getattr(importlib.import_module(module), name)  # type: ignore[no-any-return]
    except (ImportError, AttributeError):
        return None


def validate_home(home: Path | None) -> None:
    """Load every configuration a bench uses from `home`'s layers; raises ConfigError.

    When a feature adds a config file with its own loader, add it here too."""
    if home is not None and (home / "config" / "station.toml").is_file():
        codes = load_bench_config(home).codes
    else:  # HQ checking its own directory: no station, only the shared files
        from dockstation.config import CodesConfig, load_layered

        codes = load_layered("codes.toml", CodesConfig, home, required=True)
    for module, name, needs_codes in (("dockstation.inspection.checklist", "load_checklists", True),
                                      ("dockstation.policy.config", "load_policy", True),
                                      ("dockstation.kpis.config", "load_kpis_config", False)):
        loader = _optional(module, name)
        if loader is not None:
            loader(home, codes) if needs_codes else loader(home)


def _write_files(target: Path, files: dict[str, str]) -> None:
    for name, content in files.items():
        check_bundle_name(name)
        if len(content) > MAX_FILE:
            raise BundleRefused(f"{name}: larger than {MAX_FILE} bytes")
        path = target / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")


def check_config_dir(config_dir: Path) -> ConfigBundle:
    """HQ: the bundle of `config_dir`, validated over the package defaults (raises BundleRefused)."""
    return check_bundle(build_bundle(config_dir), str(config_dir))


def check_bundle(bundle: ConfigBundle, label: str) -> ConfigBundle:
    """HQ: `bundle` validated over the package defaults, as a bench with no overrides of its own
    would load it (raises BundleRefused, naming files as `label/NAME`)."""
    with shadow_home(bundle.files, label):
        pass
    return bundle


@contextmanager
def shadow_home(files: dict[str, str], label: str) -> Iterator[Path]:
    """A throwaway bench home whose HQ layer is `files`, every configuration loaded from it once
    (raises BundleRefused); HQ reads the policy and codes in force from it while it exists."""
    with tempfile.TemporaryDirectory(prefix="dockstation-hq-") as tmp:
        shadow = Path(tmp)
        try:
            _write_files(shadow / "config" / "hq", files)
            for name in files:
                read_toml(shadow / "config" / "hq" / name)
            validate_home(shadow)
        except ValueError as exc:  # a file name no bench would take
            raise BundleRefused(str(exc)) from None
        except ConfigError as exc:
            raise BundleRefused(_relative(str(exc), shadow / "config" / "hq", label)) from None
        yield shadow


def _relative(message: str, where: Path, label: str) -> str:
    return message.replace(str(where) + os.sep, f"{label}/").replace(str(where), label)


# -- bench ----------------------------------------------------------------------------------
def install_bundle(home: Path, bundle: ConfigBundle) -> Path:
    """Validate `bundle` against this bench's own configuration, then make it the HQ layer."""
    config = home / "config"
    versions = config / VERSIONS
    versions.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=".stage-", dir=versions))
    try:
        shadow = stage / "home"
        (shadow / "config").mkdir(parents=True)
        for entry in config.iterdir():  # the bench's own overrides, as they are now
            if entry.name in ("hq", VERSIONS) or entry.name.startswith("."):
                continue
            dest = shadow / "config" / entry.name
            shutil.copytree(entry, dest) if entry.is_dir() else shutil.copy2(entry, dest)
        candidate = shadow / "config" / "hq"
        try:
            _write_files(candidate, bundle.files)
            for name in bundle.files:
                read_toml(candidate / name)
            validate_home(shadow)
        except ValueError as exc:
            raise BundleRefused(str(exc)) from None
        except ConfigError as exc:
            raise BundleRefused(_relative(str(exc), candidate, f"HQ config {bundle.version[:12]}")) from None
        final = versions / bundle.version[:16]
        with _locked(versions):  # two syncs of one bench (TUI loop and `dockstation sync`)
            if not final.exists():  # a version directory only ever appears whole (rename)
                candidate.rename(final)
            _point(config / "hq", final)
            _prune(versions, keep={final.name})
        return final
    finally:
        shutil.rmtree(stage, ignore_errors=True)


@contextmanager
def _locked(directory: Path) -> Iterator[None]:
    try:
        import fcntl
    except ImportError:  # not POSIX: one sync at a time is then up to the caller
        yield
        return
    with (directory / ".lock").open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _point(link: Path, target: Path) -> None:
    """Make `link` a symlink to `target` in one atomic step (rename over the old link)."""
    if link.is_dir() and not link.is_symlink():  # a hand-made hq/ from before: keep it aside
        link.rename(link.parent / VERSIONS / f"local-{os.getpid()}")
    tmp = link.parent / f".hq-link-{os.getpid()}"
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    os.symlink(os.path.relpath(target, link.parent), tmp)
    os.replace(tmp, link)


def _prune(versions: Path, keep: set[str]) -> None:
    """Keep the version in force and the one before it (by modification time)."""
    dirs = sorted((d for d in versions.iterdir() if d.is_dir() and not d.name.startswith(".")),
                  key=lambda d: d.stat().st_mtime, reverse=True)
    for d in dirs[2:]:
        if d.name not in keep:
            shutil.rmtree(d, ignore_errors=True)
