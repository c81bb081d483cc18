"""scripts/runtime_venv.py: which interpreter each runtime's tests run on, with which pins."""

from __future__ import annotations

import stat

import pytest

from scripts.runtime_venv import SetupError, find_interpreter, pyproject_pins, resolve


def _python(root, version):
    path = root / "versions" / version / "bin" / "python3"
    path.parent.mkdir(parents=True)
    path.write_text("#!/bin/sh\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


@pytest.fixture
def pyenv(tmp_path, monkeypatch):
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path / "nothing-on-path"))
    return tmp_path


def test_the_first_version_found_wins_at_its_newest_patch_release(pyenv):
    _python(pyenv, "3.13.0")
    newest = _python(pyenv, "3.13.10")
    _python(pyenv, "3.13.9")
    _python(pyenv, "3.1.5")
    _python(pyenv, "3.13.2t")  # free-threaded: not what Lambda runs

    assert find_interpreter(["3.14", "3.13"]) == newest
    assert find_interpreter(["3.1"]).endswith("/versions/3.1.5/bin/python3")


def test_a_missing_interpreter_stops_with_what_to_install(pyenv):
    _python(pyenv, "3.12.1")

    with pytest.raises(
        SetupError, match=r"^no Python 3\.14 or 3\.13 found under .*pyenv install 3\.13"
    ):
        find_interpreter(["3.14", "3.13"])


def test_names_take_pyprojects_pins_with_their_extras_and_full_requirements_stay():
    pins = pyproject_pins()

    assert resolve(["moto", "PyMySQL", "pytest==8.4.2"], pins) == [
        pins["moto"],
        pins["pymysql"],
        "pytest==8.4.2",
    ]
    assert pins["moto"].startswith("moto[server]==")
    with pytest.raises(SetupError, match="^left-pad is not pinned in pyproject.toml"):
        resolve(["left-pad"], pins)
