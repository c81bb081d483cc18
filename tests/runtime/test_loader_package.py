"""The loader's Lambda package, built as synthesis builds it and imported by the Lambda's
Python.

Synthesis runs on the project's Python (3.11); the package runs on Lambda's (3.14). This test
runs in the project's run, builds the package with ``LocalPackage`` and imports it with the
interpreter ``TAPSTACK_LOADER_PYTHON`` names: ``make test`` sets it to the loader's virtualenv
(the newest Python here, as near to Lambda's as this machine has, with boto3 as Lambda has
it). Without it, the test's own interpreter imports the package.
"""

from __future__ import annotations

import os
import subprocess
import sys

from tapstack.loader.infrastructure import LocalPackage

LOADER_PYTHON = os.environ.get("TAPSTACK_LOADER_PYTHON") or sys.executable


def test_the_function_package_imports_on_its_own_with_its_copied_dependencies(tmp_path):
    """Lambda gets the bundle ``LocalPackage`` builds: this directory as a package named
    ``loader`` beside copies of its pure-Python dependencies. It must not import anything from
    ``tapstack``, must take pymysql and Powertools from the bundle, and must find its CA
    bundle inside the package."""
    LocalPackage().try_bundle(str(tmp_path))
    probe = (
        "import sys; sys.path[:0] = [sys.argv[1]]; import loader.handler as h; "
        "import loader.connections as c; import pymysql, aws_lambda_powertools as p; "
        "assert not [m for m in sys.modules if m.startswith('tapstack')], 'imports tapstack'; "
        "assert c.RDS_CA_BUNDLE.is_relative_to(sys.argv[1]) and c.RDS_CA_BUNDLE.is_file(); "
        "assert all(m.__file__.startswith(sys.argv[1]) for m in (pymysql, p)), 'not bundled'; "
        "assert callable(h.handler); print('ok')"
    )

    result = subprocess.run(
        [LOADER_PYTHON, "-c", probe, str(tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.stdout.strip() == "ok", result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "aws_lambda_powertools",
        "loader",
        "pymysql",
        "typing_extensions.py",
    ]
    assert not list(tmp_path.rglob("*.so")), "compiled code cannot run on Lambda's arm64"
