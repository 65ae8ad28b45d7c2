"""The footprint mat: its geometry as data, its drawing, marker detection and camera pose.

The mat is an A1 sheet (841 x 594 mm, landscape) that lies on the floor where members stand:
two footprints in the middle and twelve ArUco markers (OpenCV's 4x4 dictionary, 120 mm) around
them. It defines the station's world frame:

    origin  the middle of the mat, on the floor (between the feet)
    X       to the right of a person standing on the footprints (along the long side)
    Y       forward, the way the printed feet point (towards the front camera)
    Z       up; the floor (the mat) is Z = 0; metres

This is the frame of `device.geometry.camera` and of the test renderers. Printed, the top edge of
the page is the mat's front edge (+Y, toes) and the page's right is +X.

Everything about the mat is in `MAT` (a `MatLayout`): marker ids and where their corners are,
footprint outlines, the feet's intended direction. The drawing (`drawing`) is built from it and
written as SVG (`to_svg`), PDF (`to_pdf`, one A1 page or tiled A4 pages with alignment marks) or
a raster (`raster`, for previews and the test renderer). `detect` finds markers in a still and
`solve_pose` turns them into a `Camera` in the mat's frame.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field

import numpy as np

from device.errors import OhsaError
from device.geometry.camera import Camera, Intrinsics

# --- limits: one table ----------------------------------------------------------------------
LIMITS = {
    "min_markers": 4,  # fewer markers seen -> no calibration (a pose from 1-3 is too weak)
    "max_rms_px": 3.0,  # reprojection error (full-resolution pixels) above which a fit is refused
    # focal length searched within +-15 % of the camera model's; a best fit at the edge of that
    # range means the model (config hfov) is wrong, not the mat
    "focal_search": 0.15,
    # the fit weighs the corners against a prior on the focal length (MAP): corner noise in
    # pixels, and how far a real module's focal length strays from the nominal (relative)
    "corner_sigma_px": 0.3,  # the corners' scatter on the tuning stills (0.2-0.35 px)
    "focal_sigma": 0.03,
}


class MatError(OhsaError, ValueError):
    """The mat cannot be used in a still: too few markers, a fit that does not hold."""


# --- geometry as data -----------------------------------------------------------------------
MM = 1e-3
PAPER_MM = (841.0, 594.0)  # A1 landscape: width along X, depth along Y
MARGIN_MM = 15.0  # unprinted border kept free (plotters and tiled A4 trims)
MARKER_MM = 120.0
DICTIONARY = "DICT_4X4_50"  # 4x4 bits: the largest cells for a given marker size
FOOT_LENGTH_MM = 270.0
FOOT_WIDTH_MM = 100.0
FEET_APART_MM = 300.0  # centre line to centre line: about hip width for an adult
FOOT_HEEL_Y_MM = -125.0  # heel end of the outline (toes at heel + length)
# outline of a right foot: (fraction of the length from the heel, half-width as a fraction of
# FOOT_WIDTH) on the outer side, then the inner side; heel at 0, toes at 1
_FOOT_OUTER = ((0.0, 0.0), (0.03, 0.30), (0.10, 0.38), (0.30, 0.40), (0.55, 0.44), (0.72, 0.48),
               (0.85, 0.44), (0.94, 0.32), (0.99, 0.14), (1.0, 0.0))
_FOOT_INNER = ((0.0, 0.0), (0.03, 0.30), (0.10, 0.36), (0.30, 0.30), (0.50, 0.34), (0.70, 0.50),
               (0.86, 0.50), (0.95, 0.40), (1.0, 0.12))


def _marker_centres() -> dict[int, tuple[float, float]]:
    """Ids -> centre (mm, mat frame): a row of five along the front and the back edge, one on
    each side between them; ids run front row left to right, then the sides, then the back."""
    w, d = PAPER_MM
    half = MARKER_MM / 2
    xs = np.linspace(-w / 2 + MARGIN_MM + half, w / 2 - MARGIN_MM - half, 5)
    y_row = d / 2 - MARGIN_MM - half
    x_side = w / 2 - MARGIN_MM - half - 40.0
    out = {}
    for i, x in enumerate(xs):
        out[i] = (float(x), y_row)
    out[5] = (-x_side, 0.0)
    out[6] = (x_side, 0.0)
    for i, x in enumerate(xs):
        out[7 + i] = (float(x), -y_row)
    return out


@dataclass(frozen=True)
class Footprint:
    side: str  # "left" | "right" (of the person standing on it)
    heel: tuple[float, float]  # metres, mat frame
    toe: tuple[float, float]
    outline: tuple[tuple[float, float], ...]  # closed polygon, metres

    @property
    def direction(self) -> np.ndarray:
        """Unit vector heel -> toe on the floor (X, Y)."""
        v = np.subtract(self.toe, self.heel)
        return v / np.linalg.norm(v)

    @property
    def centre(self) -> np.ndarray:
        return (np.asarray(self.heel) + np.asarray(self.toe)) / 2


def _footprint(side: str) -> Footprint:
    sign = 1.0 if side == "right" else -1.0
    cx = sign * FEET_APART_MM / 2
    heel_y = FOOT_HEEL_Y_MM
    pts = []
    for s, hw in _FOOT_OUTER:  # outer side: away from the other foot
        pts.append((cx + sign * hw * FOOT_WIDTH_MM, heel_y + s * FOOT_LENGTH_MM))
    for s, hw in reversed(_FOOT_INNER[1:]):
        pts.append((cx - sign * hw * FOOT_WIDTH_MM, heel_y + s * FOOT_LENGTH_MM))
    return Footprint(
        side,
        (cx * MM, heel_y * MM),
        (cx * MM, (heel_y + FOOT_LENGTH_MM) * MM),
        tuple((x * MM, y * MM) for x, y in pts),
    )


@dataclass(frozen=True)
class MatLayout:
    name: str
    width_m: float
    depth_m: float
    dictionary: str
    marker_size_m: float
    markers: dict[int, tuple[float, float]]  # id -> centre (metres, mat frame)
    footprints: dict[str, Footprint] = field(default_factory=dict)

    def marker_corners(self, marker_id: int) -> np.ndarray:
        """(4, 3) corners in OpenCV's order (the marker's top-left, top-right, bottom-right,
        bottom-left as printed; top = the mat's front edge), metres, Z = 0."""
        x, y = self.markers[marker_id]
        h = self.marker_size_m / 2
        return np.array([[x - h, y + h, 0.0], [x + h, y + h, 0.0], [x + h, y - h, 0.0], [x - h, y - h, 0.0]])

    def all_corners(self) -> dict[int, np.ndarray]:
        return {i: self.marker_corners(i) for i in self.markers}

    def to_json(self) -> dict:
        return {
            "name": self.name, "width_m": self.width_m, "depth_m": self.depth_m,
            "dictionary": self.dictionary, "marker_size_m": self.marker_size_m,
            "markers": {str(i): list(c) for i, c in self.markers.items()},
            "footprints": {s: {"heel": list(f.heel), "toe": list(f.toe)} for s, f in self.footprints.items()},
        }


MAT = MatLayout(
    name="ohsa-mat-a1/1",
    width_m=PAPER_MM[0] * MM,
    depth_m=PAPER_MM[1] * MM,
    dictionary=DICTIONARY,
    marker_size_m=MARKER_MM * MM,
    markers={i: (x * MM, y * MM) for i, (x, y) in _marker_centres().items()},
    footprints={s: _footprint(s) for s in ("left", "right")},
)


# --- what the printed feet say ------------------------------------------------------------------


def feet_direction(layout: MatLayout = MAT) -> dict[str, np.ndarray]:
    """Each printed foot's intended direction: unit (X, Y, 0) vectors heel -> toe, mat frame."""
    return {s: np.array([*f.direction, 0.0]) for s, f in layout.footprints.items()}


def feet_distance_m(layout: MatLayout = MAT) -> float:
    """Distance between the printed feet's centre lines (heel to heel), metres."""
    fp = layout.footprints
    return float(np.linalg.norm(np.subtract(fp["right"].heel, fp["left"].heel)))


def foot_turn_deg(side: str, heel_xy, toe_xy, layout: MatLayout = MAT) -> float:
    """How far a measured foot (heel and toe on the floor, mat frame) turns from its printed
    direction, degrees; + = out (away from the other foot), - = in."""
    ref = layout.footprints[side].direction
    v = np.subtract(toe_xy, heel_xy)
    ang = math.degrees(math.atan2(ref[0] * v[1] - ref[1] * v[0], ref @ v))  # + = counter-clockwise
    return -ang if side == "right" else ang  # right foot out = clockwise seen from above


# --- drawing ------------------------------------------------------------------------------------
# Items in page millimetres (origin top-left of the sheet, y down):
#   ("rect", x, y, w, h, grey)            filled, grey 0 = black .. 1 = white
#   ("poly", [(x, y), ...], fill, stroke) closed polygon; fill/stroke grey or None; stroke 0.8 mm
#   ("line", x1, y1, x2, y2, grey, width)
#   ("text", x, y, size_mm, text, anchor) anchor "start" | "middle"; y = baseline

INSTRUCTIONS = (
    "OHSA station mat. Lay it flat, toes towards the front camera, on both cameras' centre lines.",
    "Keep it clear and run `ohsa calibrate`. Do not fold, crease or scale when printing.",
)


def _marker_bits(marker_id: int) -> np.ndarray:
    import cv2

    d = cv2.aruco.getPredefinedDictionary(getattr(cv2.aruco, MAT.dictionary))
    cells = d.markerSize + 2
    return cv2.aruco.generateImageMarker(d, marker_id, cells) < 128  # True = black


def _page(x_m: float, y_m: float, layout: MatLayout) -> tuple[float, float]:
    return (x_m / MM + layout.width_m / MM / 2, layout.depth_m / MM / 2 - y_m / MM)


def drawing(layout: MatLayout = MAT) -> list[tuple]:
    items: list[tuple] = []
    w, d = layout.width_m / MM, layout.depth_m / MM
    items.append(("poly", [(0.5, 0.5), (w - 0.5, 0.5), (w - 0.5, d - 0.5), (0.5, d - 0.5)], None, 0.75))
    for f in layout.footprints.values():
        pts = [_page(x, y, layout) for x, y in f.outline]
        items.append(("poly", pts, 0.88, 0.55))
        hx, hy = _page(*f.heel, layout)
        tx, ty = _page(*f.toe, layout)
        items.append(("line", hx, hy - 30, tx, ty + 40, 0.6, 0.8))  # the direction, heel to toe
        items.append(("text", hx, hy - 12, 9.0, f.side.upper(), "middle"))
    size = layout.marker_size_m / MM
    for mid in sorted(layout.markers):
        bits = _marker_bits(mid)
        cell = size / bits.shape[0]
        x0, y0 = _page(layout.markers[mid][0] - layout.marker_size_m / 2,
                       layout.markers[mid][1] + layout.marker_size_m / 2, layout)
        for r, row in enumerate(bits):
            c = 0
            while c < len(row):  # runs of black cells as one rectangle
                if row[c]:
                    start = c
                    while c < len(row) and row[c]:
                        c += 1
                    items.append(("rect", x0 + start * cell, y0 + r * cell, (c - start) * cell, cell, 0.0))
                else:
                    c += 1
        items.append(("text", x0 + size / 2, y0 + size + 7, 4.0, f"{mid}", "middle"))
    # between the feet: what this is and which way to face
    cx = w / 2
    items.append(("text", cx, d / 2 - 100, 5.0, "FRONT CAMERA", "middle"))
    items.append(("poly", [(cx, d / 2 - 94), (cx - 5, d / 2 - 84), (cx + 5, d / 2 - 84)], 0.3, None))
    items.append(("line", cx, d / 2 - 85, cx, d / 2 - 62, 0.3, 1.2))  # an arrow towards the front
    items.append(("text", cx, d / 2 - 40, 8.0, "STAND HERE", "middle"))
    items.append(("text", cx, d / 2 - 28, 5.0, "feet on the prints,", "middle"))
    items.append(("text", cx, d / 2 - 21, 5.0, "toes straight ahead", "middle"))
    # a 100 mm scale bar to check the print, and the instructions, between the back-row markers
    y_text = d - MARGIN_MM - size - 12
    bx = w / 2 - 50
    items.append(("line", bx, d / 2 + 40, bx + 100, d / 2 + 40, 0.0, 0.8))
    for x in (bx, bx + 100):
        items.append(("line", x, d / 2 + 36, x, d / 2 + 44, 0.0, 0.8))
    items.append(("text", w / 2, d / 2 + 50, 4.0, "this bar must measure 100 mm", "middle"))
    for i, line in enumerate(INSTRUCTIONS):
        items.append(("text", w / 2, y_text + 6 * i, 4.2, line, "middle"))
    items.append(("text", w - MARGIN_MM, 10, 3.5, f"{layout.name}  {layout.dictionary} "
                  f"{size:.0f} mm  A1 {w:.0f} x {d:.0f} mm", "end"))
    return items


def _grey_hex(g: float) -> str:
    v = int(round(255 * g))
    return f"#{v:02x}{v:02x}{v:02x}"


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def to_svg(layout: MatLayout = MAT) -> str:
    w, d = layout.width_m / MM, layout.depth_m / MM
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w:g}mm" height="{d:g}mm" viewBox="0 0 {w:g} {d:g}">',
        f"<title>{_esc(layout.name)}: print at 100 %, A1 landscape</title>",
        f'<rect x="0" y="0" width="{w:g}" height="{d:g}" fill="#ffffff"/>',
    ]
    anchors = {"start": "start", "middle": "middle", "end": "end"}
    for it in drawing(layout):
        kind = it[0]
        if kind == "rect":
            _, x, y, rw, rh, g = it
            out.append(f'<rect x="{x:.3f}" y="{y:.3f}" width="{rw:.3f}" height="{rh:.3f}" fill="{_grey_hex(g)}"/>')
        elif kind == "poly":
            _, pts, fill, stroke = it
            p = " ".join(f"{x:.2f},{y:.2f}" for x, y in pts)
            f = _grey_hex(fill) if fill is not None else "none"
            s = f'stroke="{_grey_hex(stroke)}" stroke-width="0.8"' if stroke is not None else 'stroke="none"'
            out.append(f'<polygon points="{p}" fill="{f}" {s}/>')
        elif kind == "line":
            _, x1, y1, x2, y2, g, lw = it
            out.append(f'<line x1="{x1:.2f}" y1="{y1:.2f}" x2="{x2:.2f}" y2="{y2:.2f}" '
                       f'stroke="{_grey_hex(g)}" stroke-width="{lw:g}"/>')
        else:
            _, x, y, size, text, anchor = it
            out.append(f'<text x="{x:.2f}" y="{y:.2f}" font-family="Helvetica, Arial, sans-serif" '
                       f'font-size="{size:g}" text-anchor="{anchors[anchor]}">{_esc(text)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


# --- PDF: a small writer of our own (vector, Helvetica from the standard 14: nothing embedded) ---
PT_PER_MM = 72.0 / 25.4
A4_MM = (210.0, 297.0)
TILE_MARGIN_MM = 12.0  # each A4 page prints a window of the mat this far inside its edges


def _pdf_text_width(text: str, size: float) -> float:
    return 0.5 * size * len(text)  # Helvetica averages ~0.5 em; only used to centre text


def _pdf_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)").replace("`", "'")


def _pdf_ops(items, page_h_mm: float) -> list[str]:
    """Content-stream operators drawing `items` in mm with y down on a page page_h_mm tall."""
    k = PT_PER_MM
    ops = []

    def P(x, y):
        return f"{x * k:.2f} {(page_h_mm - y) * k:.2f}"

    for it in items:
        kind = it[0]
        if kind == "rect":
            _, x, y, w, h, g = it
            ops.append(f"{g:.3f} g {x * k:.2f} {(page_h_mm - y - h) * k:.2f} {w * k:.2f} {h * k:.2f} re f")
        elif kind == "poly":
            _, pts, fill, stroke = it
            path = P(*pts[0]) + " m " + " ".join(P(*p) + " l" for p in pts[1:]) + " h"
            if fill is not None and stroke is not None:
                ops.append(f"{fill:.3f} g {stroke:.3f} G {0.8 * k:.2f} w {path} B")
            elif fill is not None:
                ops.append(f"{fill:.3f} g {path} f")
            else:
                ops.append(f"{stroke:.3f} G {0.8 * k:.2f} w {path} S")
        elif kind == "line":
            _, x1, y1, x2, y2, g, lw = it
            ops.append(f"{g:.3f} G {lw * k:.2f} w {P(x1, y1)} m {P(x2, y2)} l S")
        else:
            _, x, y, size, text, anchor = it
            tw = _pdf_text_width(text, size)
            x0 = x - tw / 2 if anchor == "middle" else x - tw if anchor == "end" else x
            ops.append(f"0 g BT /F1 {size * k:.2f} Tf {P(x0, y)} Td ({_pdf_escape(text)}) Tj ET")
    return ops


def _pdf(pages: list[tuple[float, float, list[str]]]) -> bytes:
    """A PDF from (width_mm, height_mm, operators) pages."""
    objs: list[bytes] = []

    def add(b: bytes) -> int:
        objs.append(b)
        return len(objs)

    font = add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    pages_id = len(objs) + 1 + 2 * len(pages) + 1  # reserved below
    kids = []
    for w, h, ops in pages:
        data = zlib.compress("\n".join(ops).encode("latin-1"))
        content = add(b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(data) + data + b"\nendstream")
        kids.append(add(
            (f"<< /Type /Page /Parent {pages_id} 0 R /MediaBox [0 0 {w * PT_PER_MM:.2f} {h * PT_PER_MM:.2f}] "
             f"/Resources << /Font << /F1 {font} 0 R >> >> /Contents {content} 0 R >>").encode()
        ))
    add(f"<< /Type /Pages /Kids [{' '.join(f'{k} 0 R' for k in kids)}] /Count {len(kids)} >>".encode())
    catalog = add(f"<< /Type /Catalog /Pages {pages_id} 0 R >>".encode())
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, body in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, catalog, xref)
    return bytes(out)


def tiles(layout: MatLayout = MAT) -> list[tuple[int, int, float, float, float, float]]:
    """Tiled A4 (portrait): (row, column, x, y, w, h) windows of the sheet in page mm."""
    w, d = layout.width_m / MM, layout.depth_m / MM
    tw, th = A4_MM[0] - 2 * TILE_MARGIN_MM, A4_MM[1] - 2 * TILE_MARGIN_MM
    cols, rows = math.ceil(w / tw), math.ceil(d / th)
    return [(r, c, c * tw, r * th, min(tw, w - c * tw), min(th, d - r * th)) for r in range(rows) for c in range(cols)]


def to_pdf(layout: MatLayout = MAT, paper: str = "a1") -> bytes:
    """The mat as PDF: one A1 page (`paper="a1"`), or A4 pages (`"a4"`) each printing one window
    of the sheet with corner marks where the neighbouring pages butt (trim on the marks)."""
    w, d = layout.width_m / MM, layout.depth_m / MM
    items = drawing(layout)
    if paper == "a1":
        return _pdf([(w, d, _pdf_ops(items, d))])
    if paper != "a4":
        raise ValueError(f"paper must be 'a1' or 'a4', got {paper!r}")
    all_tiles = tiles(layout)
    n_rows = max(t[0] for t in all_tiles) + 1
    n_cols = max(t[1] for t in all_tiles) + 1
    pages = []
    m = TILE_MARGIN_MM
    for r, c, x, y, tw, th in all_tiles:
        pw, ph = A4_MM
        # clip to the window, then draw the sheet shifted so the window lands inside the margins
        ops = ["q", f"{m * PT_PER_MM:.2f} {(ph - m - th) * PT_PER_MM:.2f} {tw * PT_PER_MM:.2f} "
               f"{th * PT_PER_MM:.2f} re W n"]
        shifted = [_shift(it, m - x, m - y) for it in items]
        ops += _pdf_ops(shifted, ph)
        ops.append("Q")
        marks = []
        for cx_, cy_ in ((m, m), (m + tw, m), (m, m + th), (m + tw, m + th)):  # corner crosses
            marks += [("line", cx_ - 6, cy_, cx_ + 6, cy_, 0.0, 0.2), ("line", cx_, cy_ - 6, cx_, cy_ + 6, 0.0, 0.2)]
        label = (f"{layout.name} tile row {r + 1}/{n_rows}, column {c + 1}/{n_cols}: trim on the marks, "
                 f"butt to the neighbours, print at 100 %")
        marks.append(("text", m, ph - 4, 3.0, label, "start"))
        ops += _pdf_ops(marks, ph)
        pages.append((pw, ph, ops))
    return _pdf(pages)


def _shift(it, dx: float, dy: float):
    kind = it[0]
    if kind == "rect":
        return ("rect", it[1] + dx, it[2] + dy, *it[3:])
    if kind == "poly":
        return ("poly", [(x + dx, y + dy) for x, y in it[1]], *it[2:])
    if kind == "line":
        return ("line", it[1] + dx, it[2] + dy, it[3] + dx, it[4] + dy, *it[5:])
    return ("text", it[1] + dx, it[2] + dy, *it[3:])


def raster(layout: MatLayout = MAT, px_per_mm: float = 2.0) -> np.ndarray:
    """The printed sheet as a grey uint8 image (rows = page y, down), for previews and renderers."""
    import cv2

    w, d = layout.width_m / MM, layout.depth_m / MM
    img = np.full((int(round(d * px_per_mm)), int(round(w * px_per_mm))), 255, np.uint8)
    s = 16  # sub-pixel shift for the fills
    k = px_per_mm * s

    def fix(pts):
        return np.round(np.asarray(pts, float) * k).astype(np.int32).reshape(-1, 1, 2)

    for it in drawing(layout):
        kind = it[0]
        if kind == "rect":
            _, x, y, rw, rh, g = it
            pts = [(x, y), (x + rw, y), (x + rw, y + rh), (x, y + rh)]
            cv2.fillPoly(img, [fix(pts)], int(255 * g), cv2.LINE_AA, 4)
        elif kind == "poly":
            _, pts, fill, stroke = it
            if fill is not None:
                cv2.fillPoly(img, [fix(pts)], int(255 * fill), cv2.LINE_AA, 4)
            if stroke is not None:
                cv2.polylines(img, [fix(pts)], True, int(255 * stroke), max(1, int(0.8 * px_per_mm)), cv2.LINE_AA, 4)
        elif kind == "line":
            _, x1, y1, x2, y2, g, lw = it
            cv2.line(img, tuple(fix([(x1, y1)])[0, 0]), tuple(fix([(x2, y2)])[0, 0]), int(255 * g),
                     max(1, int(lw * px_per_mm)), cv2.LINE_AA, 4)
        else:
            _, x, y, size, text, anchor = it
            scale = size * px_per_mm / 22.0
            (tw, _), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
            x0 = x * px_per_mm - (tw / 2 if anchor == "middle" else tw if anchor == "end" else 0)
            cv2.putText(img, text, (int(x0), int(y * px_per_mm)), cv2.FONT_HERSHEY_SIMPLEX, scale, 0,
                        max(1, int(size * px_per_mm / 12)), cv2.LINE_AA)
    return img


# --- detection ----------------------------------------------------------------------------------


def _detector(layout: MatLayout):
    import cv2

    params = cv2.aruco.DetectorParameters()
    params.minMarkerPerimeterRate = 0.01  # small, far markers in a large still
    params.polygonalApproxAccuracyRate = 0.05
    params.cornerRefinementMethod = cv2.aruco.CORNER_REFINE_NONE  # refine_corners does it
    params.adaptiveThreshWinSizeMin = 5
    params.adaptiveThreshWinSizeMax = 35
    params.adaptiveThreshWinSizeStep = 6
    d = cv2.aruco.getPredefinedDictionary(getattr(cv2.aruco, layout.dictionary))
    return cv2.aruco.ArucoDetector(d, params)


def detect(image: np.ndarray, layout: MatLayout = MAT) -> dict[int, np.ndarray]:
    """The mat's markers in an RGB or grey uint8 image: id -> (4, 2) corner pixels, OpenCV's
    corner order. Ids that are not on the mat, and an id seen twice, are left out."""
    import cv2

    img = np.asarray(image)
    if img.dtype != np.uint8 or img.ndim not in (2, 3):
        raise MatError(f"expected a uint8 grey or RGB image, got {img.dtype} of shape {img.shape}")
    grey = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY) if img.ndim == 3 else img
    grey_f = grey.astype(np.float32)
    corners, ids, _ = _detector(layout).detectMarkers(grey)
    out: dict[int, np.ndarray] = {}
    seen_twice = set()
    if ids is None:
        return out
    for c, i in zip(corners, ids.ravel()):
        i = int(i)
        if i not in layout.markers:
            continue
        if i in out:
            seen_twice.add(i)
        out[i] = np.asarray(c, np.float64).reshape(4, 2)
    for i in seen_twice:
        del out[i]
    return {i: refine_corners(grey_f, c) for i, c in out.items()}


def _bilinear(img: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    h, w = img.shape
    x = np.clip(x, 0, w - 1.001)
    y = np.clip(y, 0, h - 1.001)
    x0, y0 = np.floor(x).astype(int), np.floor(y).astype(int)
    fx, fy = x - x0, y - y0
    a = img[y0, x0] * (1 - fx) + img[y0, x0 + 1] * fx
    b = img[y0 + 1, x0] * (1 - fx) + img[y0 + 1, x0 + 1] * fx
    return a * (1 - fy) + b * fy


def refine_corners(grey: np.ndarray, corners: np.ndarray, reach_px: float = 2.5) -> np.ndarray:
    """Corners as the intersections of the marker's four outer edges, each a line fitted to
    sub-pixel edge points sampled along the middle of the side. Seen at a grazing angle a marker
    is a thin rhombus whose acute corners a corner detector misplaces by pixels; its edges stay
    sharp. A side without enough clear edge points keeps the detector's corners."""
    c = np.asarray(corners, np.float64)
    centre = c.mean(0)
    steps = np.arange(-reach_px, reach_px + 1e-9, 0.2)
    lines = []
    for k in range(4):
        a, b = c[k], c[(k + 1) % 4]
        d = b - a
        length = float(np.linalg.norm(d))
        if length < 6:
            return c
        d /= length
        n = np.array([d[1], -d[0]])
        if n @ (a - centre) < 0:
            n = -n  # outward
        fr = np.linspace(0.2, 0.8, max(4, min(20, int(length / 2))))
        base = a[None] + np.outer(fr * length, d)  # (m, 2)
        px = base[:, None, 0] + steps[None] * n[0]
        py = base[:, None, 1] + steps[None] * n[1]
        prof = _bilinear(grey, px, py)  # (m, s): inside (dark) -> outside (bright)
        lo, hi = prof.min(1, keepdims=True), prof.max(1, keepdims=True)
        mid = (lo + hi) / 2
        pts = []
        for j in range(len(fr)):
            if hi[j, 0] - lo[j, 0] < 20:
                continue
            p = prof[j]
            up = np.nonzero((p[:-1] < mid[j, 0]) & (p[1:] >= mid[j, 0]))[0]
            if len(up) == 0:
                continue
            i = up[np.argmin(np.abs(steps[up]))]
            s = steps[i] + 0.2 * (mid[j, 0] - p[i]) / (p[i + 1] - p[i])
            pts.append(base[j] + s * n)
        if len(pts) < 3:
            return c
        pts = np.asarray(pts)
        m = pts.mean(0)
        _, _, vt = np.linalg.svd(pts - m)
        lines.append((m, vt[0]))
    out = np.empty_like(c)
    for k in range(4):  # corner k lies on side k-1 (ends at it) and side k (starts at it)
        (p1, d1), (p2, d2) = lines[k - 1], lines[k]
        A = np.column_stack([d1, -d2])
        if abs(np.linalg.det(A)) < 1e-6:
            return c
        s1, _ = np.linalg.solve(A, p2 - p1)
        out[k] = p1 + s1 * d1
    if np.max(np.linalg.norm(out - c, axis=1)) > 3 * reach_px:
        return c
    return out


# --- pose ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PoseFit:
    camera: Camera
    markers: tuple[int, ...]  # ids used
    rms_px: float  # reprojection error of the corners, pixels
    focal_model: float  # the camera model's focal length (pixels)
    focal_refined: bool  # True when the fit's focal length replaced the model's

    @property
    def focal_change(self) -> float:
        """Fitted focal length relative to the model's (0.02 = 2 % longer)."""
        return self.camera.intrinsics.f / self.focal_model - 1.0


def _points(detections: dict[int, np.ndarray], layout: MatLayout):
    ids = tuple(sorted(detections))
    obj = np.concatenate([layout.marker_corners(i) for i in ids])
    img = np.concatenate([detections[i] for i in ids])
    return ids, obj, img


def _pnp(obj, img, K):
    """Pose (R, t) and RMS reprojection error for fixed intrinsics: IPPE (both planar solutions),
    the one with the camera above the floor and the lower error, then Levenberg-Marquardt."""
    import cv2

    best = None
    n, rvecs, tvecs, _ = cv2.solvePnPGeneric(obj, img, K, None, flags=cv2.SOLVEPNP_IPPE)
    for rvec, tvec in zip(rvecs, tvecs):
        rvec, tvec = cv2.solvePnPRefineLM(obj, img, K, None, rvec.copy(), tvec.copy())
        R, _ = cv2.Rodrigues(rvec)
        t = tvec.ravel()
        if (-R.T @ t)[2] <= 0:  # below the floor: the mirror solution
            continue
        proj, _ = cv2.projectPoints(obj, rvec, tvec, K, None)
        rms = float(np.sqrt(np.mean(np.sum((proj.reshape(-1, 2) - img) ** 2, axis=1))))
        if best is None or rms < best[2]:
            best = (R, t, rms)
    return best


def _with_f(k: Intrinsics, f: float) -> Intrinsics:
    return Intrinsics(k.width, k.height, float(f), k.cx, k.cy)


def solve_pose(detections: dict[int, np.ndarray], intrinsics: Intrinsics, *, view: str = "camera",
               refine_focal: bool = True, layout: MatLayout = MAT) -> PoseFit:
    """The camera's pose in the mat's frame from its detected markers (`detect`).

    The focal length starts from the camera model (`intrinsics`); with `refine_focal` a 1-D search
    (golden section on log f) within +-LIMITS["focal_search"] takes the focal length that best
    explains the corners given a prior around the model's (LIMITS "corner_sigma_px",
    "focal_sigma"): a real module's focal length differs from the nominal by a few percent, and
    3 % off puts the camera about 10 cm too near or far; where the view says little about the
    focal length (few markers, some oblique views) the prior keeps it near the model's. Raises
    MatError in plain words when the mat cannot give a pose."""
    n = len(detections)
    if n < LIMITS["min_markers"]:
        what = "no markers" if n == 0 else f"only {n} marker{'s' if n > 1 else ''}"
        raise MatError(f"the {view} sees {what} of the mat (needs {LIMITS['min_markers']}): move or aim it "
                       "so the whole mat is in view, clear the mat, and light it evenly")
    ids, obj, img = _points(detections, layout)
    f0 = intrinsics.f
    fit0 = _pnp(obj, img, intrinsics.K)
    if fit0 is None:
        raise MatError(f"the {view}: the markers give no pose with the camera above the floor")
    best_f, best = f0, fit0
    refined = False
    if refine_focal:
        lo, hi = math.log(f0 * (1 - LIMITS["focal_search"])), math.log(f0 * (1 + LIMITS["focal_search"]))
        g = (math.sqrt(5) - 1) / 2

        n_pts = len(obj)
        log_f0 = math.log(f0)

        def err(logf):
            r = _pnp(obj, img, _with_f(intrinsics, math.exp(logf)).K)
            if r is None:
                return float("inf"), r
            data = n_pts * r[2] ** 2 / LIMITS["corner_sigma_px"] ** 2
            return data + ((logf - log_f0) / LIMITS["focal_sigma"]) ** 2, r

        a, b = lo, hi
        c, d = b - g * (b - a), a + g * (b - a)
        ec, ed = err(c), err(d)
        for _ in range(30):
            if ec[0] < ed[0]:
                b, d, ed = d, c, ec
                c = b - g * (b - a)
                ec = err(c)
            else:
                a, c, ec = c, d, ed
                d = a + g * (b - a)
                ed = err(d)
        logf, (e, r) = (c, ec) if ec[0] < ed[0] else (d, ed)
        if min(logf - lo, hi - logf) < 0.002:
            raise MatError(f"the {view}: the mat says its focal length is more than "
                           f"{100 * LIMITS['focal_search']:.0f} % off the camera model "
                           f"({intrinsics.hfov_deg:.1f} degree field of view): set the right camera "
                           "module or hfov in the config")
        if r is not None:
            best_f, best, refined = math.exp(logf), r, True
    R, t, rms = best
    if rms > LIMITS["max_rms_px"]:
        raise MatError(f"the {view}: the markers do not fit a flat mat (error {rms:.1f} px): flatten the mat, "
                       "check it is the station's mat printed at 100 %, and check the camera model (hfov)")
    cam = Camera(_with_f(intrinsics, best_f), R, t)
    return PoseFit(cam, ids, rms, f0, refined)


def reprojection(camera: Camera, detections: dict[int, np.ndarray], layout: MatLayout = MAT) -> dict[int, float]:
    """Per marker: mean distance (pixels) between its detected corners and where `camera` puts them."""
    out = {}
    for i, c in detections.items():
        if i in layout.markers:
            out[i] = float(np.mean(np.linalg.norm(camera.project(layout.marker_corners(i)) - c, axis=1)))
    return out
