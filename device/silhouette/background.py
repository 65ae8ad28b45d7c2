"""Background models of the fixed cameras, and the body region the keypoints outline.

Two ways to know the empty scene:

- `BackgroundModel`: the station's live model, one per camera. While nobody stands on the spot
  the station feeds it frames (`update(rgb)`); it keeps a running weighted average, so lighting
  that drifts over a day is followed. It must only be fed frames with nobody in view (idle
  state, no confident keypoints), which is the caller's promise.
- `median_background(images, keypoints)`: for a recording with no empty frame, a temporal median
  where each pixel only counts frames in which the keypoints put the person well away from it.
  Pixels the person covered in (nearly) every frame stay unknown (`valid` False): nothing honest
  can be said there, and measurements that need them are not made.

All images here are RGB uint8 `(H, W, 3)`; keypoints are COCO-17 `(17, 3)` (x, y, score) in the
same pixels.
"""

from __future__ import annotations

import cv2
import numpy as np

MIN_SCORE = 0.2  # keypoints below this score do not shape the body region

# limbs of the keypoint body outline (COCO-17 indices)
_LIMBS = ((5, 7), (7, 9), (6, 8), (8, 10), (11, 13), (13, 15), (12, 14), (14, 16), (5, 6), (11, 12))
_TRUNK = (5, 6, 12, 11)


def body_scale(kps: np.ndarray) -> float:
    """A length in pixels that sizes the body: the larger of trunk length and 1.2 x shank."""
    ok = kps[:, 2] >= MIN_SCORE
    trunk = shank = 0.0
    if ok[[5, 6, 11, 12]].any() and ok[[5, 6]].any() and ok[[11, 12]].any():
        sh = kps[[i for i in (5, 6) if ok[i]], :2].mean(0)
        hp = kps[[i for i in (11, 12) if ok[i]], :2].mean(0)
        trunk = float(np.linalg.norm(sh - hp))
    for k, a in ((13, 15), (14, 16)):
        if ok[k] and ok[a]:
            shank = max(shank, float(np.linalg.norm(kps[k, :2] - kps[a, :2])))
    return max(trunk, 1.2 * shank)


def body_region(kps: np.ndarray, shape: tuple[int, int], grow: float = 1.0) -> np.ndarray:
    """uint8 mask (0/255) of where the person can be: generous capsules around the keypoints,
    a box below each ankle for the foot. `grow` scales the margins."""
    h, w = shape
    out = np.zeros((h, w), np.uint8)
    scale = body_scale(kps)
    if scale <= 0:
        return out
    ok = kps[:, 2] >= MIN_SCORE
    p = kps[:, :2]
    r = max(int(0.22 * scale * grow), 2)
    for a, b in _LIMBS:
        if ok[a] and ok[b]:
            cv2.line(out, _pt(p[a]), _pt(p[b]), 255, 2 * r)
    trunk = [p[i] for i in _TRUNK if ok[i]]
    if len(trunk) >= 3:
        cv2.fillConvexPoly(out, np.round(np.array(trunk)).astype(np.int32), 255)
        cv2.polylines(out, [np.round(np.array(trunk)).astype(np.int32)], True, 255, 2 * int(0.3 * scale * grow))
    head = [p[i] for i in range(5) if ok[i]]
    if head:
        c = np.mean(head, axis=0)
        cv2.circle(out, _pt(c), int(0.45 * scale * grow), 255, -1)
    for a in (15, 16):
        if ok[a]:
            x, y = p[a]
            half = 0.6 * scale * grow
            cv2.rectangle(out, _pt((x - half, y - 0.2 * scale)), _pt((x + half, y + 0.55 * scale * grow)), 255, -1)
    for i in range(17):
        if ok[i]:
            cv2.circle(out, _pt(p[i]), r, 255, -1)
    return out


def _pt(xy) -> tuple[int, int]:
    return int(round(float(xy[0]))), int(round(float(xy[1])))


class BackgroundModel:
    """Running weighted average of one camera's empty scene (feed only frames with nobody in view).

        model = BackgroundModel()
        model.update(rgb)            # while idle, every few frames; False if the frame was skipped
        model.ready, model.image     # uint8 RGB once it has seen `min_frames`

    Slow lighting drift is followed. A frame that differs from the model over a large area
    (someone walking past whom the pose model missed) is skipped; if such frames keep coming
    (lights switched, a bench moved), the model starts again from the new scene.
    """

    CHANGE_LEVEL = 40  # grey levels: a pixel this far from the model has changed
    CHANGE_SHARE = 0.03  # a frame with more than this share of changed pixels is skipped
    RELEARN_AFTER = 30  # ... unless this many come in a row: then the scene itself changed

    def __init__(self, alpha: float = 0.05, min_frames: int = 5):
        self.alpha = alpha  # weight of a new frame once warmed up (~20-frame memory)
        self.min_frames = min_frames
        self.count = 0
        self.skipped = 0  # frames skipped in a row
        self._mean: np.ndarray | None = None

    def update(self, rgb: np.ndarray) -> bool:
        frame = rgb.astype(np.float32)
        if self._mean is None or self._mean.shape != frame.shape:
            self._mean, self.count, self.skipped = frame, 1, 0  # a new size starts over
            return True
        if self.ready:
            diff = cv2.absdiff(rgb, self.image)
            changed = (diff.max(axis=2) if diff.ndim == 3 else diff) > self.CHANGE_LEVEL
            if changed.mean() > self.CHANGE_SHARE:
                self.skipped += 1
                if self.skipped < self.RELEARN_AFTER:
                    return False
                self._mean, self.count, self.skipped = frame, 1, 0
                return True
        self.skipped = 0
        self.count += 1
        a = max(self.alpha, 1.0 / self.count)  # a plain mean while warming up
        cv2.accumulateWeighted(frame, self._mean, a)
        return True

    @property
    def ready(self) -> bool:
        return self._mean is not None and self.count >= self.min_frames

    @property
    def image(self) -> np.ndarray | None:
        if self._mean is None:
            return None
        return np.clip(self._mean + 0.5, 0, 255).astype(np.uint8)

    def reset(self) -> None:
        self._mean, self.count, self.skipped = None, 0, 0


def median_background(images: list[np.ndarray], keypoints: list[np.ndarray],
                      min_share: float = 0.2) -> tuple[np.ndarray, np.ndarray]:
    """(background RGB uint8, valid bool mask) from frames of a person who moves.

    A pixel's background is the median over the frames whose (generous) keypoint body region
    leaves it free; it is valid when at least `min_share` of the frames (and 3) left it free.
    """
    if not images:
        raise ValueError("median_background needs at least one frame")
    h, w = images[0].shape[:2]
    stack = np.stack(images).astype(np.uint8)  # (K, H, W, 3)
    covered = np.stack([body_region(k, (h, w), grow=1.5) > 0 for k in keypoints])  # (K, H, W)
    free = ~covered
    n_free = free.sum(0)
    # Masked median without NaNs: a covered sample is replaced by 0 and 255 in turn, which leaves
    # the middle of the sorted samples among the free ones (within half a rank).
    turn = np.cumsum(covered, axis=0) % 2 == 1
    filler = np.where(turn, 0, 255).astype(np.uint8)[..., None]
    stack = np.where(covered[..., None], filler, stack)
    bg = np.median(stack, axis=0).astype(np.uint8)
    valid = n_free >= max(3, int(np.ceil(min_share * len(images))))
    return bg, valid
