"""Where the demo loader says how far it is, for the dashboard of the demo merchant.

``make run`` starts the web server first and loads the demo customers behind it
(``manage.py load_demo``); the loader writes its progress to a small JSON file
under ``VAR_DIR`` (atomically, by rename) and the dashboard reads it, so that
whoever logs in meanwhile is told plainly that the demo data is still coming.
A file rather than a table: the loader's own transactions hold SQLite's write
lock, and the web server must be able to read the progress at any moment.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from django.conf import settings

LOADING = "loading"
DONE = "done"
FAILED = "failed"


@dataclass
class DemoStatus:
    slug: str
    state: str
    done: int = 0
    total: int = 0
    seconds_left: float | None = None
    updated_at: float = 0.0
    pid: int = 0

    @property
    def percent(self) -> int:
        return int(100 * self.done / self.total) if self.total else 0

    @property
    def minutes_left(self) -> int | None:
        if self.seconds_left is None:
            return None
        return max(1, round(self.seconds_left / 60))

    @property
    def is_loading(self) -> bool:
        return self.state == LOADING and _alive(self.pid)


def _path() -> Path:
    return Path(settings.VAR_DIR) / "demo-status.json"


def _alive(pid: int) -> bool:
    if not pid:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def write(status: DemoStatus) -> None:
    path = _path()
    path.parent.mkdir(parents=True, exist_ok=True)
    status.updated_at = time.time()
    status.pid = status.pid or os.getpid()
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(json.dumps(asdict(status)), encoding="utf-8")
    os.replace(tmp, path)


def read() -> DemoStatus | None:
    try:
        data = json.loads(_path().read_text(encoding="utf-8"))
        return DemoStatus(**data)
    except (OSError, ValueError, TypeError):
        return None


def loading_for(merchant) -> DemoStatus | None:
    """The loader's progress if ``merchant``'s demo data is being loaded right now."""
    status = read()
    if status is None or merchant is None or status.slug != merchant.slug or not status.is_loading:
        return None
    return status
