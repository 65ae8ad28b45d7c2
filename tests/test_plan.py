"""The corrective plan: library completeness, merging, sides, pain, duration cap, wording."""

from __future__ import annotations

import copy
import random

import pytest

from device.errors import InputError
from device.plan import PHASES, build_plan, describe_findings, load_library
from device.plan import library as libmod
from device.store.demo import demo_result
from device.vocabulary import ABSENT, COMPENSATION_IDS, COMPENSATIONS, NOT_ASSESSED, PRESENT, REGION_IDS


def result_with(**findings) -> dict:
    """A result where only the given findings are present: id=side or id=(side, severity)."""
    r = demo_result(random.Random(0))
    for cid, entry in r["compensations"].items():
        entry.update(status=ABSENT, side=None, severity="none", reps_flagged=0)
    for cid, spec in findings.items():
        side, severity = spec if isinstance(spec, tuple) else (spec, "moderate")
        r["compensations"][cid].update(status=PRESENT, side=side, severity=severity, reps_flagged=4,
                                       confidence=0.8)
    return r


def exercises(plan) -> list[dict]:
    return [e for phase in plan["phases"] for e in phase["exercises"]]


def by_id(plan) -> dict:
    return {e["id"]: e for e in exercises(plan)}


def everything_of(plan) -> dict:
    """The member's exercises and those kept for a trainer (`left_out`), by id."""
    return {**{e["id"]: e for e in plan["left_out"]}, **by_id(plan)}


# -- the library ---------------------------------------------------------------------------

def test_every_compensation_has_a_full_entry_in_all_four_phases():
    lib = load_library()
    assert "NASM" in lib["edition"] and "2nd" in lib["edition"]
    header = libmod.LIBRARY_PATH.read_text().split("format =")[0]
    assert "2nd edition" in header and "1st" in header  # which edition we follow, and how they differ
    assert set(lib["compensations"]) == set(COMPENSATION_IDS)
    for cid in COMPENSATION_IDS:
        entry = lib["compensations"][cid]
        assert entry["overactive"] and entry["underactive"], cid
        assert entry["saw"] and entry["why"] and entry["helps"] and entry["source"], cid
        for phase in PHASES:
            refs = libmod.refs(entry, phase)
            assert refs, f"{cid} has no {phase} exercise"
            for ex_id, _ in refs:
                ex = lib["exercises"][ex_id]
                assert ex["phase"] == phase and ex["name"] and ex["source"]
                assert 1 <= len(ex["cues"]) <= 2 and ex["contraindications"]
                assert lib["phases"][phase]["dose"]
    # the doses of the continuum as the issue gives them
    assert "30 s" in lib["phases"]["inhibit"]["dose"] and "90 s" in lib["phases"]["inhibit"]["dose"]
    assert "20-30 s" in lib["phases"]["lengthen"]["dose"] and "60 s" in lib["phases"]["lengthen"]["dose_65"]
    assert "1-2 sets of 10-15" in lib["phases"]["activate"]["dose"] and "4-2-1" in lib["phases"]["activate"]["dose"]
    assert "1-3 sets of 10-15" in lib["phases"]["integrate"]["dose"]


@pytest.mark.parametrize("breakage, match", [
    (lambda lib: lib["compensations"].pop("head_down"), "head_down"),
    (lambda lib: lib["compensations"]["heels_rise"].pop("activate"), "activate"),
    (lambda lib: lib["compensations"]["heels_rise"].__setitem__("inhibit", ["calf_stretch"]), "lengthen exercise"),
    (lambda lib: lib["compensations"]["heels_rise"].__setitem__("inhibit", ["nope"]), "unknown exercise"),
    (lambda lib: lib["exercises"]["glute_bridge"].pop("contraindications"), "contraindications"),
    (lambda lib: lib["compensations"]["heels_rise"].__setitem__("view", "front"), "view"),
])
def test_the_library_check_catches_gaps(breakage, match):
    lib = copy.deepcopy(load_library())
    breakage(lib)
    with pytest.raises(InputError, match=match):
        libmod.validate(lib)


# -- building plans ------------------------------------------------------------------------

def test_pain_gives_a_referral_never_a_plan():
    plan = build_plan(result_with(knees_cave_in="left", heels_rise=None), pain=True)
    assert plan["kind"] == "referral" and plan["phases"] == [] and exercises(plan) == []
    assert "qualified professional" in plan["message"]
    assert plan["total_minutes"] == 0


def test_phases_keep_the_continuum_order_and_each_has_a_dose():
    plan = build_plan(result_with(excessive_forward_lean=None))
    assert [p["id"] for p in plan["phases"]] == list(PHASES)
    for e in exercises(plan):
        assert e["dose"] and e["cues"] and e["contraindications"] and e["source"]
        assert e["reasons"] == [{"compensation": "excessive_forward_lean",
                                 "label": "Chest leans forward", "side": None}]


def test_co_occurring_findings_share_exercises_once_with_both_reasons():
    # both start with the calf release, the calf stretch and the ball wall squat
    plan = build_plan(result_with(heels_rise=None, excessive_forward_lean=None))
    ids = [e["id"] for e in exercises(plan)]
    assert len(ids) == len(set(ids)), "an exercise appears twice"
    shared = [e for e in exercises(plan) if len(e["reasons"]) == 2]
    assert {"calves_smr", "calf_stretch", "ball_wall_squat"} <= {e["id"] for e in shared}
    for e in shared:
        assert {r["compensation"] for r in e["reasons"]} == {"heels_rise", "excessive_forward_lean"}
    # merging saves time compared with the two plans apart
    apart = build_plan(result_with(heels_rise=None))["total_minutes"] + \
        build_plan(result_with(excessive_forward_lean=None))["total_minutes"]
    assert plan["total_minutes"] < apart


def test_one_sided_finding_targets_that_side_only():
    left = build_plan(result_with(knees_cave_in="left"))
    sided = [e for e in exercises(left) if load_library()["exercises"][e["id"]]["sided"]]
    assert sided and all(e["side"] == "left" and e["side_text"] == "Left side only" for e in sided)
    both = build_plan(result_with(knees_cave_in="both"))
    assert all(e["side"] in ("both", None) for e in exercises(both))
    assert left["total_minutes"] < both["total_minutes"]  # one side takes less time
    # side_aware=False treats every finding as both sides
    plain = build_plan(result_with(knees_cave_in="left"), side_aware=False)
    assert all(e["side"] in ("both", None) for e in exercises(plain))


def test_a_shift_to_the_left_is_not_a_shift_to_the_right():
    left = everything_of(build_plan(result_with(asymmetric_weight_shift="left")))
    right = everything_of(build_plan(result_with(asymmetric_weight_shift="right")))
    assert left["adductors_smr"]["side"] == "left" and right["adductors_smr"]["side"] == "right"
    assert left["side_lying_abduction"]["side"] == "left"  # strengthen the shift side's glute med
    assert left["side_lying_adduction"]["side"] == "right"  # and the other side's adductors
    assert right["side_lying_adduction"]["side"] == "left"
    assert left["piriformis_smr"]["side"] == "right"


def test_sides_merge_when_two_findings_want_opposite_sides():
    # left knee caves in, weight shifts right: both want the inner-thigh stretch and the
    # side-lying leg raise, on opposite sides
    plan = build_plan(result_with(knees_cave_in="left", asymmetric_weight_shift="right"))
    merged = [e for e in exercises(plan) if len(e["reasons"]) == 2]
    assert {"adductor_stretch", "side_lying_abduction"} <= {e["id"] for e in merged}
    assert all(e["side"] == "both" and e["dose_text"].endswith(", each side") for e in merged)
    only_left = everything_of(plan)["biceps_femoris_smr"]  # wanted by the knees alone
    assert only_left["side"] == "left" and only_left["dose_text"].endswith("left side only")


def test_many_findings_are_capped_for_a_first_plan_and_say_so():
    everything = {cid: ("both", "mild") for cid in COMPENSATION_IDS}
    everything["head_down"] = (None, "marked")  # most important despite being last feet-up
    plan = build_plan(result_with(**everything))
    lib = load_library()
    assert plan["budget_minutes"] == lib["budget_minutes"] == 15
    assert plan["max_exercises"] == lib["max_exercises"] == 6
    ids = [e["id"] for e in exercises(plan)]
    assert len(ids) == len(set(ids)) == 6
    assert plan["total_minutes"] <= 15
    assert abs(sum(e["minutes"] for e in exercises(plan)) - plan["total_minutes"]) < 0.5
    covered = [f["id"] for f in plan["findings"]]
    assert covered[0] == "head_down"  # the marked finding comes first and is covered
    not_covered = set(everything) - set(covered)
    assert len(not_covered) == 3, "13 findings do not all fit in six exercises"
    assert any(n.startswith(f"To keep it short, this plan leaves out {len(not_covered)} of")
               for n in plan["notes"])
    # everything else is kept for a trainer, with its sides, dose and figure
    assert plan["left_out"] and any(n.startswith("A trainer can add") for n in plan["notes"])
    assert not set(e["id"] for e in plan["left_out"]) & set(ids)
    for e in plan["left_out"]:
        assert e["member_name"] and e["dose_text"] and e["figure"] == e["id"] and e["reasons"]
    wanted = {ex for cid in everything for ph in PHASES
              for ex, _ in libmod.refs(lib["compensations"][cid], ph)}
    assert set(ids) | {e["id"] for e in plan["left_out"]} == wanted  # nothing silently dropped


def test_one_finding_gets_at_most_one_exercise_per_phase():
    # knees caving in asks for eight exercises in the library; a first plan takes four
    lib = load_library()
    asked = sum(len(libmod.refs(lib["compensations"]["knees_cave_in"], ph)) for ph in PHASES)
    assert asked == 9
    plan = build_plan(result_with(knees_cave_in="both"))
    assert len(exercises(plan)) == lib["max_per_finding"] == 4
    assert [p["id"] for p in plan["phases"]] == list(PHASES)
    assert len(plan["left_out"]) == asked - 4 and plan["total_minutes"] <= 15


def test_two_findings_stretch_and_strengthen_both_before_releasing():
    plan = build_plan(result_with(knees_cave_in="left", arms_fall_forward=None))
    got = by_id(plan)
    assert len(got) == 6
    for cid in ("knees_cave_in", "arms_fall_forward"):
        phases = {e["phase"] for e in got.values() if cid in {r["compensation"] for r in e["reasons"]}}
        assert {"lengthen", "activate", "integrate"} <= phases, cid
    assert "inhibit" not in {e["phase"] for e in got.values()}  # releases wait for a trainer


def test_schedule_and_retest_date_come_from_the_assessment_date():
    import datetime as dt

    r = result_with(heels_rise=None)
    for when in ("2026-11-30", "2026-11-30T23:59:59.000000Z", dt.date(2026, 11, 30),
                 dt.datetime(2026, 11, 30, 8, 0, tzinfo=dt.timezone.utc)):
        plan = build_plan(r, assessed_on=when)
        assert plan["retest_on"] == "2026-12-28", when
    assert plan["schedule"] == {"per_week": 3, "weeks": 4, "retest_after_days": 28,
                                "text": "3 times a week for 4 weeks",
                                "retest_text": "Come back for a re-test on 28 December 2026."}
    # across a year end, and without a date (nothing here reads the clock)
    assert build_plan(r, assessed_on="2026-12-20")["retest_on"] == "2027-01-17"
    undated = build_plan(r)
    assert undated["retest_on"] is None
    assert undated["schedule"]["retest_text"] == "Come back for a re-test in 4 weeks."
    assert build_plan(r) == undated  # deterministic
    with pytest.raises(InputError, match="assessed_on"):
        build_plan(r, assessed_on="last tuesday")
    referral = build_plan(r, pain=True, assessed_on="2026-11-30")
    assert referral["schedule"] is None and referral["retest_on"] is None


def test_member_fields_are_plain_and_trainer_fields_stay():
    plan = build_plan(result_with(knees_cave_in="left", excessive_forward_lean=None), age=70,
                      assessed_on="2026-11-30")
    for phase in plan["phases"]:
        assert phase["member_label"] and phase["member_purpose"] and phase["label"] and phase["technique"]
        for e in phase["exercises"]:
            assert e["member_name"] and e["cue"] and e["dose_text"] and e["figure"] == e["id"]
            assert e["name"] and e["dose"] and e["cues"] and e["targets"]  # for the trainer
    stretch = next(p for p in plan["phases"] if p["id"] == "lengthen")["exercises"][0]
    assert stretch["dose_text"].startswith("Hold 60 seconds")  # from 65
    labels = {"inhibit": "Loosen", "lengthen": "Stretch", "activate": "Strengthen",
              "integrate": "Practise the movement"}
    assert len(plan["phases"]) >= 3
    assert all(p["member_label"] == labels[p["id"]] for p in plan["phases"])


def test_the_glossary_explains_the_words_the_plan_uses():
    lib = load_library()
    plan = build_plan(result_with(knees_cave_in="both"), assessed_on="2026-11-30")
    terms = {g["term"] for g in plan["glossary"]}
    assert {"Foam roller", "Band", "Round"} <= terms  # roll the inner thigh, mini-band squat
    assert all(g["meaning"] for g in plan["glossary"])
    # a term is listed only when its words appear: a head-only plan has no strap, no hip hinge
    head = {g["term"] for g in build_plan(result_with(head_forward=None))["glossary"]}
    assert "Band" in head and not {"Strap", "Hip hinge"} & head  # squat and row: a band
    assert {g["term"] for g in lib["glossary"]} >= terms


def test_single_finding_plan_is_short_and_needs_no_trimming():
    plan = build_plan(result_with(heels_rise=None))
    assert plan["left_out"] == [] and 3 <= plan["total_minutes"] <= 20


def test_older_clients_hold_stretches_longer():
    young = build_plan(result_with(excessive_forward_lean=None), age=40)
    old = build_plan(result_with(excessive_forward_lean=None), age=70)
    stretch = next(p for p in old["phases"] if p["id"] == "lengthen")["exercises"][0]
    assert "60 s" in stretch["dose"]
    assert old["total_minutes"] > young["total_minutes"]
    assert any("60 s" in n for n in old["notes"])


def test_nothing_flagged_gives_a_general_routine_not_a_clean_bill():
    r = result_with()
    r["compensations"]["head_down"].update(status=NOT_ASSESSED, reason="the side camera was off")
    plan = build_plan(r)
    assert plan["kind"] == "general" and "did not see anything to work on" in plan["message"]
    assert [p["id"] for p in plan["phases"]] == list(PHASES)
    assert len(exercises(plan)) <= 6 and plan["total_minutes"] <= 15
    assert any(n.startswith("We could not check 1 of the 13 things") for n in plan["notes"])


def test_bad_input_is_one_clear_error():
    with pytest.raises(InputError, match="result"):
        build_plan({"reps": 5})
    with pytest.raises(InputError, match="age"):
        build_plan(result_with(), age="old")
    with pytest.raises(InputError, match="result"):
        describe_findings(None)


# -- wording -------------------------------------------------------------------------------

def test_findings_are_described_per_region_plainly_with_uncertainty():
    r = result_with(knees_cave_in="left", asymmetric_weight_shift="right")
    r["compensations"]["head_forward"].update(status=NOT_ASSESSED, reason="the side camera saw no person")
    r["compensations"]["head_down"].update(status=NOT_ASSESSED, reason="the side camera saw no person")
    regions = describe_findings(r)
    assert [x["region"] for x in regions] == list(REGION_IDS)
    knees = regions[1]
    assert knees["verdict"] == "seen"
    f = knees["findings"][0]
    assert f["id"] == "knees_cave_in" and "your left side" in f["what_we_saw"]
    assert "4 of 5 reps" in f["what_we_saw"]
    assert f["why_it_matters"] and f["what_helps"]
    assert f["measurement"]["value"] == r["compensations"]["knees_cave_in"]["value"]
    assert "confidence" in f["uncertainty"] and "80%" in f["uncertainty"]
    hips = regions[2]
    assert "towards your right" in hips["findings"][0]["what_we_saw"]
    feet = regions[0]
    assert feet["verdict"] == "not_seen" and not feet["findings"]
    assert "not a health check" in feet["summary"] and "feet turn out" in feet["summary"]
    head = regions[4]
    assert head["verdict"] == "not_checked"
    assert all("side camera saw no person" in n["text"] for n in head["not_checked"])
    text = repr(regions).lower()
    for phrase in ("all clear", "you are safe", "no problems", "perfect", "all green", "bad", "poor"):
        assert phrase not in text, phrase


def test_end_to_end_from_the_rule_engine(tmp_path):
    """A synthetic squat with the left knee caving in -> rules -> store -> plan and wording."""
    from device.rules import evaluate
    from device.store import Store
    from tests.synth import make_case

    # twice the generator's "clear" amount, so the test does not hang on the rules' tuning
    case = make_case(3, {"knees_cave_in": 2.0}, sides={"knees_cave_in": "left"})
    result = evaluate(case.track)
    assert result["compensations"]["knees_cave_in"]["status"] == PRESENT, "rules missed a marked valgus"
    with Store(tmp_path / "s.db") as store:
        aid = store.save_assessment(result, case.track, {})
        stored = store.get(aid)
        assert store.get_track(aid)["views"].keys() == case.track.views.keys()
    plan = build_plan(stored["result"])
    assert plan == build_plan(result)
    assert plan["findings"][0]["id"] == "knees_cave_in" and plan["findings"][0]["side"] == "left"
    sided = [e for e in exercises(plan) if e["side"] is not None]
    assert sided and all(e["side"] == "left" for e in sided)
    knees = next(r for r in describe_findings(result) if r["region"] == "knees")
    assert "your left side" in knees["findings"][0]["what_we_saw"]
    # the rules cannot see the feet from keypoints: said plainly, not hidden
    feet = next(r for r in describe_findings(result) if r["region"] == "feet_ankles")
    assert feet["not_checked"] and all(n["reason"] and n["reason"] in n["text"] for n in feet["not_checked"])
    assert feet["verdict"] in ("partly_checked", "not_checked", "seen")


def test_stored_plans_without_member_fields_get_them_filled_in():
    from device.plan import with_member_fields

    new = build_plan(result_with(knees_cave_in="left"), assessed_on="2026-11-30")
    old = copy.deepcopy(new)
    for key in ("schedule", "retest_on", "glossary"):
        old.pop(key)
    for phase in old["phases"]:
        phase.pop("member_label")
        for ex in phase["exercises"]:
            for key in ("member_name", "cue", "dose_text", "figure"):
                ex.pop(key)
    old["phases"][0]["exercises"][0]["trainer_note"] = "go light"
    filled = with_member_fields(old, assessed_on="2026-11-30")
    assert filled["phases"][0]["exercises"][0]["trainer_note"] == "go light"  # kept
    filled["phases"][0]["exercises"][0].pop("trainer_note")
    assert filled == new
    assert "member_name" not in old["phases"][0]["exercises"][0]  # a copy, the stored plan untouched
    referral = build_plan(result_with(), pain=True)
    assert with_member_fields(referral) == referral
