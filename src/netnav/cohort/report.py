"""The concordance report of a cohort run: ``concordance.json`` and ``concordance.html``.

:func:`write_report` writes the figures of :func:`netnav.cohort.concordance.concordance_figures`
as they are (JSON) and as a self-contained HTML page (templates/concordance.html.j2): plots
drawn with matplotlib and inlined as SVG, each followed by a table of the same numbers (the
numbers are the report; the plots only show them), the potential-harm list, counts and the
run's metadata. No script, no external resource, CSS inline. The same figures give the same
bytes: the SVGs have fixed hash salts and no date, and the page has no time stamp.
"""

from __future__ import annotations

import io
import json
import re
import textwrap
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any, Final

from netnav.atomic import write_files_atomically
from netnav.templating import html_environment

__all__ = ["HARM_ROWS_SHOWN", "MISSING_FACTS_PLOTTED", "write_report"]

HARM_ROWS_SHOWN: Final = 1000
"""Potential-harm rows listed in the HTML (all of them are in concordance.json)."""

MISSING_FACTS_PLOTTED: Final = 15
"""Fields in the plot of missing facts that blocked decisions (the table lists all)."""

GROUPS_PLOTTED: Final = 25
"""Groups in a by-group plot (the largest; the table lists all)."""

_TEMPLATES = Path(__file__).parent / "templates"

# Dark tones with a contrast ratio above 4.5:1 on white; the bars also differ in hatching.
# "Not in plan" is left to the tables (it is what the other three of a row leave over).
_SERIES: Final = (
    ("in_options", "In options", "#1d4f91", ""),
    ("in_preferred", "In preferred", "#2e6b30", "//"),
    ("in_avoid", "In avoid (potential harm)", "#9a1b1b", "xx"),
    ("undecided", "Undecided (missing facts)", "#555555", ".."),
)

_COLUMNS: Final = (
    ("in_options", "In options"),
    ("in_preferred", "In preferred"),
    ("in_avoid", "In avoid"),
    ("undecided", "Undecided (missing facts)"),
    ("not_in_plan", "Not in plan"),
)
"""The share column groups of the tables, in the order of the statuses."""

_GROUPINGS: Final = (
    ("by_site", "By primary site", "Site"),
    ("by_grade", "By WHO grade", "Grade"),
    ("by_extent", "By extent (stage)", "Extent"),
    ("by_line_of_therapy", "By line of therapy", "Line of therapy"),
)


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.2f} %"


def _interval(ci: Sequence[float] | None) -> str:
    return "–" if ci is None else f"{ci[0] * 100:.2f}–{ci[1] * 100:.2f} %"


@cache
def _environment() -> Any:
    env = html_environment(_TEMPLATES)
    env.filters["percent"] = _percent
    env.filters["interval"] = _interval
    return env


def _svg(fig: Any, salt: str) -> str:
    """``fig`` as an SVG element string (no XML prolog, no date; ids salted by ``salt`` so
    the page's plots never share an id)."""
    import matplotlib

    buf = io.StringIO()
    with matplotlib.rc_context({"svg.hashsalt": f"netnav-cohort-{salt}"}):
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    svg = buf.getvalue()
    return _prefix_ids(svg[svg.index("<svg") :], salt)


_TAG = re.compile(r"<[^>]*>")
_ID_USE = re.compile(r'(\bid="|url\(#|href="#)([^")]+)')


def _prefix_ids(svg: str, prefix: str) -> str:
    """``svg`` with every id (and every reference to one) prefixed: matplotlib numbers the
    elements of each figure from 1 (``figure_1``, ``axes_1``), so the plots of one page
    would share ids. Only tags are rewritten (matplotlib escapes quotes and angle brackets
    in attribute values), never the text of labels."""

    def tag(m: re.Match[str]) -> str:
        return _ID_USE.sub(lambda u: f"{u[1]}{prefix}-{u[2]}", m[0])

    return _TAG.sub(tag, svg)


def _figure(height: float) -> Any:
    """A private figure on its own Agg canvas: nothing touches pyplot's global state."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.6, height))
    FigureCanvasAgg(fig)
    return fig


_RC: Final[dict[Any, Any]] = {
    "svg.fonttype": "none",  # words stay text: searchable, readable by screen readers
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "hatch.linewidth": 0.6,
    "hatch.color": "#ffffff",
}


def _concordance_svg(rows: Sequence[Mapping[str, Any]], labels: Sequence[str], salt: str) -> str:
    """Grouped horizontal bars: the shares of :data:`_SERIES` of each row with their 95 %
    intervals."""
    import matplotlib

    with matplotlib.rc_context(_RC):
        height = 1.3 + 0.8 * max(len(rows), 1)
        fig = _figure(height)
        ax = fig.add_axes((0.3, 0.75 / height, 0.66, 1 - 1.35 / height))
        bar = 0.2
        middle = (len(_SERIES) - 1) / 2
        for i, (key, name, colour, hatch) in enumerate(_SERIES):
            ys = [len(rows) - 1 - r + (middle - i) * bar for r in range(len(rows))]
            values = [100 * (row[key]["share"] or 0.0) for row in rows]
            ax.barh(ys, values, height=bar, color=colour, hatch=hatch, label=name)
            for y, row in zip(ys, rows, strict=True):
                ci = row[key]["ci95"]
                if ci is not None:
                    ax.plot([100 * ci[0], 100 * ci[1]], [y, y], color="#222222", linewidth=0.9)
        ax.set_yticks(range(len(rows)), list(reversed(labels)))
        if not rows:
            ax.text(50, -0.5, "No cases", ha="center", va="center")
        ax.set_xlim(0, 100)
        ax.set_ylim(-0.6, max(len(rows), 1) - 0.4)
        ax.set_xlabel("% of patients with an actual treatment recorded (line: 95 % interval)")
        _finish_bar_chart(fig, ax)
        return _svg(fig, salt)


def _finish_bar_chart(fig: Any, ax: Any) -> None:
    """The look every bar chart of the report shares: light vertical grid behind the bars,
    no top or right frame, legend on top."""
    ax.grid(axis="x", color="#d0d0d0", linewidth=0.6)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.tick_params(axis="y", length=0)
    fig.legend(loc="upper center", ncols=2, frameon=False)


def _missing_svg(rows: Sequence[Mapping[str, Any]]) -> str:
    """Horizontal bars: cases in which each fact was missing and in which it blocked one."""
    import matplotlib
    from matplotlib.ticker import MaxNLocator

    with matplotlib.rc_context(_RC):
        height = 1.1 + 0.5 * max(len(rows), 1)
        fig = _figure(height)
        ax = fig.add_axes((0.38, 0.75 / height, 0.58, 1 - 1.15 / height))
        bar = 0.38
        n = len(rows)
        ax.barh(
            [n - 1 - r + bar / 2 for r in range(n)],
            [row["cases_blocked"] for row in rows],
            height=bar,
            color="#9a4a00",
            label="Blocked a decision",
        )
        ax.barh(
            [n - 1 - r - bar / 2 for r in range(n)],
            [row["cases_missing"] for row in rows],
            height=bar,
            color="#6a6a6a",
            hatch="//",
            label="Missing",
        )
        ax.set_yticks(range(n), [_fact_name(row) for row in reversed(rows)])
        ax.set_ylim(-0.6, max(n, 1) - 0.4)
        ax.set_xlabel("cases")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        _finish_bar_chart(fig, ax)
        return _svg(fig, "missing")


def _fact_name(row: Mapping[str, Any]) -> str:
    """The fact's label (its field when it has none), wrapped to fit beside the bars."""
    label = row.get("label")
    return textwrap.fill(str(label) if label else str(row["field"]), 42)


def _plots(figures: Mapping[str, Any]) -> dict[str, str]:
    plots = {"overall": _concordance_svg([figures["overall"]], ["All patients"], "overall")}
    for key, _title, _column in _GROUPINGS:
        rows = figures[key][:GROUPS_PLOTTED]
        labels = [f"{row['group']} (n = {row['actual_recorded']})" for row in rows]
        plots[key] = _concordance_svg(rows, labels, key.replace("_", "-"))
    blocked = [row for row in figures["missing_facts"] if row["cases_blocked"] > 0]
    if blocked:
        plots["missing_facts"] = _missing_svg(blocked[:MISSING_FACTS_PLOTTED])
    return plots


# The run metadata's keys in words (keys not listed are shown as they are).
_RUN_LABELS: Final[dict[str, str]] = {
    "input": "Input file",
    "input_sha256": "Input SHA-256",
    "knowledge_version": "Knowledge version",
    "netnav_version": "netnav version",
    "chunk_size": "Cases per chunk",
}


def render_html(figures: Mapping[str, Any]) -> str:
    """The HTML page of ``figures`` (a string; the same figures give the same string)."""
    harm = figures["potential_harm"]
    return str(
        _environment()
        .get_template("concordance.html.j2")
        .render(
            f=figures,
            plots=_plots(figures),
            groupings=_GROUPINGS,
            series=_SERIES,
            columns=_COLUMNS,
            harm_shown=harm[:HARM_ROWS_SHOWN],
            harm_more=max(0, len(harm) - HARM_ROWS_SHOWN),
            groups_plotted=GROUPS_PLOTTED,
            missing_plotted=MISSING_FACTS_PLOTTED,
            run_labels=_RUN_LABELS,
        )
    )


def write_report(figures: dict[str, Any], out_dir: Path) -> tuple[Path, Path]:
    """Write ``concordance.json`` and ``concordance.html`` into ``out_dir`` (created when
    missing); returns their paths."""
    data = json.dumps(figures, indent=2, ensure_ascii=False) + "\n"
    html = render_html(figures)
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, html_path = write_files_atomically(
        {"concordance.json": data.encode("utf-8"), "concordance.html": html.encode("utf-8")},
        out_dir,
    )
    return json_path, html_path
