"""A client's key measurements over time as small inline SVG charts, drawn on the server.

No chart library: a polyline per compensation with one point per assessment (filled where the
compensation was seen). Only attributes, no inline styles, so the page's CSP allows it.
"""

from __future__ import annotations

from markupsafe import Markup, escape

from device.vocabulary import COMPENSATIONS

W, H = 320, 140
LEFT, RIGHT, TOP, BOTTOM = 44, 10, 12, 26


def progress_charts(history: list[dict]) -> list[dict]:
    """One chart per compensation seen at least once, with a value in at least two assessments."""
    charts = []
    for cid, comp in COMPENSATIONS.items():
        points = []
        unit = ""
        for i, h in enumerate(history):
            m = (h.get("measurements") or {}).get(cid) or {}
            v = m.get("value")
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                points.append((i, float(v), m.get("status"), h.get("created_at", "")))
                unit = unit or (m.get("unit") or "")
        if len(points) < 2 or not any(p[2] == "present" for p in points):
            continue
        charts.append({"id": cid, "label": comp.label, "unit": unit,
                       "svg": chart(points, len(history), f"{comp.label} ({unit})" if unit else comp.label)})
    return charts


def chart(points: list[tuple], n: int, title: str) -> Markup:
    values = [p[1] for p in points]
    lo, hi = min(values), max(values)
    if hi - lo < 1e-9:
        half = max(abs(hi) * 0.1, 0.05)
        lo, hi = lo - half, hi + half
    pad = (hi - lo) * 0.1
    lo, hi = lo - pad, hi + pad

    def x(i):
        return LEFT + (W - LEFT - RIGHT) * (i / max(1, n - 1))

    def y(v):
        return TOP + (H - TOP - BOTTOM) * (1 - (v - lo) / (hi - lo))

    parts = [
        f'<svg class="chart" viewBox="0 0 {W} {H}" width="{W}" height="{H}" role="img" '
        f'aria-label="{escape(title)}"><title>{escape(title)}</title>',
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{H - BOTTOM}" stroke="#888"/>',
        f'<line x1="{LEFT}" y1="{H - BOTTOM}" x2="{W - RIGHT}" y2="{H - BOTTOM}" stroke="#888"/>',
    ]
    for v in (hi - pad, lo + pad):
        parts.append(f'<text x="{LEFT - 4}" y="{y(v) + 4:.1f}" text-anchor="end" font-size="11">{_fmt(v)}</text>')
    line = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v, _, _ in points)
    parts.append(f'<polyline points="{line}" fill="none" stroke="#1565c0" stroke-width="2"/>')
    for i, v, status, when in points:
        seen = status == "present"
        parts.append(
            f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="4.5" stroke="#1565c0" stroke-width="2" '
            f'fill="{"#c62828" if seen else "#fff"}"><title>{escape(str(when)[:10])}: {_fmt(v)}'
            f'{" (seen)" if seen else ""}</title></circle>'
        )
    first, last = points[0][3], points[-1][3]
    parts.append(f'<text x="{LEFT}" y="{H - 8}" font-size="11">{escape(str(first)[:10])}</text>')
    parts.append(f'<text x="{W - RIGHT}" y="{H - 8}" font-size="11" text-anchor="end">{escape(str(last)[:10])}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def _fmt(v: float) -> str:
    return f"{v:.0f}" if abs(v) >= 10 else f"{v:.2f}"
