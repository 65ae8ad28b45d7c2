"""The person's silhouette in one frame: background subtraction, shadow and noise clean-up.

    mask = person_mask(rgb, background, keypoints, valid=None)   # bool (H, W)

Steps: the background is scaled to the frame's overall brightness (lighting drifts between the
idle scene and the squat), measured on pixels the keypoints put far from the person; a pixel
is foreground when its colour differs from the background by several times the frame's own
noise level; darker pixels of the same colour (cast shadows, the contact shadow under a foot)
are not; opening and closing remove speckle and close small gaps; only components near the
keypoint body region are kept, the largest and those touching it; holes are filled.
"""

from __future__ import annotations

import cv2
import numpy as np

from device.silhouette.background import body_region, body_scale

MIN_DIFF = 22.0  # grey levels of colour distance: never count less as foreground
NOISE_K = 5.0  # foreground beyond this many noise sigmas
SHADOW_RATIO = (0.40, 0.96)  # brightness of a shadow relative to the background
SHADOW_CHROMA = 0.045  # max chromaticity distance of a shadow from the background


def person_mask(rgb: np.ndarray, background: np.ndarray, kps: np.ndarray,
                valid: np.ndarray | None = None) -> np.ndarray:
    """bool (H, W): the person in `rgb` against `background`; `valid` marks known background."""
    H, W = rgb.shape[:2]
    out = np.zeros((H, W), bool)
    wide = body_region(kps, (H, W), grow=2.2)
    ys, xs = np.nonzero(wide.any(1))[0], np.nonzero(wide.any(0))[0]
    if len(ys) == 0:
        return out
    y0, y1, x0, x1 = ys[0], ys[-1] + 1, xs[0], xs[-1] + 1  # work on the person's box only
    crop = kps.copy()
    crop[:, 0] -= x0
    crop[:, 1] -= y0
    out[y0:y1, x0:x1] = _mask(rgb[y0:y1, x0:x1], background[y0:y1, x0:x1], crop,
                              None if valid is None else valid[y0:y1, x0:x1])
    return out


def _mask(rgb, background, kps, valid):
    h, w = rgb.shape[:2]
    f0, f1, f2 = (rgb[..., i].astype(np.float32) for i in range(3))  # per channel: numpy's
    b0, b1, b2 = (background[..., i].astype(np.float32) for i in range(3))  # axis-2 sums are slow
    near = body_region(kps, (h, w), grow=1.0) > 0
    far = body_region(kps, (h, w), grow=1.6) == 0
    if valid is not None:
        far &= valid
    n_far = int(np.count_nonzero(far))
    fs, bs = f0 + f1 + f2, b0 + b1 + b2 + 1.0
    if n_far > 500:
        gain = float(np.median(fs[far][::5] / bs[far][::5]))  # every 5th: plenty for a median
        if 0.5 < gain < 2.0:
            b0, b1, b2 = b0 * gain, b1 * gain, b2 * gain
            bs = b0 + b1 + b2 + 1.0
    diff = np.sqrt((f0 - b0) ** 2 + (f1 - b1) ** 2 + (f2 - b2) ** 2)
    noise = float(np.median(diff[far][::5])) / 1.54 if n_far > 500 else MIN_DIFF / NOISE_K  # ~sigma
    fg = diff > max(MIN_DIFF, NOISE_K * noise)
    # shadows: darker, same chromaticity
    ratio = fs / bs
    fn, bn = 1.0 / (fs + 1.0), 1.0 / bs
    chroma = np.abs(f0 * fn - b0 * bn) + np.abs(f1 * fn - b1 * bn) + np.abs(f2 * fn - b2 * bn)
    shadow = (ratio > SHADOW_RATIO[0]) & (ratio < SHADOW_RATIO[1]) & (chroma < SHADOW_CHROMA)
    fg &= ~shadow
    fg &= near
    if valid is not None:
        # where the background is unknown (the person stood there in almost every frame) the
        # pixel counts as the person; measurements check that the edges they use are known
        fg |= near & ~valid
    m = fg.astype(np.uint8) * 255
    scale = max(body_scale(kps), 20.0)
    k_open = max(3, int(scale * 0.02) | 1)
    k_close = max(5, int(scale * 0.06) | 1)
    m = cv2.morphologyEx(m, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k_open, k_open)))
    m = cv2.morphologyEx(m, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k_close, k_close)))
    n, labels, stats, _ = cv2.connectedComponentsWithStats(m, connectivity=8)
    if n <= 1:
        return np.zeros((h, w), bool)
    areas = stats[1:, cv2.CC_STAT_AREA]
    core = body_region(kps, (h, w), grow=0.4) > 0
    keep = np.zeros(n, bool)
    largest = 1 + int(np.argmax(areas))
    keep[largest] = True
    touching = np.bincount(labels[core], minlength=n) > 0
    touching[0] = False
    keep |= touching & (stats[:, cv2.CC_STAT_AREA] >= 0.02 * areas.max())
    m = (keep[labels]).astype(np.uint8) * 255
    contours, _ = cv2.findContours(m, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    filled = np.zeros_like(m)
    cv2.drawContours(filled, contours, -1, 255, -1)
    return filled > 0
