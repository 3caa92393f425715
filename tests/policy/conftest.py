"""Fixtures for policy tests: the default policy as the bench at `home` loads it."""

from __future__ import annotations

import pytest

from dockstation.policy import PolicyConfig, load_policy


@pytest.fixture(scope="session")
def default_policy() -> PolicyConfig:
    return load_policy(None)


@pytest.fixture
def policy(home) -> PolicyConfig:
    return load_policy(home)
