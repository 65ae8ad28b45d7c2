"""Test doubles and data for the web tests: a StationControl double, a result, real stills.

No tests here; test_web*.py and test_browser.py import these.
"""

from __future__ import annotations

import copy
import threading

import cv2

from device import paths
from device.vocabulary import COMPENSATIONS, FORMAT_RESULT, REGION_IDS

FRONT_VIDEO = paths.SHARED_DIR / "data" / "tfjs-pose-detection" / "pose_squats.mp4"  # front view, fast to open
SIDE_VIDEO = paths.SHARED_DIR / "data" / "side-back-squat" / "squat.mp4"  # a true side view

# Values as the rules layer reports them (contract keys plus confidence and severity).
_MEASURED = {
    "knees_cave_in": dict(status="present", reps_flagged=4, side="left", value=0.71, unit="knee/ankle width ratio",
                          threshold=0.85, confidence=0.8, severity="moderate",
                          rep_values=[0.66, 0.7, 0.71, 0.74, 0.9]),
    "excessive_forward_lean": dict(status="present", reps_flagged=3, side=None, value=38.0, unit="deg",
                                   threshold=30.0, confidence=0.7, severity="mild",
                                   rep_values=[36.0, 38.0, 41.5, 29.0, 33.0]),
    "arms_fall_forward": dict(status="absent", reps_flagged=0, side=None, value=12.0, unit="deg",
                              threshold=20.0, confidence=0.75, severity="none"),
    "feet_flatten": dict(status="not_assessed", reps_flagged=0, side=None, value=None, unit="",
                         threshold=None, confidence=0.0, severity="none",
                         reason="the feet are too small in the front image to see the arch"),
}


def sample_result(**changes) -> dict:
    """A full ohsa-result/1: every compensation listed, some present, one not assessed."""
    comps = {}
    for cid in COMPENSATIONS:
        entry = dict(status="absent", reps_flagged=0, side=None, value=0.1, unit="ratio",
                     threshold=0.3, confidence=0.9, severity="none")
        entry.update(copy.deepcopy(_MEASURED.get(cid, {})))
        comps[cid] = entry
    for cid, entry in changes.items():
        comps[cid].update(entry)
    return {
        "format": FORMAT_RESULT,
        "reps": 5,
        "compensations": comps,
        "views": {"front": {"status": "ok", "reason": ""}, "side": {"status": "ok", "reason": "", "near_side": "left"}},
        "rep_windows": [{"start": 1.0 + 2 * i, "bottom": 1.8 + 2 * i, "end": 2.7 + 2 * i} for i in range(5)],
        "worst_rep": 1,
    }


_stills: dict[str, bytes] = {}


def stills() -> dict[str, bytes]:
    """One real JPEG still per view from the shared squat recordings (480 px wide)."""
    if not _stills:
        for view, path in (("front", FRONT_VIDEO), ("side", SIDE_VIDEO)):
            capture = cv2.VideoCapture(str(path))  # one frame is enough; OpenCV applies the rotation
            ok, bgr = capture.read()
            capture.release()
            assert ok, f"{path}: cannot read a frame"
            rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            h, w = rgb.shape[:2]
            small = cv2.resize(rgb, (480, round(480 * h / w)), interpolation=cv2.INTER_AREA)
            ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(small, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 80])
            assert ok
            _stills[view] = jpeg.tobytes()
    return dict(_stills)


class FakeStation:
    """A StationControl double: records calls, changes state like the station would."""

    def __init__(self, state: str = "idle"):
        self.calls: list[str] = []
        self._cond = threading.Condition()
        self._version = 1
        self._state = {
            "state": state,
            "message": "Step onto the mat and press the big button.",
            "reps": 0,
            "countdown": None,
            "assessment_id": None,
            "panel": {"mock": True, "status": "ready", "regions": {r: False for r in REGION_IDS},
                      "button_pressed": False, "buzzer": False},
            "cameras": {"front": {"status": "online", "reason": "", "fps": 29.8},
                        "side": {"status": "offline", "reason": "no frame for 3 s", "fps": 0.0}},
            "safe_mode": None,
            "retests": [],
        }
        self.preview = None

    def state(self) -> dict:
        with self._cond:
            return copy.deepcopy(self._state)

    def stats(self) -> dict:
        return {"inference_ms": 2.6, "state": self._state["state"], "uptime_s": 42.0,
                "cameras": {"front": {"status": "online", "reason": "", "fps": 29.8, "processed_fps": 14.9, "skipped": 3},
                            "side": {"status": "offline", "reason": "no frame for 3 s", "fps": 0.0, "processed_fps": 0.0, "skipped": 0}}}

    def set(self, **changes) -> None:
        with self._cond:
            self._state.update(changes)
            self._version += 1
            self._cond.notify_all()

    def start(self):
        self.calls.append("start")
        self.set(state="countdown", countdown=3, message="Get ready: arms up.")

    def cancel(self):
        self.calls.append("cancel")
        self.set(state="idle", countdown=None, reps=0, message="Cancelled.")

    def report_pain(self):
        self.calls.append("pain")
        self.set(state="idle", message="Stopped. Please see a trainer.")

    def retest(self, kind):
        self.calls.append(f"retest:{kind}")
        self.set(state="countdown", countdown=3)

    def preview_jpeg(self, view):
        return self.preview

    def identify(self, number, how="keypad"):
        """As the state machine: taken only before the set; the screen sees the last three."""
        self.calls.append(f"identify:{how}:{number}")
        if self._state["state"] not in ("idle", "positioning"):
            return False
        self.set(member="\u2022" * max(0, min(len(number), 8) - 3) + number[-3:], member_how=how)
        return True

    def forget_member(self):
        self.calls.append("forget")
        self.set(member=None, member_how=None)
        return True

    def wait_for_change(self, last_version, timeout):
        with self._cond:
            if last_version == self._version:
                self._cond.wait(timeout)
            return self._version, copy.deepcopy(self._state)
