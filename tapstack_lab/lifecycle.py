"""``with thing:`` for the lab's long-running helpers (emulator, MariaDB, replicated pair)."""

from __future__ import annotations

from typing import Any, TypeVar

_Started = TypeVar("_Started", bound="Lifecycle")


class Lifecycle:
    """A helper with ``start()`` and ``stop()``: ``with`` starts it and always stops it.

    Imported by the web server's tests on Python 3.9 too (through ``tapstack_lab.mariadb``),
    hence a TypeVar rather than ``typing.Self``.
    """

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self: _Started) -> _Started:
        self.start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()
