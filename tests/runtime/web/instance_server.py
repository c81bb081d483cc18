"""The instance web server as the tests use it: loaded once from its file (instances run it
as a script, not as a module of a package), under one module name shared by every test module;
``serving`` runs it on a thread, and ``QuietHandler`` is the base of the fake metadata
services.

Imported by the test modules of this directory as ``tests.runtime.web.instance_server``."""

from __future__ import annotations

import contextlib
import importlib.util
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

SERVER_PATH = Path(__file__).resolve().parents[3] / "tapstack" / "web" / "runtime" / "server.py"
MODULE_NAME = "tapstack_instance_server"


def _load():
    if MODULE_NAME in sys.modules:
        return sys.modules[MODULE_NAME]
    spec = importlib.util.spec_from_file_location(MODULE_NAME, SERVER_PATH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[MODULE_NAME] = module  # dataclasses look the module up while building Settings
    spec.loader.exec_module(module)
    return module


server = _load()


@contextlib.contextmanager
def serving(
    settings: Any, instance_id: str | None, clock: Callable[[], float] | None = None
) -> Iterator[Any]:
    """Run ``make_server(settings, instance_id, clock)`` on a thread; yields the server (its
    port is ``server_port``) and shuts it down afterwards."""
    srv = server.make_server(settings, instance_id, clock or time.monotonic)
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.02})
    thread.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(timeout=5)


class QuietHandler(BaseHTTPRequestHandler):
    """A request handler that answers with ``_reply`` and logs nothing."""

    def _reply(self, code: int, text: str) -> None:
        body = text.encode()
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass
