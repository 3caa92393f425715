"""Where a bench's data lives: `--home`, `$DOCKSTATION_HOME`, or the platform's user data dir.

Kept apart from dockstation.config (pydantic) so the command line can name it without loading
anything heavy (`dockstation --help` reads it).
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_HOME = "DOCKSTATION_HOME"


def default_home() -> Path:
    env = os.environ.get(ENV_HOME)
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_data_dir("dockstation", appauthor=False))
