"""pytest plugin: run the loader's tests against a built function package.

``TAPSTACK_LOADER_BUNDLE=<package dir> python -m pytest -p bundled_loader ...`` (with this
directory on ``PYTHONPATH``) imports the package's ``loader`` from that directory, with the
orjson, pymysql and Powertools it carries, and registers it and its modules under the names
the tests import (``tapstack.loader.runtime.*``) before any test module is collected, so the
tests exercise exactly the files Lambda runs.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import sys
import types
from pathlib import Path
from typing import Any

BUNDLE = Path(os.environ["TAPSTACK_LOADER_BUNDLE"]).resolve()
sys.path.insert(0, str(BUNDLE))

import loader  # noqa: E402 - from the bundle, which must come first on sys.path

for _name in ("tapstack", "tapstack.loader"):
    _package = types.ModuleType(_name)
    _package.__path__ = []
    sys.modules[_name] = _package
sys.modules["tapstack.loader.runtime"] = loader
for _info in pkgutil.iter_modules(loader.__path__):
    sys.modules[f"tapstack.loader.runtime.{_info.name}"] = importlib.import_module(
        f"loader.{_info.name}"
    )


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Say where the loader and its JSON parser came from (shown with ``-q`` too)."""
    formats = sys.modules["tapstack.loader.runtime.formats"]
    parser = formats._orjson
    where = Path(parser.__file__).parent.parent if parser is not None else None
    terminalreporter.write_line(
        f"loader from the bundle {Path(loader.__file__).parent.parent}; JSON backend "
        f"{formats.JSON_BACKEND} from {where}"
    )
