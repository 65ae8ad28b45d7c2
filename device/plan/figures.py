"""Exercise figures: a few key poses of a simple stick body (data) -> one small inline SVG.

    svg = render(figure, bases, title="Roll the calves")      # pure, deterministic
    check(figure, bases)                                      # ValueError naming the problem

A figure is data from the exercise library (`[exercises.<id>.figure]` in library.toml):

    poses = [{base = "sit_back", x = 50}, {base = "sit_back", x = 70}]   # 2-3 key poses, in order
    props = [{kind = "roller", under = "shin"}]                          # optional equipment
    arrow = "hip"                                                        # optional: the joint whose path is drawn

A pose is a base pose (`[figure_poses.<name>]`) with some angles replaced. The body is seen from
the side, facing right: angles in degrees, 0 = pointing right (forwards), 90 = up; each is the
direction of one segment from its parent joint (trunk: hip -> neck; arm: neck -> elbow; ...).
The far arm and leg (`arm2`, `thigh2`, ...) default to the near ones and are drawn lighter.
Each pose is set on the floor by its lowest point (or by its support: a step, a chair, a
roller under a segment). Earlier poses are drawn faint, the last one solid, and an arrow
follows the joint that moves most (or `arrow`) from the first pose to the last.

The SVG has role="img", an aria-label and a <title> in plain words, and no ids (a page holds
several figures). Colours are fixed; shapes, not colours, tell body from equipment.
"""

from __future__ import annotations

import math
from html import escape

# segment -> (parent joint, child joint, length in figure units); the hip is the root
SEGMENTS = {
    "trunk": ("hip", "neck", 26.0),
    "head": ("neck", "head", 9.0),
    "arm": ("neck", "elbow", 15.0),
    "forearm": ("elbow", "hand", 15.0),
    "thigh": ("hip", "knee", 23.0),
    "shin": ("knee", "ankle", 21.0),
    "foot": ("ankle", "toe", 7.0),
}
FAR = {"arm": "arm2", "forearm": "forearm2", "thigh": "thigh2", "shin": "shin2", "foot": "foot2"}
ANGLES = tuple(SEGMENTS) + tuple(FAR.values())
POSE_KEYS = set(ANGLES) | {"base", "x", "roll"}  # roll: where a roller is along its segment (0..1)
PROP_KINDS = {
    "roller": {"under"},            # a foam roller under a segment (optionally `at` 0..1 along it)
    "ball": {"at"},                 # a ball at a joint (`r`, `dx`, `dy` optional)
    "wall": {"at"},                 # a wall at a joint's x in the first pose (`dx` optional)
    "loop": {"at"},                 # a mini band around a joint
    "strap": {"from", "to"},        # a strap or band between two joints
    "step": {"on"},                 # a low step under a joint (`height`)
    "bench": {"on"},                # a bench or chair under a joint (`height`)
    "dowel": set(),                 # a stick along the back
    "weight": {"at"},               # a small dumbbell in the hand
}
JOINTS = ("hip", "neck", "head", "elbow", "hand", "knee", "ankle", "toe",
          "elbow2", "hand2", "knee2", "ankle2", "toe2")
FLOOR = 0.0            # figures are built with the floor at y = 0 and framed afterwards
BODY_R = 2.6           # half the stroke of a limb
HEAD_R = 6.0
ROLLER_R = 5.0
ASPECT = 1.2           # width / height of every figure's frame
MIN_WIDTH = 130.0      # the smallest frame (figure units): the same scale for every figure
MIN_MOTION = 4.0       # the arrow's joint must move at least this far (figure units)

INK, FAR_INK, PROP_INK, PROP_FILL, ARROW_INK, FLOOR_INK = (
    "#1d2b3a", "#8795a3", "#6b4f2a", "#e8d3b0", "#c2410c", "#9aa5b1")


def _rad(deg: float) -> float:
    return math.radians(float(deg))


def resolve(pose: dict, bases: dict) -> dict:
    """The full angle set of one pose: its base, its own angles, far limbs defaulting to near."""
    base = bases[pose["base"]]
    angles = {k: v for k, v in base.items() if k in ANGLES}
    angles.update({k: v for k, v in pose.items() if k in ANGLES})
    for near, far in FAR.items():
        if far not in angles:
            angles[far] = angles[near]
    angles["x"] = pose.get("x", base.get("x", 60.0))
    return angles


def joints(angles: dict) -> dict[str, tuple[float, float]]:
    """Joint positions (x right, y down) with the hip at (x, 0)."""
    p = {"hip": (float(angles["x"]), 0.0)}

    def put(name: str, parent: str, length: float, deg: float) -> None:
        a = _rad(deg)
        x0, y0 = p[parent]
        p[name] = (x0 + length * math.cos(a), y0 - length * math.sin(a))

    for seg, (parent, child, length) in SEGMENTS.items():
        put(child, parent, length, angles[seg])
        if seg in FAR:
            put(child + "2", parent + "2" if parent + "2" in JOINTS else parent, length, angles[FAR[seg]])
    return p


def _seg_point(p: dict, seg: str, at: float) -> tuple[float, float]:
    parent, child, _ = SEGMENTS[seg]
    (x0, y0), (x1, y1) = p[parent], p[child]
    return x0 + (x1 - x0) * at, y0 + (y1 - y0) * at


def _place(figure: dict, bases: dict) -> list[dict]:
    """Every pose's joints and props on the floor (y = FLOOR, up is negative)."""
    placed = []
    props = figure.get("props", [])
    for pose in figure["poses"]:
        p = joints(resolve(pose, bases))
        support = {"step": {}, "bench": {}}
        for prop in props:
            if prop["kind"] in support:
                height = float(prop.get("height", 8 if prop["kind"] == "step" else 20))
                support[prop["kind"]][prop["on"]] = height
                if prop["on"].startswith("ankle"):  # the whole foot stands on it
                    support[prop["kind"]][prop["on"].replace("ankle", "toe")] = height
        # how far each candidate point may sink before it meets what holds it up
        shifts = []
        for name, (x, y) in p.items():
            if name == "head":
                shifts.append(FLOOR - (y + HEAD_R))
                continue
            height = support["step"].get(name, support["bench"].get(name, 0.0))
            shifts.append(FLOOR - height - (y + BODY_R))
        for prop in props:
            if prop["kind"] == "roller":
                x, y = _seg_point(p, prop["under"], float(pose.get("roll", prop.get("at", 0.5))))
                shifts.append(FLOOR - (y + BODY_R + 2 * ROLLER_R))
            elif prop["kind"] == "ball" and prop.get("floor", False):
                x, y = p[prop["at"]]
                shifts.append(FLOOR - (y + float(prop.get("dy", 0)) + float(prop.get("r", 8))))
        dy = min(shifts)
        p = {k: (x, y + dy) for k, (x, y) in p.items()}
        dx = 0.0
        rollers = [pr for pr in props if pr["kind"] == "roller"]
        if rollers:  # the roller stays where it is; the body moves over it
            x, _ = _seg_point(p, rollers[0]["under"], float(pose.get("roll", rollers[0].get("at", 0.5))))
            dx = float(figure.get("roller_x", 60.0)) - x
            p = {k: (x + dx, y) for k, (x, y) in p.items()}
        placed.append(p)
    return placed


def check(figure: dict, bases: dict) -> None:
    """ValueError naming the first problem with a figure's data (poses, angles, props)."""
    poses = figure.get("poses")
    if not isinstance(poses, list) or not 2 <= len(poses) <= 3:
        raise ValueError("needs 2 or 3 poses")
    for n, pose in enumerate(poses):
        if pose.get("base") not in bases:
            raise ValueError(f"pose {n + 1}: unknown base pose {pose.get('base')!r}")
        unknown = set(pose) - POSE_KEYS
        if unknown:
            raise ValueError(f"pose {n + 1}: unknown key {sorted(unknown)[0]!r}")
        for k, v in pose.items():
            if k != "base" and (isinstance(v, bool) or not isinstance(v, (int, float))):
                raise ValueError(f"pose {n + 1}: {k} must be a number")
    for prop in figure.get("props", []):
        kind = prop.get("kind")
        if kind not in PROP_KINDS:
            raise ValueError(f"unknown prop {kind!r}")
        missing = PROP_KINDS[kind] - set(prop)
        if missing:
            raise ValueError(f"prop {kind}: missing {sorted(missing)[0]!r}")
        for key in ("at", "on", "from", "to"):
            if key in prop and not (kind == "roller" and key == "at") and prop[key] not in JOINTS:
                raise ValueError(f"prop {kind}: unknown joint {prop[key]!r}")
        if kind == "roller" and prop["under"] not in SEGMENTS:
            raise ValueError(f"prop roller: unknown segment {prop['under']!r}")
    if figure.get("arrow") is not None and figure["arrow"] not in JOINTS:
        raise ValueError(f"arrow: unknown joint {figure['arrow']!r}")
    for base, angles in bases.items():
        for k in SEGMENTS:
            if k not in angles:
                raise ValueError(f"base pose {base!r}: missing angle {k!r}")
    placed = _place(figure, bases)
    joint, moved = _arrow_joint(figure, placed)
    if moved < MIN_MOTION:
        raise ValueError(f"the poses barely differ (the {joint} moves {moved:.1f} units)")


def _arrow_joint(figure: dict, placed: list[dict]) -> tuple[str, float]:
    first, last = placed[0], placed[-1]

    def moved(j):
        return math.dist(first[j], last[j])

    joint = figure.get("arrow") or max(("hand", "hand2", "head", "knee", "knee2", "ankle", "ankle2",
                                        "hip", "elbow", "toe", "toe2"), key=moved)
    return joint, moved(joint)


def _f(v: float) -> str:
    text = f"{v:.1f}"
    return "0" if text == "-0.0" else text.removesuffix(".0")


def _line(a, b, colour: str, width: float, extra: str = "") -> str:
    return (f'<line x1="{_f(a[0])}" y1="{_f(a[1])}" x2="{_f(b[0])}" y2="{_f(b[1])}" '
            f'stroke="{colour}" stroke-width="{_f(width)}" stroke-linecap="round"{extra}/>')


def _body(p: dict, opacity: float) -> list[str]:
    out = [f'<g opacity="{_f(opacity) if opacity < 1 else 1}">']
    limbs = (("elbow", "hand"), ("neck", "elbow"), ("knee", "ankle"), ("hip", "knee"), ("ankle", "toe"))
    for a, b in limbs:  # the far side first, lighter and thinner
        out.append(_line(p[a + "2" if a + "2" in p else a], p[b + "2"], FAR_INK, 2 * BODY_R - 0.8))
    out.append(_line(p["hip"], p["neck"], INK, 2 * BODY_R + 1.6))
    out.append(_line(p["neck"], p["head"], INK, 2 * BODY_R - 0.6))
    for a, b in (("hip", "knee"), ("knee", "ankle"), ("ankle", "toe"), ("neck", "elbow"), ("elbow", "hand")):
        out.append(_line(p[a], p[b], INK, 2 * BODY_R))
    hx, hy = p["head"]
    out.append(f'<circle cx="{_f(hx)}" cy="{_f(hy)}" r="{_f(HEAD_R)}" fill="{INK}"/>')
    out.append("</g>")
    return out


def _props(figure: dict, placed: list[dict], front: bool) -> list[str]:
    out = []
    first = placed[0]
    for prop in figure.get("props", []):
        kind = prop["kind"]
        behind = kind in ("wall", "step", "bench", "roller")
        if behind == front:
            continue
        if kind == "roller":
            x = float(figure.get("roller_x", 60.0))
            cy = FLOOR - ROLLER_R
            out.append(f'<circle cx="{_f(x)}" cy="{_f(cy)}" r="{_f(ROLLER_R)}" fill="{PROP_FILL}" '
                       f'stroke="{PROP_INK}" stroke-width="1.2"/>')
        elif kind == "wall":
            x = first[prop["at"]][0] + float(prop.get("dx", 0))
            out.append(_line((x, FLOOR), (x, FLOOR - 78), PROP_INK, 2.4))
        elif kind in ("step", "bench"):
            x = first[prop["on"]][0] + float(prop.get("dx", 0))
            h = float(prop.get("height", 8 if kind == "step" else 20))
            w = 20.0 if kind == "step" else 24.0
            out.append(f'<rect x="{_f(x - w / 2)}" y="{_f(FLOOR - h)}" width="{_f(w)}" height="{_f(h)}" '
                       f'fill="{PROP_FILL}" stroke="{PROP_INK}" stroke-width="1.2"/>')
        elif kind == "ball":
            for p in placed[-1:]:
                x, y = p[prop["at"]]
                r = float(prop.get("r", 8))
                out.append(f'<circle cx="{_f(x + float(prop.get("dx", 0)))}" cy="{_f(y + float(prop.get("dy", 0)))}" '
                           f'r="{_f(r)}" fill="{PROP_FILL}" stroke="{PROP_INK}" stroke-width="1.2"/>')
        elif kind == "loop":
            x, y = placed[-1][prop["at"]]
            out.append(f'<ellipse cx="{_f(x)}" cy="{_f(y)}" rx="2.2" ry="5" fill="none" '
                       f'stroke="{ARROW_INK}" stroke-width="1.6"/>')
        elif kind == "strap":
            p = placed[-1]
            out.append(_line(p[prop["from"]], p[prop["to"]], PROP_INK, 1.4, ' stroke-dasharray="3 2"'))
        elif kind == "dowel":
            p = placed[-1]
            (hx, hy), (ix, iy) = p["head"], p["hip"]
            ux, uy = ix - hx, iy - hy
            n = math.hypot(ux, uy) or 1.0
            ox, oy = -uy / n * (HEAD_R + 1), ux / n * (HEAD_R + 1)  # to the back of the body
            if ox > 0:
                ox, oy = -ox, -oy
            a = (hx + ox - ux / n * 4, hy + oy - uy / n * 4)
            b = (ix + ox + ux / n * 6, iy + oy + uy / n * 6)
            out.append(_line(a, b, PROP_INK, 2.0))
        elif kind == "weight":
            x, y = placed[-1][prop["at"]]
            out.append(f'<rect x="{_f(x - 4)}" y="{_f(y - 1.6)}" width="8" height="3.2" rx="1" fill="{PROP_INK}"/>')
    return out


def _arrow(figure: dict, placed: list[dict]) -> list[str]:
    joint, _ = _arrow_joint(figure, placed)
    pts = [p[joint] for p in placed]
    # offset the path a little away from the body so it does not sit on a limb
    off = 5.0
    (x0, y0), (x1, y1) = pts[0], pts[-1]
    n = math.hypot(x1 - x0, y1 - y0) or 1.0
    nx, ny = (y1 - y0) / n * off, -(x1 - x0) / n * off
    if ny > 0:  # prefer above
        nx, ny = -nx, -ny
    path = [(x + nx, y + ny) for x, y in pts]
    d = "M" + " L".join(f"{_f(x)} {_f(y)}" for x, y in path)
    (ax, ay), (bx, by) = path[-2], path[-1]
    n = math.hypot(bx - ax, by - ay) or 1.0
    ux, uy = (bx - ax) / n, (by - ay) / n
    head = [(bx, by), (bx - 4.5 * ux + 2.6 * uy, by - 4.5 * uy - 2.6 * ux),
            (bx - 4.5 * ux - 2.6 * uy, by - 4.5 * uy + 2.6 * ux)]
    return [f'<path d="{d}" fill="none" stroke="{ARROW_INK}" stroke-width="1.6" stroke-dasharray="3 2"/>',
            '<polygon points="' + " ".join(f"{_f(x)},{_f(y)}" for x, y in head) + f'" fill="{ARROW_INK}"/>']


def _frame(placed: list[dict]) -> tuple[float, float, float, float]:
    """The viewBox: one scale for every figure (a standing body fills the height), floor at the bottom."""
    xs = [x for p in placed for x, _ in p.values()]
    ys = [y for p in placed for _, y in p.values()]
    w = max(MIN_WIDTH, max(xs) - min(xs) + 2 * (HEAD_R + 6))
    h = max(MIN_WIDTH / ASPECT, FLOOR + 3 - (min(ys) - HEAD_R - 6))
    w, h = max(w, h * ASPECT), max(h, w / ASPECT)
    x0 = (min(xs) + max(xs)) / 2 - w / 2
    return x0, FLOOR + 3 - h, w, h


def render(figure: dict, bases: dict, title: str) -> str:
    """One inline SVG string of the figure (see the module docstring)."""
    placed = _place(figure, bases)
    x0, y0, w, h = _frame(placed)
    label = escape(title, quote=True)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="ohsa-figure" role="img" aria-label="{label}" '
           f'viewBox="{_f(x0)} {_f(y0)} {_f(w)} {_f(h)}" width="{_f(w * 1.4)}" height="{_f(h * 1.4)}">',
           f"<title>{escape(title, quote=False)}</title>",
           _line((x0, FLOOR + 1.2), (x0 + w, FLOOR + 1.2), FLOOR_INK, 1.2)]
    out += _props(figure, placed, front=False)
    n = len(placed)
    for i, p in enumerate(placed):
        out += _body(p, 1.0 if i == n - 1 else 0.22 + 0.12 * i)
    out += _props(figure, placed, front=True)
    out += _arrow(figure, placed)
    out.append("</svg>")
    return "".join(out)
