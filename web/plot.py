"""A client's measurements over time: one inline SVG chart per compensation, drawn on the server.

Readable on a tablet: full width, 14 px text. The y axis is fixed by the threshold table's range
for that measurement (device.thresholds: the values an override may take, i.e. the meaningful
span), widened only to keep an outlying value on the chart, so a 0.03 wobble stays a wobble. The
threshold is a dashed line with the flagged side shaded; "lower is better" (or higher) comes from
the threshold's direction. x is real time: each point is labelled with its date and time (two
lines, so two sets on one day read apart). Standard sets make the trend line; re-tests (heels
raised, hands on hips) are grey diamonds off the line, since they measure a different squat.

Hand-written SVG, not a chart library: the charts need no JavaScript (the pages' CSP allows
scripts from the station only, and these print), they are tested as text on the server, and the
few things drawn here (a line, points, a band, ticks) are less code than wiring a library.
Only attributes, no inline styles, so the page's CSP allows it.
"""

from __future__ import annotations

import datetime as dt
import math

from markupsafe import Markup, escape

from device.thresholds import THRESHOLDS
from device.vocabulary import COMPENSATIONS

W, H = 720, 280
LEFT, RIGHT, TOP, BOTTOM = 64, 24, 16, 58
FONT = 14
MAX_X_LABELS = 6


def _number(v) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) else None


def _moment(text: str) -> dt.datetime | None:
    try:
        t = dt.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return t.astimezone() if t.tzinfo else t


def progress_charts(history: list[dict]) -> list[dict]:
    """One chart per compensation seen at least once, measured in at least two standard sets."""
    charts = []
    for cid, comp in COMPENSATIONS.items():
        spec = THRESHOLDS.get(comp.threshold or "")
        points, unit = [], ""
        for h in history:
            m = (h.get("measurements") or {}).get(cid) or {}
            v, when = _number(m.get("value")), _moment(h.get("created_at", ""))
            if v is None or when is None:
                continue
            points.append({"t": when, "v": v, "seen": m.get("status") == "present",
                           "retest": h.get("kind", "standard") != "standard", "id": h.get("id")})
            unit = unit or (m.get("unit") or "")
        if sum(not p["retest"] for p in points) < 2 or not any(p["seen"] for p in points):
            continue  # a compensation never seen has nothing to follow
        unit = unit or (spec.unit if spec else "")
        direction = ""
        if spec is not None and spec.direction in ("above", "below"):
            direction = "lower is better" if spec.direction == "above" else "higher is better"
        title = f"{comp.label}" + (f" ({unit})" if unit else "") + (f", {direction}" if direction else "")
        charts.append({"id": cid, "label": comp.label, "unit": unit, "direction": direction,
                       "retests": sum(p["retest"] for p in points),
                       "svg": chart(points, spec, title)})
    return charts


def axis_range(values: list[float], spec) -> tuple[float, float]:
    """The fixed y span: the threshold's allowed range, widened to hold every value."""
    if spec is not None:
        lo, hi = float(spec.low), float(spec.high)
    else:
        lo, hi = min(values), max(values)
        half = max((hi - lo) / 2, abs(hi) * 0.5, 0.5)
        mid = (hi + lo) / 2
        lo, hi = mid - half, mid + half
    lo, hi = min([lo, *values]), max([hi, *values])
    if hi - lo < 1e-9:
        lo, hi = lo - 1, hi + 1
    return lo, hi


def nice_ticks(lo: float, hi: float, n: int = 6) -> list[float]:
    raw = (hi - lo) / max(1, n - 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(s * mag for s in (1, 2, 2.5, 5, 10) if s * mag >= raw)
    first = math.ceil(lo / step - 1e-9) * step
    ticks, v = [], first
    while v <= hi + 1e-9:
        ticks.append(round(v, 10))
        v += step
    return ticks


def chart(points: list[dict], spec, title: str) -> Markup:
    lo, hi = axis_range([p["v"] for p in points], spec)
    t0, t1 = min(p["t"] for p in points), max(p["t"] for p in points)
    span = (t1 - t0).total_seconds() or 1.0
    plot_w, plot_h = W - LEFT - RIGHT, H - TOP - BOTTOM

    def x(t):
        if t1 == t0:
            return LEFT + plot_w / 2
        return LEFT + plot_w * ((t - t0).total_seconds() / span)

    def y(v):
        return TOP + plot_h * (1 - (v - lo) / (hi - lo))

    parts = [
        f'<svg class="chart" viewBox="0 0 {W} {H}" width="{W}" height="{H}" role="img" '
        f'aria-label="{escape(title)}" font-size="{FONT}" font-family="sans-serif"><title>{escape(title)}</title>',
    ]
    if spec is not None and spec.direction in ("above", "below"):  # the flagged side, shaded
        ty = y(spec.value)
        top, bottom = (TOP, ty) if spec.direction == "above" else (ty, H - BOTTOM)
        parts.append(f'<rect class="flagged" x="{LEFT}" y="{top:.1f}" width="{plot_w}" height="{max(0, bottom - top):.1f}" fill="#fff1e0"/>')
    for v in nice_ticks(lo, hi):
        parts.append(f'<line x1="{LEFT}" y1="{y(v):.1f}" x2="{W - RIGHT}" y2="{y(v):.1f}" stroke="#e0e0e0"/>')
        parts.append(f'<text class="ytick" x="{LEFT - 6}" y="{y(v) + 5:.1f}" text-anchor="end">{_fmt(v)}</text>')
    parts.append(f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{H - BOTTOM}" stroke="#666"/>')
    parts.append(f'<line x1="{LEFT}" y1="{H - BOTTOM}" x2="{W - RIGHT}" y2="{H - BOTTOM}" stroke="#666"/>')
    if spec is not None:
        ty = y(spec.value)
        parts.append(f'<line class="threshold" x1="{LEFT}" y1="{ty:.1f}" x2="{W - RIGHT}" y2="{ty:.1f}" '
                     f'stroke="#a14f00" stroke-width="2" stroke-dasharray="8 5"/>')
        parts.append(f'<text class="threshold-label" x="{LEFT + 6}" y="{ty - 6:.1f}" '
                     f'fill="#a14f00">threshold {_fmt(spec.value)}</text>')
    trend = [p for p in points if not p["retest"]]
    line = " ".join(f"{x(p['t']):.1f},{y(p['v']):.1f}" for p in trend)
    parts.append(f'<polyline class="trend" points="{line}" fill="none" stroke="#1565c0" stroke-width="3"/>')
    for p in points:
        label = f"{p['t']:%Y-%m-%d %H:%M}: {_fmt(p['v'])}" + (" (seen)" if p["seen"] else "") + (" re-test" if p["retest"] else "")
        px, py = x(p["t"]), y(p["v"])
        if p["retest"]:
            parts.append(f'<path class="retest" d="M{px:.1f} {py - 8:.1f} L{px + 8:.1f} {py:.1f} L{px:.1f} {py + 8:.1f} '
                         f'L{px - 8:.1f} {py:.1f} Z" fill="#fff" stroke="#757575" stroke-width="2"><title>{escape(label)}</title></path>')
        else:
            parts.append(f'<circle class="point" cx="{px:.1f}" cy="{py:.1f}" r="6" stroke="#1565c0" stroke-width="2" '
                         f'fill="{"#c62828" if p["seen"] else "#fff"}"><title>{escape(label)}</title></circle>')
    for i, p in enumerate(_x_labelled(trend or points)):
        px = x(p["t"])
        anchor = "start" if px - LEFT < 40 else "end" if W - RIGHT - px < 40 else "middle"
        parts.append(f'<text class="xtick" x="{px:.1f}" y="{H - BOTTOM + 20}" text-anchor="{anchor}">'
                     f'<tspan x="{px:.1f}">{p["t"]:%d %b %Y}</tspan><tspan x="{px:.1f}" dy="17">{p["t"]:%H:%M}</tspan></text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def _x_labelled(points: list[dict]) -> list[dict]:
    """At most MAX_X_LABELS points to label, first and last always, spread out over time."""
    if len(points) <= MAX_X_LABELS:
        return points
    idx = {round(i * (len(points) - 1) / (MAX_X_LABELS - 1)) for i in range(MAX_X_LABELS)}
    return [points[i] for i in sorted(idx)]


def _fmt(v: float) -> str:
    if abs(v) >= 10:
        return f"{v:.0f}"
    return f"{v:.2f}".rstrip("0").rstrip(".") if abs(v) < 10 else f"{v:.1f}"
