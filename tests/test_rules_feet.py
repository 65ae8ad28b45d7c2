"""The 2-D "knees push out" against the feet the front silhouette saw (device/rules/feet.py)."""

from __future__ import annotations

import pytest

from device.rules.feet import push_out_over_seen_feet
from device.thresholds import Thresholds

TH = Thresholds()


def _entry(status="present", side="left"):
    return {"status": status, "reps_flagged": 4, "side": side, "value": 1.45, "unit": "ratio",
            "threshold": 1.3, "reason": None, "confidence": 0.8, "severity": "moderate", "rep_values": [1.45]}


@pytest.mark.parametrize("side,feet,kept", [
    ("left", {"left": 3.0, "right": 25.0}, True),  # the flagged foot points ahead; the other does not matter
    ("left", {"left": 5.0, "right": 0.0}, True),  # at the limit
    ("left", {"left": 5.5, "right": 0.0}, False),
    ("right", {"left": 0.0, "right": 18.0}, False),
    ("both", {"left": 2.0, "right": 12.0}, False),
    ("both", {"left": -4.0, "right": 4.0}, True),  # a foot turned in inflates nothing
    ("left", {"left": None, "right": 0.0}, False),  # that foot not read
    ("left", None, False),  # no silhouette
])
def test_a_2d_push_out_stands_only_over_feet_seen_pointing_ahead(side, feet, kept):
    out = push_out_over_seen_feet(_entry(side=side), feet, TH)
    if kept:
        assert out == _entry(side=side)
    else:
        assert out["status"] == "not_assessed" and out["reason_code"] == "feet_direction"
        assert out["threshold"] == 1.3 and out["value"] is None and out["severity"] == "none"


def test_the_reason_names_the_feet():
    out = push_out_over_seen_feet(_entry(side="right"), {"left": 1.0, "right": 22.4}, TH)
    assert "the feet point 22 degrees out (at most 5 for this check from the front alone)" in out["reason"]
    out = push_out_over_seen_feet(_entry(), None, TH)
    assert "did not show which way the feet point" in out["reason"]


def test_absent_and_not_assessed_stand_and_the_limit_is_a_threshold():
    for status in ("absent", "not_assessed"):
        assert push_out_over_seen_feet(_entry(status), None, TH) == _entry(status)
    wide = Thresholds({"front_push_out_max_toe_out_deg": 25.0})
    assert push_out_over_seen_feet(_entry(), {"left": 20.0, "right": 0.0}, wide)["status"] == "present"
