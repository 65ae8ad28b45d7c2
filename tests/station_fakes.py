"""Synthetic people and a hand-driven clock for driving the station's state machine fast.

No tests here (not named test_*): test_station_machine.py imports these.
"""

from __future__ import annotations

import numpy as np

from device import config as cfg
from device.keypoints import BodyPart as P
from device.vocabulary import ABSENT, COMPENSATIONS, FORMAT_RESULT, PRESENT
from tests.hand_clock import HandClock

W, H = 480, 640  # a portrait camera


Clock = HandClock  # the station's clock() and the panel's timers, moved on by the test


def person(view: str = "front", depth: float = 0.0, stance: str = "overhead", dx: float = 0.0,
           facing: bool = True, score: float = 0.8) -> np.ndarray:
    """(17, 3) keypoints of a person on the spot; depth 0 standing .. 1 bottom of a squat."""
    k = np.zeros((17, 3))
    k[:, 2] = score
    cx = W / 2 + dx
    half = 50 if (view == "front" and facing) else 6  # shoulders seen from the side overlap
    sign = 1 if facing else -1
    drop, hip_drop = 90 * depth, 130 * depth

    def put(part, x, y):
        k[part, 0], k[part, 1] = x, y

    put(P.NOSE, cx, 100 + drop)
    put(P.LEFT_EYE, cx + 8, 92 + drop)
    put(P.RIGHT_EYE, cx - 8, 92 + drop)
    put(P.LEFT_EAR, cx + 16, 96 + drop)
    put(P.RIGHT_EAR, cx - 16, 96 + drop)
    put(P.LEFT_SHOULDER, cx + sign * half, 160 + drop)
    put(P.RIGHT_SHOULDER, cx - sign * half, 160 + drop)
    put(P.LEFT_HIP, cx + sign * half * 0.6, 330 + hip_drop)
    put(P.RIGHT_HIP, cx - sign * half * 0.6, 330 + hip_drop)
    put(P.LEFT_KNEE, cx + sign * 35, 450 + hip_drop * 0.3)
    put(P.RIGHT_KNEE, cx - sign * 35, 450 + hip_drop * 0.3)
    put(P.LEFT_ANKLE, cx + sign * 35, 580)
    put(P.RIGHT_ANKLE, cx - sign * 35, 580)
    if stance == "overhead":
        put(P.LEFT_ELBOW, cx + sign * 55, 100 + drop)
        put(P.RIGHT_ELBOW, cx - sign * 55, 100 + drop)
        put(P.LEFT_WRIST, cx + sign * 45, 40 + drop)
        put(P.RIGHT_WRIST, cx - sign * 45, 40 + drop)
    elif stance == "hips":
        put(P.LEFT_ELBOW, cx + sign * 90, 250 + drop)
        put(P.RIGHT_ELBOW, cx - sign * 90, 250 + drop)
        put(P.LEFT_WRIST, cx + sign * 45, 335 + hip_drop)
        put(P.RIGHT_WRIST, cx - sign * 45, 335 + hip_drop)
    else:  # arms down
        put(P.LEFT_ELBOW, cx + sign * 60, 250 + drop)
        put(P.RIGHT_ELBOW, cx - sign * 60, 250 + drop)
        put(P.LEFT_WRIST, cx + sign * 62, 330 + drop)
        put(P.RIGHT_WRIST, cx - sign * 62, 330 + drop)
    return k


def depth_at(t: float, period: float = 2.0) -> float:
    """Squat depth over time: one rep per `period` seconds, standing at multiples of it."""
    return float((1 - np.cos(2 * np.pi * t / period)) / 2)


def result_from_reps(reps: int, present=()) -> dict:
    """An ohsa-result/1 with these compensations present and the rest absent."""
    comps = {}
    for cid, c in COMPENSATIONS.items():
        status = PRESENT if cid in present else ABSENT
        comps[cid] = {"status": status, "reps_flagged": reps if status == PRESENT else 0,
                      "side": "both" if c.sided and status == PRESENT else None,
                      "value": 1.0, "unit": "ratio", "threshold": 0.5, "reason": ""}
    return {"format": FORMAT_RESULT, "reps": reps, "compensations": comps}


def station_config(**station) -> dict:
    base = {"target_reps": 3, "min_reps": 2, "countdown_s": 3, "positioning_hold_s": 0.5,
            "record_limit_s": 30.0, "person_lost_s": 1.0, "result_idle_s": 60.0,
            "message_idle_s": 20.0, "positioning_timeout_s": 40.0}
    base.update(station)
    return cfg.validate({"station": base, "panel": {"hold_cancel_s": 0.15, "hold_shutdown_s": 0.6}})
