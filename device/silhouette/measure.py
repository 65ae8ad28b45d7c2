"""Measurements on one silhouette with its keypoints: foot direction, heel height, back curve.

Each function takes a bool mask `(H, W)` and COCO-17 keypoints `(17, 3)` in the same pixels and
returns a plain number (or a small tuple), or None when this frame cannot show it. Comparing a
rep's bottom with the person's own standing frames is `device.silhouette.refine`'s job.

Pixel geometry used:
- front view, foot: the silhouette below the ankle (skipping the ankle itself), between the
  midline of the two ankles and well outside the ankle. Its lowest half is the forefoot (the
  toes are nearest the camera, so lowest in the image), its top quarter the heel and ankle. The
  forefoot centroid's sideways offset from the top part, outwards positive, moves out when the
  foot turns out and in when it turns in.
- side view, heel: the floor line is the lowest silhouette row under the feet when standing; the
  heel columns are just in front of the heel's back edge. The heel height is how far the lowest
  silhouette pixel in those columns sits above the standing floor line.
- side view, back: the back edge of the silhouette sampled along the hip-shoulder line (from
  20 % to 75 % of the way up, away from the buttocks and the shoulder blades and arms), as the
  distance behind that line; a parabola fitted to it gives how many degrees the contour turns
  (convex backwards positive: rounding).
"""

from __future__ import annotations

import math

import cv2
import numpy as np

MIN_SCORE = 0.2
L_HIP, R_HIP, L_SHO, R_SHO = 11, 12, 5, 6
L_KNEE, R_KNEE, L_ANK, R_ANK = 13, 14, 15, 16
L_ELB, R_ELB, L_WRI, R_WRI = 7, 8, 9, 10

BACK_SPAN = (0.20, 0.75)


def _mean_pt(kps: np.ndarray, idx) -> np.ndarray | None:
    """Score-weighted mean of keypoints (x, y), or None if none is confident."""
    rows = kps[list(idx)]
    ok = rows[:, 2] >= MIN_SCORE
    if not ok.any():
        return None
    w = rows[ok, 2]
    return (rows[ok, :2] * w[:, None]).sum(0) / w.sum()


def shank_px(kps: np.ndarray) -> float | None:
    vals = [float(np.linalg.norm(kps[k, :2] - kps[a, :2]))
            for k, a in ((L_KNEE, L_ANK), (R_KNEE, R_ANK)) if min(kps[k, 2], kps[a, 2]) >= MIN_SCORE]
    return max(vals) if vals else None


# --- front view: feet --------------------------------------------------------------------------


def forefoot_offset(mask: np.ndarray, kps: np.ndarray, ankle: int, shank: float,
                    valid: np.ndarray | None = None) -> float | None:
    """Outward offset (pixels) of the forefoot centroid from the ankle; None if not visible."""
    other = R_ANK if ankle == L_ANK else L_ANK
    if min(kps[ankle, 2], kps[other, 2]) < MIN_SCORE:
        return None
    ax, ay = kps[ankle, :2]
    mid = (ax + kps[other, 0]) / 2
    out = 1.0 if ax >= mid else -1.0
    h, w = mask.shape
    y0, y1 = int(round(ay + 0.13 * shank)), int(round(ay + 0.6 * shank))
    xa = mid + out * 0.08 * abs(ax - mid)  # keep clear of the other foot
    xb = ax + out * 0.7 * shank
    x0, x1 = int(round(min(xa, xb))), int(round(max(xa, xb)))
    y0, y1, x0, x1 = max(y0, 0), min(y1, h), max(x0, 0), min(x1, w)
    if y1 - y0 < 3 or x1 - x0 < 3:
        return None
    if valid is not None and valid[y0:y1, x0:x1].mean() < 0.98:
        return None  # the empty scene under this foot is not known
    ys, xs = np.nonzero(mask[y0:y1, x0:x1])
    if len(ys) < max(12, 0.004 * shank * shank):
        return None
    if ys.max() >= y1 - y0 - 1 or (xs.min() == 0 and out < 0 and x0 > 0) or (xs.max() == x1 - x0 - 1 and out > 0):
        # the blob runs out of the search box: not a foot on the floor (or a leg, a bag)
        return None
    # forefoot (lowest half of the rows) against the top rows (heel and ankle, which stay put
    # when the foot turns about the leg): both from the silhouette, free of keypoint jitter
    low = ys >= np.median(ys)
    top = ys <= np.percentile(ys, 25)
    return float((xs[low].mean() - xs[top].mean()) * out)


# --- side view: heels ---------------------------------------------------------------------------


def facing(kps_bottom: np.ndarray) -> float | None:
    """+1 if the person faces image right, -1 if left (knees ahead of hips at a squat's bottom)."""
    knee, hip = _mean_pt(kps_bottom, (L_KNEE, R_KNEE)), _mean_pt(kps_bottom, (L_HIP, R_HIP))
    if knee is None or hip is None or abs(knee[0] - hip[0]) < 3:
        return None
    return 1.0 if knee[0] > hip[0] else -1.0


def foot_floor(mask: np.ndarray, kps: np.ndarray, shank: float, face: float,
               valid: np.ndarray | None = None):
    """Standing: (floor row, heel columns) of the feet; None if the feet are not clear."""
    ankle = _mean_pt(kps, (L_ANK, R_ANK))
    if ankle is None:
        return None
    ax, ay = ankle
    h, w = mask.shape
    xa, xb = int(round(ax - 0.5 * shank)), int(round(ax + 0.5 * shank))
    xa, xb = max(xa, 0), min(xb, w)
    ya, yb = int(round(ay)), min(int(round(ay + 0.5 * shank)), h)
    band = mask[ya:yb, xa:xb]
    if valid is not None and valid[ya:yb, xa:xb].mean() < 0.98:
        return None  # the empty scene around the feet is not known
    if band.size == 0 or not band.any():
        return None
    rows = np.nonzero(band.any(1))[0]
    if rows.max() >= band.shape[0] - 1:
        return None  # the silhouette runs on below: no floor contact seen
    floor = ya + int(rows.max())
    # the heel's back edge: the backmost silhouette column just above the floor
    low = mask[max(floor - int(0.12 * shank), 0):floor + 1, xa:xb]
    cols = np.nonzero(low.any(0))[0]
    if len(cols) == 0:
        return None
    back = xa + (cols.min() if face > 0 else cols.max())
    c0, c1 = back + face * 0.03 * shank, back + face * 0.12 * shank
    heel_cols = np.arange(int(round(min(c0, c1))), int(round(max(c0, c1))) + 1)
    heel_cols = heel_cols[(heel_cols >= 0) & (heel_cols < w)]
    if len(heel_cols) < 2:
        return None
    return floor, heel_cols


def heel_bottom(mask: np.ndarray, cols: np.ndarray, floor: int, shank: float) -> float | None:
    """Median lowest silhouette row in the heel columns (searching up to 0.4 shank above the
    floor line), or None when most columns show no heel."""
    h = mask.shape[0]
    top = max(int(floor - 0.4 * shank), 0)
    sub = mask[top:min(floor + int(0.1 * shank) + 2, h)][:, cols]
    lows = []
    for j in range(sub.shape[1]):
        r = np.nonzero(sub[:, j])[0]
        if len(r):
            lows.append(top + r.max())
    if len(lows) < 0.6 * len(cols):
        return None
    return float(np.median(lows))


# --- side view: low back ------------------------------------------------------------------------


PROFILE_U = np.linspace(0.0, 1.0, 41)  # where the back edge is sampled, hip (0) to shoulder (1)
MAX_SHIFT = 0.08  # how far (trunk lengths) the keypoints may slide along the back between frames


def back_profile(mask: np.ndarray, kps: np.ndarray, face: float, valid: np.ndarray | None = None):
    """(distances, reason): the back edge behind the hip-shoulder line at `PROFILE_U`.

    Distances are shares of the trunk length, NaN where no edge was found in known background.
    None with a reason when the frame cannot show the back (no hips/shoulders, arms in the way).
    """
    hip, sho = _mean_pt(kps, (L_HIP, R_HIP)), _mean_pt(kps, (L_SHO, R_SHO))
    if hip is None or sho is None:
        return None, "hips or shoulders not found"
    axis = sho - hip
    length = float(np.linalg.norm(axis))
    if length < 20:
        return None, "trunk too small in the image"
    u = axis / length
    n = np.array([u[1], -u[0]])  # one normal; make it point backwards (away from the face)
    if n[0] * face > 0:
        n = -n
    # arms in the way: an elbow or wrist behind the trunk line, alongside the measured span
    arm = False
    for j in (L_ELB, R_ELB, L_WRI, R_WRI):
        if kps[j, 2] < MIN_SCORE:
            continue
        rel = kps[j, :2] - hip
        along, behind = float(rel @ u) / length, float(rel @ n) / length
        arm |= 0.05 < along < 0.9 and 0.0 < behind < 0.5
    h, w = mask.shape
    box = np.array([hip, sho, hip + 0.6 * length * n, sho + 0.6 * length * n])
    x0, y0 = np.floor(box.min(0)).astype(int) - 3
    x1, y1 = np.ceil(box.max(0)).astype(int) + 4
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    soft = cv2.GaussianBlur(mask[y0:y1, x0:x1].astype(np.float32), (0, 0), 1.0)
    steps = np.arange(0.0, 0.6 * length, 0.5)
    ds = np.full(len(PROFILE_U), np.nan)
    for i, a in enumerate(PROFILE_U):
        line = (hip + a * axis)[None, :] + steps[:, None] * n[None, :]
        xi, yi = line[:, 0], line[:, 1]
        if not ((xi >= 0) & (xi < w - 1) & (yi >= 0) & (yi < h - 1)).all():
            continue
        vals = cv2.remap(soft, (xi - x0).astype(np.float32)[None, :], (yi - y0).astype(np.float32)[None, :],
                         cv2.INTER_LINEAR, borderValue=0.0)[0]
        if vals[0] < 0.5:
            continue  # the trunk line is not inside the silhouette here
        below = np.nonzero(vals < 0.5)[0]
        if len(below) == 0:
            continue  # no edge within reach
        k = below[0]
        if valid is not None:
            # both sides of the edge must be seen against a known empty scene; an edge at the
            # border of the unknown area is where the person always was, not where they are
            ins = max(k - 4, 0)
            out = min(k + 3, len(steps) - 1)
            if not (valid[int(round(yi[ins])), int(round(xi[ins]))] and valid[int(round(yi[out])), int(round(xi[out]))]
                    and valid[int(round(yi[k])), int(round(xi[k]))]):
                continue
        frac = (vals[k - 1] - 0.5) / max(vals[k - 1] - vals[k], 1e-6)
        ds[i] = (steps[k - 1] + frac * (steps[k] - steps[k - 1])) / length
    span = (PROFILE_U >= BACK_SPAN[0] - 1e-9) & (PROFILE_U <= BACK_SPAN[1] + 1e-9)
    why = []
    if np.isfinite(ds[span]).sum() < 0.75 * span.sum():
        why.append("back contour broken (background unknown there, or clothing like it)")
    if arm:
        why.append("an arm is behind the back")
    return (None, " and ".join(why)) if why else (ds, None)


def bend_change(profile: np.ndarray, reference: np.ndarray):
    """(degrees, residual) the back contour turned from `reference` (standing) to `profile`.

    The keypoints sit a little differently on the body from frame to frame, so the standing
    contour is first slid along the back (up to MAX_SHIFT) to where it matches best; what is
    left, less a straight line (a lean or offset), is fitted by a parabola whose slope change
    over the span is the bend: > 0 rounder, < 0 more arched. The residual (share of the trunk
    length) says how well the two contours match apart from that bend.
    """
    span = (PROFILE_U >= BACK_SPAN[0] - 1e-9) & (PROFILE_U <= BACK_SPAN[1] + 1e-9)
    u = PROFILE_U[span]
    ref_ok = np.isfinite(reference)
    best = None
    for shift in np.arange(-MAX_SHIFT, MAX_SHIFT + 1e-9, 0.01):
        ref = np.interp(u + shift, PROFILE_U[ref_ok], reference[ref_ok], left=np.nan, right=np.nan)
        diff = profile[span] - ref
        ok = np.isfinite(diff)
        if ok.sum() < 0.75 * len(u):
            continue
        x = u[ok] - u.mean()
        coef = np.polyfit(x, diff[ok], 2)
        resid = float(np.sqrt(np.mean((np.polyval(coef, x) - diff[ok]) ** 2)))
        if best is None or resid < best[1]:
            best = (coef[0], resid)
    if best is None:
        return None, None
    bend = -2.0 * best[0] * (BACK_SPAN[1] - BACK_SPAN[0])  # change of slope across the span, radians
    return math.degrees(bend), best[1]


def profile_bend(ds: np.ndarray):
    """(bend degrees, residual) of one back profile on its own: the parabola through the span,
    > 0 convex backwards. Upright in fitted clothes the low back's hollow makes it negative."""
    span = (PROFILE_U >= BACK_SPAN[0] - 1e-9) & (PROFILE_U <= BACK_SPAN[1] + 1e-9)
    u, d = PROFILE_U[span], ds[span]
    ok = np.isfinite(d)
    x = u[ok] - u.mean()
    coef = np.polyfit(x, d[ok], 2)
    resid = float(np.sqrt(np.mean((np.polyval(coef, x) - d[ok]) ** 2)))
    bend = -2.0 * coef[0] * (BACK_SPAN[1] - BACK_SPAN[0])
    return math.degrees(bend), resid


def back_curve(mask: np.ndarray, kps: np.ndarray, face: float, valid: np.ndarray | None = None):
    """(bend degrees, fit residual, reason) of one frame's back contour on its own."""
    ds, why = back_profile(mask, kps, face, valid)
    if ds is None:
        return None, None, why
    return (*profile_bend(ds), None)
