"""The Jinja2 environment of netnav's HTML outputs (patient guide, cohort report).

Autoescaped, strict about undefined names (a misspelt variable is an error, not an empty
string), and with whitespace control so the HTML reads cleanly. Jinja2 is imported on first
use, off the start-up path of the commands that do not write HTML.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["html_environment"]


def html_environment(templates: Path) -> Any:
    """A new ``jinja2.Environment`` reading the templates in the folder ``templates``."""
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    return Environment(
        loader=FileSystemLoader(templates),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
