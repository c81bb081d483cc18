"""Create (or keep) the virtualenv a runtime's tests run in, on the runtime's own interpreter.

The project itself runs on Python 3.11, but two of its parts run elsewhere: the loader on
AWS Lambda's Python (3.14 today) and the web server on Amazon Linux 2023's system Python 3.9.
``make test`` runs their tests on the nearest interpreter this machine has::

    python scripts/runtime_venv.py --venv .venv-loader --python 3.14 --python 3.13 \\
        pytest pytest-xdist pymysql boto3 moto aws-lambda-powertools

The first ``--python`` found wins, looked up as ``$PYENV_ROOT/versions/X.Y*/bin/python3``
(the newest patch release) and then as ``pythonX.Y`` on ``PATH``. Each package is installed at
the version pyproject.toml pins it to (extras included), unless a requirement is given in
full (``pytest==9.1.1``) because the pin does not support that interpreter. The virtualenv is
rebuilt only when the interpreter or the requirements change, so a second run costs nothing.
Prints the interpreter's path, for the Makefile's log.
"""

from __future__ import annotations

import argparse
import glob
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STAMP = ".tapstack-runtime-venv"


class SetupError(RuntimeError):
    """The virtualenv cannot be made; the message says what is missing."""


def _name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9._-]+", requirement)
    if match is None:
        raise SetupError(f"not a requirement: {requirement!r}")
    return re.sub(r"[-_.]+", "-", match.group(0)).lower()


def pyproject_pins(pyproject: Path = ROOT / "pyproject.toml") -> dict[str, str]:
    """Normalized package name -> its requirement in pyproject.toml (runtime and dev)."""
    project = tomllib.loads(pyproject.read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        requirements.extend(extra)
    return {_name(requirement): requirement for requirement in requirements}


def resolve(requested: list[str], pins: dict[str, str]) -> list[str]:
    """The requirements to install: a name takes pyproject's pin (with its extras), a
    requirement with a version stays as given."""
    resolved = []
    for requirement in requested:
        if re.search(r"[=<>!~@;]", requirement):
            resolved.append(requirement)
        elif _name(requirement) in pins:
            resolved.append(pins[_name(requirement)])
        else:
            raise SetupError(f"{requirement} is not pinned in pyproject.toml: give a version")
    return resolved


def _version_key(path: str) -> tuple[int, ...]:
    match = re.search(r"/versions/(\d+(?:\.\d+)*)[^/]*/bin/", path)
    return tuple(int(part) for part in match.group(1).split(".")) if match else ()


def find_interpreter(versions: list[str]) -> str:
    """The first of ``versions`` (``"3.13"``) found under pyenv or on PATH."""
    pyenv_root = os.environ.get("PYENV_ROOT") or str(Path.home() / ".pyenv")
    for version in versions:
        found = [
            path
            for path in glob.glob(f"{pyenv_root}/versions/{version}*/bin/python3")
            # 3.1 must not match 3.13; a free-threaded or debug build is not what AWS runs.
            if re.search(rf"/versions/{re.escape(version)}(\.\d+)*/bin/", path)
            and os.access(path, os.X_OK)
        ]
        if found:
            return max(found, key=_version_key)
        on_path = shutil.which(f"python{version}")
        if on_path:
            return on_path
    raise SetupError(
        f"no Python {' or '.join(versions)} found under {pyenv_root}/versions or on PATH: "
        f"install one (`pyenv install {versions[-1]}`, or the python{versions[-1]} package)"
    )


def ensure_venv(venv: Path, interpreter: str, requirements: list[str]) -> None:
    """Create ``venv`` from ``interpreter`` with ``requirements``, unless it is up to date."""
    version = subprocess.run(
        [interpreter, "-c", "import sys; print(sys.version.split()[0])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    wanted = "\n".join([interpreter, version, *requirements]) + "\n"
    stamp = venv / STAMP
    if stamp.is_file() and stamp.read_text() == wanted:
        return
    print(f"setup: {venv} on Python {version} ({interpreter})", flush=True)
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run([interpreter, "-m", "venv", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    pip = [python, "-m", "pip", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, "install", "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "install", *requirements], check=True)
    stamp.write_text(wanted)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--venv", required=True, type=Path, help="the virtualenv's directory")
    parser.add_argument(
        "--python",
        action="append",
        required=True,
        metavar="X.Y",
        help="an interpreter version; repeat for fallbacks, the first found wins",
    )
    parser.add_argument("requirements", nargs="+", help="package names, or full requirements")
    args = parser.parse_args(argv)
    try:
        interpreter = find_interpreter(args.python)
        ensure_venv(args.venv, interpreter, resolve(args.requirements, pyproject_pins()))
    except SetupError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except subprocess.CalledProcessError as error:
        print(f"error: creating {args.venv} failed: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
