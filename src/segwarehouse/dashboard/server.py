"""Serve the built dashboard folder over HTTP (stdlib), rebuilding when the warehouse changes.

The server holds no database connection between requests: the page is a file, rebuilt (with
a short read-only open of the warehouse) only when the warehouse file is newer than the page,
so `segwarehouse refresh` can replace the serving file at any time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from segwarehouse.dashboard.overview_page import DETAILS
from segwarehouse.dashboard.report import INDEX


class DashboardHandler(SimpleHTTPRequestHandler):
    """Static files from the dashboard folder; the index is refreshed first if stale."""

    def __init__(self, *args: object, refresh: Callable[[], None], **kwargs: object) -> None:
        self._refresh = refresh
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    def do_GET(self) -> None:
        if self.path.split("?", 1)[0] in {"/", f"/{INDEX}", f"/{DETAILS}"}:
            try:
                self._refresh()
            except Exception as error:  # keep serving the last good page
                self.log_error("rebuild failed, serving the previous page: %s", error)
        super().do_GET()


def stale_rebuilder(
    warehouse: Path, out_dir: Path, rebuild: Callable[[], None]
) -> Callable[[], None]:
    """A callable that runs `rebuild` when the warehouse is newer than the page (one at a time)."""
    lock = threading.Lock()

    def refresh() -> None:
        with lock:
            page = out_dir / INDEX
            if not page.is_file() or (
                warehouse.is_file() and warehouse.stat().st_mtime > page.stat().st_mtime
            ):
                rebuild()

    return refresh


def make_server(
    out_dir: Path, host: str, port: int, refresh: Callable[[], None]
) -> ThreadingHTTPServer:
    """An HTTP server for out_dir (port 0 = any free port; see server.server_address)."""
    handler = partial(DashboardHandler, directory=str(out_dir), refresh=refresh)
    return ThreadingHTTPServer((host, port), handler)
