"""Loading the configuration for a command: problems and warnings printed for people."""

from __future__ import annotations

import warnings

from rich.console import Console
from rich.markup import escape

from tapstack.config import ConfigError, TapStackConfig, TapStackConfigWarning, load_config


def load_config_or_report(path: str, console: Console) -> TapStackConfig | None:
    """The validated configuration, or ``None`` after printing why it is invalid.

    Warnings about valid but costly choices (MySQL 8.0, for one) are printed too. Every
    problem is printed whole, one per line, as :class:`ConfigError` lists them; the values
    quoted in them are the file's, so they are escaped rather than read as markup.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", TapStackConfigWarning)
        try:
            config = load_config(path)
        except ConfigError as exc:
            console.print(
                f"[bold red]error:[/] {escape(str(exc))}", soft_wrap=True, highlight=False
            )
            return None
    for warning in caught:
        console.print(
            f"[bold yellow]warning:[/] {escape(str(warning.message))}",
            soft_wrap=True,
            highlight=False,
        )
    return config
