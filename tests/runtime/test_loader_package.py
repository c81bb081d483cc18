"""The loader's Lambda package, built as synthesis builds it and imported by the Lambda's
Python.

Synthesis runs on the project's Python (3.11); the package runs on Lambda's (3.14, arm64).
These tests run in the project's run, build the package with ``LocalPackage`` and import it
with the interpreter ``TAPSTACK_LOADER_PYTHON`` names: ``make test`` sets it to the loader's
virtualenv (the newest Python here, as near to Lambda's as this machine has, with boto3 as
Lambda has it). Without it, the test's own interpreter imports the package.

The package carries orjson's wheel for Lambda's platform (aarch64, CPython 3.14), which this
machine may not be able to load. So the import and the loader's tests run on a twin of the
package built the same way for this machine's architecture and the loader interpreter's
version: the same files, but for orjson's compiled module.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tapstack.loader import infrastructure
from tapstack.loader.infrastructure import LocalPackage

LOADER_PYTHON = os.environ.get("TAPSTACK_LOADER_PYTHON") or sys.executable
REPO = Path(__file__).resolve().parents[2]
AARCH64 = 183  # ELF e_machine


def _loader_platform() -> tuple[str, str]:
    """(wheel platform, Python version) of the loader interpreter on this machine."""
    probe = "import platform, sys; print(platform.machine(), '%d.%d' % sys.version_info[:2])"
    machine, version = subprocess.run(
        [LOADER_PYTHON, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    ).stdout.split()
    return f"manylinux2014_{machine}", version


@pytest.fixture(scope="module")
def twin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    platform, version = _loader_platform()
    directory = tmp_path_factory.mktemp("twin")
    LocalPackage(platform=platform, python_version=version).try_bundle(str(directory))
    return directory


def test_the_package_carries_orjson_built_for_lambdas_arm64_python(tmp_path):
    LocalPackage().try_bundle(str(tmp_path))

    [module] = (tmp_path / "orjson").glob("*.so")
    assert module.name.endswith(".cpython-314-aarch64-linux-gnu.so")
    header = module.read_bytes()[:20]
    assert header[:4] == b"\x7fELF" and int.from_bytes(header[18:20], "little") == AARCH64
    # The function is defined with the same runtime and architecture the wheel is chosen by.
    assert (infrastructure.RUNTIME.name, infrastructure.ARCHITECTURE.name) == (
        "python3.14",
        "arm64",
    )


def test_a_cached_wheel_is_unpacked_without_pip(tmp_path, monkeypatch):
    LocalPackage().try_bundle(str(tmp_path / "first"))  # downloads into the cache if needed

    def no_pip(*args, **kwargs):
        raise AssertionError("pip ran although the wheel is cached")

    monkeypatch.setattr(infrastructure.subprocess, "run", no_pip)
    LocalPackage().try_bundle(str(tmp_path / "second"))

    assert (tmp_path / "second" / "orjson" / "__init__.py").is_file()


def test_a_wheel_that_cannot_be_downloaded_fails_the_build_naming_it(tmp_path, monkeypatch):
    def failing_pip(command, **kwargs):
        return subprocess.CompletedProcess(command, 1, "", "ERROR: No matching distribution")

    monkeypatch.setattr(infrastructure.subprocess, "run", failing_pip)
    package = LocalPackage(platform="manylinux2014_riscv64", cache=tmp_path / "cache")

    with pytest.raises(
        RuntimeError, match=r"cannot bundle orjson==[0-9.]+ for manylinux2014_riscv64"
    ):
        package.try_bundle(str(tmp_path / "out"))


def test_the_function_package_imports_on_its_own_with_its_bundled_dependencies(twin):
    """Lambda gets the bundle ``LocalPackage`` builds: this directory as a package named
    ``loader`` beside its dependencies. It must not import anything from ``tapstack``, must
    take pymysql, Powertools and orjson from the bundle, and must find its CA bundle inside
    the package."""
    probe = (
        "import sys; sys.path[:0] = [sys.argv[1]]; import loader.handler as h; "
        "import loader.connections as c, loader.formats as f; "
        "import pymysql, aws_lambda_powertools as p, orjson; "
        "assert not [m for m in sys.modules if m.startswith('tapstack')], 'imports tapstack'; "
        "assert c.RDS_CA_BUNDLE.is_relative_to(sys.argv[1]) and c.RDS_CA_BUNDLE.is_file(); "
        "bundled = (pymysql, p, orjson); "
        "assert all(m.__file__.startswith(sys.argv[1]) for m in bundled), 'not bundled'; "
        "assert f.JSON_BACKEND.startswith('orjson '), f.JSON_BACKEND; "
        "assert callable(h.handler); print('ok')"
    )

    result = subprocess.run(
        [LOADER_PYTHON, "-c", probe, str(twin)],
        cwd=twin,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.stdout.strip() == "ok", result.stderr
    assert sorted(p.name for p in twin.iterdir()) == [
        "aws_lambda_powertools",
        "loader",
        "orjson",
        "orjson-3.13.0.dist-info",
        "pymysql",
        "typing_extensions.py",
    ]
    compiled = [p.relative_to(twin).parts[0] for p in twin.rglob("*.so")]
    assert compiled == ["orjson"], "only orjson is compiled, from its wheel"


def test_the_loaders_tests_pass_against_the_bundled_package(twin):
    """The reader, encoding and loading tests (the last against a real MariaDB), run with
    ``tapstack.loader.runtime`` replaced by the bundle's ``loader``."""
    tests = [
        "tests/runtime/loader/test_loader_formats.py",
        "tests/runtime/loader/test_loader_encoding.py",
        "tests/runtime/loader/test_loader_loading.py",
    ]
    env = {
        **os.environ,
        "TAPSTACK_LOADER_BUNDLE": str(twin),
        "PYTHONPATH": str(REPO / "tests" / "runtime"),
    }

    result = subprocess.run(
        [LOADER_PYTHON, "-m", "pytest", "-p", "bundled_loader", "--confcutdir=tests/runtime",
         "-q", "-p", "no:cacheprovider", *tests],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )  # fmt: skip

    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert f"loader from the bundle {twin}; JSON backend orjson 3.13.0 from {twin}" in result.stdout
