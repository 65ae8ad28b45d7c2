"""The reading-level check, and every member-facing string of the library and of plans passing it."""

from __future__ import annotations

import itertools

import pytest

from device.plan import build_plan, load_library
from device.plan.take_home import plan_text
from device.plan.words import (JARGON, MAX_SENTENCE_WORDS, check_member_text, jargon_in, member_texts,
                               sentences)
from device.vocabulary import COMPENSATION_IDS
from tests.test_plan import result_with


def test_the_check_finds_jargon_and_long_sentences():
    assert check_member_text("Hold 30 seconds, each side. Then rest.") == []
    assert jargon_in("Foam roll the TFL, tempo 4-2-1, then Integrate.") == ["integrate", "tempo", "4-2-1", "TFL"]
    assert jargon_in("SMR for the piriformis; inhibit first") == ["SMR", "inhibit", "piriformis"]
    assert jargon_in("stretch the lats and pecs") == ["lats", "pecs"]
    # whole words only: "relates", "tempos" in other words, "transport" do not count
    assert jargon_in("This relates to latitude and contemporary transport.") == []
    long = " ".join(["word"] * (MAX_SENTENCE_WORDS + 1)) + "."
    problems = check_member_text("Short one. " + long)
    assert len(problems) == 1 and f"{MAX_SENTENCE_WORDS + 1} words" in problems[0]
    assert sentences("One. Two!\nThree; four?") == ["One.", "Two!", "Three", "four?"]
    assert "MoveNet" in JARGON and "keypoint" in JARGON
    assert jargon_in("MoveNet's 17 keypoints have no toe or heel points") == ["MoveNet", "keypoint", "keypoints"]


def _library_member_texts(lib: dict) -> list[tuple[str, str]]:
    out = []
    for ex_id, ex in lib["exercises"].items():
        out += [(f"exercises.{ex_id}.{k}", ex[k]) for k in ("member_name", "cue") if k in ex]
        out += [(f"exercises.{ex_id}.dose_text", ex["dose_text"])] if "dose_text" in ex else []
        out += [(f"exercises.{ex_id}.contraindications", c) for c in ex["contraindications"]]
    for ph_id, ph in lib["phases"].items():
        out += [(f"phases.{ph_id}.{k}", ph[k]) for k in ("member_label", "member_purpose", "dose_text",
                                                          "dose_text_65") if k in ph]
    for cid, c in lib["compensations"].items():
        out += [(f"compensations.{cid}.{k}", c[k]) for k in ("saw", "why", "helps")]
    out.append(("general.message", lib["general"]["message"]))
    out += [(f"glossary.{g['term']}", g["meaning"]) for g in lib["glossary"]]
    return out


def test_every_member_facing_string_of_the_library_reads_plainly():
    texts = _library_member_texts(load_library())
    assert len(texts) > 200
    problems = [(where, p) for where, text in texts for p in check_member_text(text)]
    assert problems == []


def test_the_trainer_fields_still_hold_the_technical_words():
    lib = load_library()
    assert jargon_in(lib["exercises"]["tfl_smr"]["name"]) == ["TFL"]
    assert "tempo" in jargon_in(lib["phases"]["activate"]["dose"])
    assert lib["phases"]["integrate"]["label"] == "Integrate"


def _plans():
    yield build_plan(result_with(), assessed_on="2026-11-30")
    for cid in COMPENSATION_IDS:
        for side in ("left", "right", "both"):
            yield build_plan(result_with(**{cid: side}), assessed_on="2026-11-30")
    for a, b in itertools.combinations(COMPENSATION_IDS, 2):
        yield build_plan(result_with(**{a: "left", b: "right"}), age=70, assessed_on="2026-11-30")
    every = result_with(**{c: "both" for c in COMPENSATION_IDS})
    every["compensations"]["head_down"].update(status="not_assessed", reason="no side view")
    yield build_plan(every, assessed_on="2026-11-30")
    yield build_plan(result_with(knees_cave_in="left"), pain=True)


def test_every_generated_plan_reads_plainly():
    seen = 0
    for plan in _plans():
        texts = member_texts(plan)
        assert texts
        for text in texts:
            assert check_member_text(text) == [], text
        seen += 1
    assert seen > 100


@pytest.mark.parametrize("findings", [{}, {"knees_cave_in": "left", "arms_fall_forward": None}])
def test_the_take_home_text_reads_plainly(findings):
    r = result_with(**findings)
    text = plan_text(build_plan(r, assessed_on="2026-11-30"), r)
    assert [p for line in text.splitlines() for p in check_member_text(line)] == []


def test_the_findings_wording_reads_plainly():
    from device.plan import describe_findings

    checked = 0
    for cid in COMPENSATION_IDS:
        for region in describe_findings(result_with(**{cid: "left"})):
            texts = [region["summary"]] + [f[k] for f in region["findings"]
                                           for k in ("what_we_saw", "why_it_matters", "what_helps")]
            for text in texts:
                assert check_member_text(text) == [], text
                checked += 1
    assert checked > 100
