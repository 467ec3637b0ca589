"""The plan's timeline picture: what happens when over the next two years.

:func:`plan_timeline` takes the events of the first options of the plan (a referral or
genetic counselling first, then the first treatment or strategy) from the patient texts and
draws them with matplotlib as an SVG string, with a text alternative row by row. The SVG is
deterministic (fixed hash salt, no date) and keeps its words as text (searchable, readable
by screen readers, selectable in the PDF).
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from netnav.guide.texts import PatientTexts
from netnav.guide.texts_schema import TimelineEvent

__all__ = ["HORIZON_WEEKS", "Timeline", "plan_timeline", "timeline_svg"]

HORIZON_WEEKS = 104
"""Two years: the span the issue asks the picture to cover."""

_PREPARATORY = ("specialist_referral",)
"""Options drawn alongside the treatment that follows them (genetic counselling is left
out: it does not time the treatment)."""

_LANE_COLOURS = {
    # Dark tones: every mark keeps a contrast ratio above 4.5:1 on white (WCAG AA).
    "treatment": "#1d4f91",
    "scan": "#9a4a00",
    "visit": "#2e6b30",
    "test": "#6a1b9a",
}
_WEEKS_PER_MONTH = 52 / 12


@dataclass(frozen=True)
class TimelineRow:
    label: str
    lane: str
    weeks: tuple[float, ...]
    """Start week of each mark."""
    duration_weeks: float
    description: str
    """The row in words (text alternative)."""


@dataclass(frozen=True)
class Timeline:
    """Rows of the picture, its text alternative and (once drawn) the SVG markup."""

    rows: tuple[TimelineRow, ...]
    alt: str
    svg: str
    options: tuple[str, ...] = ()
    """Plain names of the options whose events the picture shows."""


def _weeks(event: TimelineEvent, offset: float) -> tuple[float, ...]:
    start = event.start_week + offset
    if event.every_weeks is None:
        return (start,) if start <= HORIZON_WEEKS else ()
    n = event.count if event.count is not None else math.inf
    out: list[float] = []
    week = start
    while week <= HORIZON_WEEKS and len(out) < n:
        out.append(round(week, 2))
        week += event.every_weeks
    return tuple(out)


def _describe(event: TimelineEvent, offset: float, labels: Mapping[str, str]) -> str:
    start = event.start_week + offset
    parts: list[str] = []
    if start == 0:
        parts.append(labels["tl_from_start"])
    elif start < 8:
        parts.append(labels["tl_from_week"].format(n=f"{start:g}"))
    else:
        parts.append(labels["tl_from_month"].format(n=round(start / _WEEKS_PER_MONTH)))
    if event.every_weeks is None:
        if event.duration_weeks and start + event.duration_weeks >= HORIZON_WEEKS:
            parts.append(labels["tl_ongoing"])
        elif event.duration_weeks == 1:
            parts.append(labels["tl_for_week"])
        elif event.duration_weeks:
            parts.append(labels["tl_for_weeks"].format(n=f"{event.duration_weeks:g}"))
        else:
            parts.append(labels["tl_once"])
        return ", ".join(parts)
    if event.every_weeks == 1:
        parts.append(labels["tl_every_week"])
    elif event.every_weeks < 8:
        parts.append(labels["tl_every_weeks"].format(n=f"{event.every_weeks:g}"))
    else:
        months = round(event.every_weeks / _WEEKS_PER_MONTH)
        parts.append(labels["tl_every_months"].format(n=months))
    if event.count is not None:
        parts.append(labels["tl_times"].format(n=event.count))
    return ", ".join(parts)


def _kept(event: TimelineEvent, avoided: frozenset[str]) -> bool:
    return not (event.unless_avoided and set(event.unless_avoided) <= avoided)


def plan_timeline(plan: Mapping[str, Any], texts: PatientTexts) -> Timeline | None:
    """The timeline of ``plan`` (None when nothing would be on it).

    Treatments come from the first option that is not a referral or genetic counselling
    (with a specialist visit at the start when a referral ranks before it); visits, scans
    and tests come from the plan's follow-up schedule when it has one (so the picture never
    contradicts the schedule), else from the option.
    """
    labels = texts.guide.labels
    avoided = frozenset(a["id"] for a in plan["avoid"])
    schedule = plan.get("surveillance")
    follow_up = texts.surveillance[schedule["id"]].timeline if schedule else None
    chosen: list[str] = []
    for option in plan["options"]:
        if option["id"] == "genetic_counseling":
            continue
        chosen.append(option["id"])
        if option["id"] not in _PREPARATORY:
            break
    events: list[TimelineEvent] = []
    for oid in chosen:
        for e in texts.options[oid].timeline:
            if e.lane != "treatment" and oid not in _PREPARATORY:
                # Visits, scans and tests come only from the plan's own follow-up schedule:
                # the picture never shows check-ups the plan does not give.
                continue
            if _kept(e, avoided):
                events.append(e)
    if follow_up is not None:
        events.extend(follow_up)
    # One row per kind of event: a scan every 3 months, then every 6, is one row.
    merged: dict[tuple[str, str], tuple[list[float], float, list[str]]] = {}
    for e in events:
        weeks = _weeks(e, 0.0)
        if not weeks:
            continue
        marks, _duration, words = merged.setdefault((e.label, e.lane), ([], e.duration_weeks, []))
        marks.extend(weeks)
        words.append(_describe(e, 0.0, labels))
    rows = [
        TimelineRow(
            label,
            lane,
            tuple(sorted(set(marks))),
            duration,
            f"{label}: " + labels["tl_then"].join(words),
        )
        for (label, lane), (marks, duration, words) in merged.items()
    ]
    if not rows:
        return None
    shown = tuple(texts.options[oid].name for oid in chosen if texts.options[oid].timeline)
    alt = labels["tl_alt"] + " " + "; ".join(r.description for r in rows) + "."
    return Timeline(tuple(rows), alt, timeline_svg(tuple(rows), labels["tl_axis"]), shown)


def timeline_svg(rows: tuple[TimelineRow, ...], axis_label: str) -> str:
    """Draw ``rows`` as an SVG document string (no XML prolog; ready to inline in HTML)."""
    import matplotlib

    matplotlib.use("svg", force=False)
    from matplotlib.figure import Figure

    with matplotlib.rc_context(
        {
            "svg.hashsalt": "netnav-timeline",
            "svg.fonttype": "none",
            "font.family": "DejaVu Sans",
            "font.size": 10,
        }
    ):
        height = 0.9 + 0.42 * len(rows)
        fig = Figure(figsize=(7.2, height))
        ax = fig.add_axes((0.27, 0.9 / height * 0.75, 0.7, 1 - 1.0 / height))
        for i, row in enumerate(rows):
            y = len(rows) - 1 - i
            colour = _LANE_COLOURS[row.lane]
            months = [w / _WEEKS_PER_MONTH for w in row.weeks]
            if row.duration_weeks:
                ax.broken_barh(
                    [(m, row.duration_weeks / _WEEKS_PER_MONTH) for m in months],
                    (y - 0.25, 0.5),
                    facecolors=colour,
                )
            else:
                ax.scatter(months, [y] * len(months), marker="D", s=36, color=colour, zorder=3)
        ax.set_yticks(range(len(rows)), [r.label for r in reversed(rows)])
        ax.set_xlim(-0.5, HORIZON_WEEKS / _WEEKS_PER_MONTH + 0.5)
        ax.set_ylim(-0.7, len(rows) - 0.3)
        ax.set_xticks(range(0, 25, 3))
        ax.set_xlabel(axis_label)
        ax.grid(axis="x", color="#d0d0d0", linewidth=0.6)
        ax.set_axisbelow(True)
        for side in ("top", "right", "left"):
            ax.spines[side].set_visible(False)
        ax.tick_params(axis="y", length=0)
        buf = io.StringIO()
        # No metadata title: the page adds its own <title> for screen readers.
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    svg = buf.getvalue()
    return svg[svg.index("<svg") :]
