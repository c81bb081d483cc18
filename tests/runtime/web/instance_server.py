"""The instance web server as the tests use it: loaded once from its file (instances run it
as a script, not as a module of a package), under one module name shared by every test module.

Imported by the test modules of this directory as ``tests.runtime.web.instance_server``."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

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
