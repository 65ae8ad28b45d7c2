"""The take-home text: the plan itself in a QR code, readable without a network."""

from __future__ import annotations

import itertools

import cv2
import numpy as np
import pytest
import segno

from device.errors import InputError
from device.plan import build_plan
from device.plan.take_home import MAX_BYTES, MAX_QR_VERSION, plan_text
from device.vocabulary import COMPENSATION_IDS
from tests.test_plan import result_with


def _every_result():
    """All findings at once, all one-sided mixes of the sided ones, and each finding alone."""
    yield result_with(**{c: ("left", "marked") for c in COMPENSATION_IDS})
    yield result_with(**{c: ("right", "mild") for c in COMPENSATION_IDS})
    for c in COMPENSATION_IDS:
        yield result_with(**{c: "left"})
    for a, b in itertools.combinations(COMPENSATION_IDS, 2):
        yield result_with(**{a: "left", b: "right"})


def test_the_text_carries_the_plan_in_plain_words():
    r = result_with(knees_cave_in="left", arms_fall_forward=None)
    plan = build_plan(r, assessed_on="2026-11-30")
    text = plan_text(plan, r)
    assert text.isascii()
    assert "Work on: knees cave in, arms fall forward" in text
    assert "3 times a week for 4 weeks" in text and "Re-test on 28 Dec 2026." in text
    for phase in plan["phases"]:
        for ex in phase["exercises"]:
            assert f"{ex['member_name']}: {ex['dose_text']}" in text
    assert "not a medical check" in text.splitlines()[-1]
    for word in ("TFL", "piriformis", "tempo", "Integrate", "trainer_note"):
        assert word not in text
    # a trainer's private note never goes home
    edited = dict(plan, trainer_note="Client mentioned an old knee injury")
    assert "knee injury" not in plan_text(edited, r)


def test_referral_and_empty_plans():
    r = result_with(knees_cave_in="left")
    referral = plan_text(build_plan(r, pain=True), r)
    assert "something hurt" in referral and "Hold" not in referral
    nothing = result_with()
    text = plan_text(build_plan(nothing, assessed_on="2026-01-05"), nothing)
    assert "Nothing to work on" in text and "Re-test on 2 Feb 2026." in text
    undated = plan_text(build_plan(nothing), nothing)
    assert "re-test in 4 weeks" in undated


def test_every_plan_fits_a_scannable_qr_code_at_level_m():
    largest, worst = "", 0
    for r in _every_result():
        text = plan_text(build_plan(r, assessed_on="2026-12-31", age=70), r)
        size = len(text.encode())
        assert size <= MAX_BYTES, text
        if size > len(largest.encode()):
            largest = text
    qr = segno.make(largest, error="m", boost_error=False)
    worst = qr.version
    assert qr.error == "M" and worst <= MAX_QR_VERSION, (worst, len(largest.encode()))
    # and it reads back: OpenCV's detector decodes the code segno drew
    img = np.array(qr.matrix, dtype=np.uint8)
    img = np.kron(1 - img, np.ones((6, 6), np.uint8)) * 255
    img = cv2.copyMakeBorder(img, 40, 40, 40, 40, cv2.BORDER_CONSTANT, value=255)
    decoded, _, _ = cv2.QRCodeDetector().detectAndDecode(img)
    assert decoded == largest


def test_a_plan_too_long_for_the_code_is_cut_and_says_so():
    r = result_with(knees_cave_in="left")
    plan = build_plan(r)
    long = dict(plan, phases=[dict(p, exercises=[dict(e, member_name=e["member_name"] + " x" * 60)
                                                 for e in p["exercises"]]) for p in plan["phases"]])
    text = plan_text(long, r)
    assert len(text.encode()) <= MAX_BYTES
    assert "more: ask a trainer." in text and "re-test" in text.lower()


def test_bad_input_is_one_clear_error():
    with pytest.raises(InputError, match="lang"):
        plan_text(build_plan(result_with()), None, lang="fr")
    with pytest.raises(InputError, match="plan"):
        plan_text({"phases": []})
