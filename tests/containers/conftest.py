"""Fixtures for container tests."""

from __future__ import annotations

import pytest

from dockstation.policy import PolicyConfig, load_policy


@pytest.fixture
def policy(home) -> PolicyConfig:
    return load_policy(home)
