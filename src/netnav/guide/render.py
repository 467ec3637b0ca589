"""Lay a guide out as a self-contained HTML page, and print that page to PDF.

The HTML has no external request: the stylesheet is inline and the timeline is inline SVG.
Jinja2 escapes every value (case text, settings) — only the SVG netnav drew is inserted as
markup. The PDF is WeasyPrint's rendering of the same page with the print stylesheet.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from markupsafe import Markup, escape

from netnav import __version__
from netnav.guide.content import PatientGuide
from netnav.guide.settings import ClinicSettings
from netnav.templating import html_environment

__all__ = ["FIT_SCALES", "clinician_html", "clinician_pdf", "html_to_pdf", "patient_html"]

TEMPLATES = Path(__file__).parent / "templates"


@cache
def _environment() -> Any:
    env = html_environment(TEMPLATES)
    # Longest item of a list, in characters: short lists print in two columns.
    env.filters["longest"] = lambda items: max(
        (sum(len(seg.text) for seg in item) for item in items), default=0
    )
    env.filters["brief"] = _brief
    env.filters["yes_no"] = _yes_no
    env.filters["display_id"] = _display_id
    return env


_SENTENCE_END = re.compile(r"(?<!e\.g)(?<!i\.e)(?<!vs)(?<!approx)\.\s+(?=[A-Z(])")


def _brief(text: str, limit: int = 300) -> str:
    """The first sentence of ``text`` (not cut at "e.g."), at most ``limit`` characters,
    cut at a word boundary with "…" only when a single sentence is longer than that."""
    first = _SENTENCE_END.split(text, maxsplit=1)[0].rstrip(".")
    if len(first) <= limit:
        return first + "."
    return first[:limit].rsplit(" ", 1)[0] + "…"


def _display_id(value: str | None, limit: int = 60) -> str:
    """A case id as printed: invisible format characters (bidirectional overrides that
    could disguise it) removed, at most ``limit`` characters."""
    if not value:
        return ""
    shown = "".join(c for c in value if unicodedata.category(c) != "Cf")
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"


def _yes_no(value: object) -> object:
    """Booleans as a clinician writes them; other values unchanged."""
    if value is True:
        return "yes"
    if value is False:
        return "no"
    return value


@cache
def _css() -> str:
    return (TEMPLATES / "guide.css").read_text(encoding="utf-8")


def _accessible_svg(svg: str, alt: str) -> Markup:
    # A screen reader announces the picture by its <title>; role="img" keeps it one object.
    head, rest = svg.split(">", 1)
    return Markup(
        f'{head} role="img" aria-labelledby="timeline-title"><title id="timeline-title">{escape(alt)}</title>{rest}'
    )


def patient_html(guide: PatientGuide) -> str:
    """The patient guide as one HTML document (str)."""
    timeline = next((s.timeline for s in guide.sections if s.timeline is not None), None)
    svg = _accessible_svg(timeline.svg, timeline.alt) if timeline is not None else Markup("")
    return str(
        _environment()
        .get_template("patient.html.j2")
        .render(guide=guide, labels=guide.labels, css=Markup(_css()), timeline_svg=svg)
    )


FIT_SCALES = (1.0, 0.9, 0.8, 0.7, 0.62)
"""Type scales tried, largest first, until the clinician summary prints on one page."""


def clinician_html(
    plan: Mapping[str, Any],
    clinic: ClinicSettings,
    prepared_on: str,
    as_of: str | None,
    scale: float = 1.0,
) -> str:
    """The tumour-board one-pager for ``plan`` (a ``netnav-plan/1`` document); ``scale``
    multiplies the type size (7.5 pt at 1.0)."""
    return str(
        _environment()
        .get_template("clinician.html.j2")
        .render(
            plan=plan,
            clinic=clinic,
            prepared_on=prepared_on,
            as_of=as_of,
            netnav_version=__version__,
            scale=scale,
            option_names={o["id"]: o["name"] for o in (*plan["options"], *plan["avoid"])},
        )
    )


def clinician_pdf(
    plan: Mapping[str, Any], clinic: ClinicSettings, prepared_on: str, as_of: str | None
) -> bytes:
    """The one-pager as PDF, with the largest type of :data:`FIT_SCALES` that fits one A4
    landscape page (the smallest scale when even that does not fit)."""
    import weasyprint

    _quiet_svg_style_warnings()
    document = None
    for scale in FIT_SCALES:
        html = clinician_html(plan, clinic, prepared_on, as_of, scale)
        document = weasyprint.HTML(string=html, base_url=None).render()
        if len(document.pages) == 1:
            break
    assert document is not None
    pdf: bytes = document.write_pdf()
    return pdf


def html_to_pdf(html: str) -> bytes:
    """Print ``html`` to PDF with WeasyPrint (print stylesheet, A4).

    Deterministic for the same HTML: no creation date is written unless the page's
    ``dcterms.created`` meta gives one, and the file identifier derives from the content.
    """
    import weasyprint

    _quiet_svg_style_warnings()
    document = weasyprint.HTML(string=html, base_url=None).render()
    pdf: bytes = document.write_pdf()
    return pdf


@cache
def _quiet_svg_style_warnings() -> None:
    """Drop WeasyPrint's warnings about SVG presentation properties (``fill``, ``stroke``)
    in matplotlib's style attributes: WeasyPrint's CSS parser does not know them, but its
    SVG renderer draws them. Other warnings still show."""
    import logging

    class _SvgStyle(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            message = record.getMessage()
            return not (message.startswith("Ignored `") and "unknown property" in message)

    logging.getLogger("weasyprint").addFilter(_SvgStyle())
