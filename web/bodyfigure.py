"""The member's body figure: a person from the front and the side, each checkpoint region marked.

    body_svg(marks) -> Markup      # marks: web.member.figure_regions(result)

Drawn on the server as inline SVG with attributes only (the page's CSP forbids inline styles).
A mark never relies on colour alone: "to work on" is a filled disc with "!" in a hatched ring, "no problem seen" an
open disc with a tick, "partly checked" a half-filled disc with a tick, "not checked" a dashed
circle with "?"; the page's legend says the same in words.
"""

from __future__ import annotations

from markupsafe import Markup, escape

from device import i18n

W, H = 250, 230
FRONT_X, SIDE_X = 0, 130  # each figure in a 120-wide slot

# Region -> marker position (x, y) in each figure's slot.
ANCHORS = {
    "front": {"head": (60, 27), "shoulders_arms": (92, 34), "hips_low_back": (60, 112),
              "knees": (60, 160), "feet_ankles": (60, 207)},
    "side": {"head": (52, 27), "shoulders_arms": (84, 22), "hips_low_back": (46, 112),
             "knees": (80, 160), "feet_ankles": (80, 212)},
}

# Line segments of a standing person, arms overhead (x1, y1, x2, y2) per figure.
FRONT = [(60, 42, 60, 108), (42, 52, 78, 52), (42, 52, 30, 10), (78, 52, 90, 10),
         (48, 108, 72, 108), (48, 108, 44, 160), (72, 108, 76, 160), (44, 160, 42, 205),
         (76, 160, 78, 205), (42, 205, 32, 208), (78, 205, 88, 208)]
SIDE = [(60, 42, 58, 108), (60, 52, 64, 8), (58, 108, 62, 160), (62, 160, 60, 205),
        (60, 205, 82, 207)]

COLOURS = {"work": "#a14f00", "fine": "#0d47a1", "partly": "#0d47a1", "unchecked": "#555"}


def _defs() -> str:
    return (
        '<defs>'
        '<pattern id="bf-hatch" width="5" height="5" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">'
        '<rect width="5" height="5" fill="#fff1e0"/><line x1="0" y1="0" x2="0" y2="5" stroke="#a14f00" stroke-width="3"/>'
        '</pattern>'
        '</defs>'
    )


def _marker(x: float, y: float, mark: str, label: str) -> str:
    colour = COLOURS.get(mark, "#555")
    r = 11
    if mark == "work":
        shape = (f'<circle cx="{x}" cy="{y}" r="{r + 3}" fill="url(#bf-hatch)"/>'
                 f'<circle cx="{x}" cy="{y}" r="{r - 1}" fill="{colour}"/>')
        icon, ink = "!", "#fff"
    elif mark == "fine":
        shape = f'<circle cx="{x}" cy="{y}" r="{r}" fill="#fff" stroke="{colour}" stroke-width="2.5"/>'
        icon, ink = "\u2713", colour
    elif mark == "partly":
        shape = (f'<circle cx="{x}" cy="{y}" r="{r}" fill="#fff" stroke="{colour}" stroke-width="2.5"/>'
                 f'<path d="M{x} {y - r} A{r} {r} 0 0 1 {x} {y + r} Z" fill="#e3f2fd"/>')
        icon, ink = "\u2713", colour
    else:
        shape = (f'<circle cx="{x}" cy="{y}" r="{r}" fill="#fff" stroke="{colour}" stroke-width="2" '
                 'stroke-dasharray="3 2"/>')
        icon, ink = "?", colour
    text = (f'<text x="{x}" y="{y + 5}" text-anchor="middle" font-size="14" font-weight="700" '
            f'fill="{ink}">{icon}</text>')
    return f'<g class="mark {mark}"><title>{escape(label)}</title>{shape}{text}</g>'


def _person(x0: int, segments, head: tuple[int, int]) -> str:
    lines = "".join(f'<line x1="{x0 + a}" y1="{b}" x2="{x0 + c}" y2="{d}"/>' for a, b, c, d in segments)
    hx, hy = head
    return (f'<g stroke="#9aa5ad" stroke-width="9" stroke-linecap="round" fill="none">{lines}</g>'
            f'<circle cx="{x0 + hx}" cy="{hy}" r="13" fill="#9aa5ad"/>')


def body_svg(marks: list[dict], *, title_id: str = "body-figure-title", lang: str = "en") -> Markup:
    """Front and side figure with one marker per region and view; a <title> sums it up in words
    (`marks` already in `lang`, from web.member.figure_regions)."""
    _ = i18n.translations(lang).gettext
    title, front, side = _("Body figure, front and side."), _("Front"), _("Side")
    summary = "; ".join(f"{m['label']}: {m['words'].lower() if lang == 'en' else m['words']}" for m in marks)
    parts = [
        f'<svg class="body-figure" viewBox="0 0 {W} {H}" role="img" aria-labelledby="{title_id}" '
        'xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{title_id}">{escape(title)} {escape(summary)}.</title>',
        _defs(),
        _person(FRONT_X, FRONT, (60, 27)),
        _person(SIDE_X, SIDE, (54, 27)),
        f'<text x="{FRONT_X + 60}" y="228" text-anchor="middle" font-size="12" fill="#333">{escape(front)}</text>',
        f'<text x="{SIDE_X + 60}" y="228" text-anchor="middle" font-size="12" fill="#333">{escape(side)}</text>',
    ]
    for view, x0 in (("front", FRONT_X), ("side", SIDE_X)):
        for m in marks:
            x, y = ANCHORS[view][m["id"]]
            parts.append(_marker(x0 + x, y, m["mark"], f"{m['label']}: {m['words']}"))
    parts.append("</svg>")
    return Markup("".join(parts))
