"""Helpers for container tests: disposed units (policy_support's graded units, then disposed)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "policy"))

from policy_support import OPS, events_of, graded, operator  # noqa: E402

from dockstation.policy import dispose  # noqa: E402

__all__ = ["OPS", "disposed", "events_of", "graded", "operator"]


def disposed(store, bench, policy, n: int, **kw) -> str:
    """A graded unit `B07-<n>` disposed by the grader along the policy's path."""
    lpn = graded(store, n, **kw)
    out = dispose(store, bench, operator(bench, "grader"), lpn, policy=policy)
    assert out.ok, out.message
    return lpn
