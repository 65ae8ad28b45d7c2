"""The fleet's wire format: topics, builders and `parse` (device/fleet/messages.py)."""

import json

import pytest

from device.errors import InputError
from device.fleet import messages as m
from device.vocabulary import COMPENSATION_IDS


def _result():
    return {"format": "ohsa-result/1", "reps": 5,
            "compensations": {c: {"status": "absent"} for c in COMPENSATION_IDS}}


def _record(**kw):
    rec = {"created_at": "2026-11-30T10:00:00.000000Z", "label": "A. Member", "member": {"number": "1001", "name": ""},
           "kind": "standard", "parent_id": None, "pain": False, "notes": "", "result": _result(),
           "overrides": {}, "plan": {"format": "x"}, "station_version": "0.1.0", "model_sha256": "ab"}
    rec.update(kw)
    return rec


def _roundtrip(msg, prefix="ohsa"):
    return m.parse(m.topic_of(msg, prefix), m.encode(msg), prefix)


def test_every_built_message_parses_back_to_itself():
    msgs = [
        m.status("gym-1", "online", "2026-11-30T10:00:00Z", "0.1.0"),
        m.health("gym-1", "2026-11-30T10:00:00Z", 7, {"front": "ok", "side": "missing"}, 3600),
        m.assessment("gym-1", "0123456789ab", 1, "2026-11-30T10:00:00Z", _record()),
        m.assessment("gym-1", "0123456789ab", 4, "2026-11-30T10:00:00Z", None),
        m.alert("gym-1", "a1b2c3", "pain", "0123456789ab", "2026-11-30T10:00:00Z", "pain during the set"),
        m.alert("gym-1", "a1b2c4", "pain", None, "t", "during the set", {"number": "1001", "name": "Al"}),
    ]
    for msg in msgs:
        assert _roundtrip(msg) == msg
        assert _roundtrip(msg, "chain/eu") == msg
    assert m.topic_of(msgs[2]) == "ohsa/gym-1/assessment/0123456789ab"
    assert m.topic_of(msgs[4], "chain/eu") == "chain/eu/gym-1/alert/a1b2c3"
    assert msgs[3]["deleted"] is True and "assessment" not in msgs[3]
    assert m.subscription() == "ohsa/+/#"


def test_split_topic():
    assert m.split_topic("ohsa/s1/status") == ("s1", "status", None)
    assert m.split_topic("ohsa/s1/assessment/abc") == ("s1", "assessment", "abc")
    for bad in ("other/s1/status", "ohsa/S1/status", "ohsa/s1/status/x", "ohsa/s1/assessment",
                "ohsa/s1/secret", "ohsa//status", "ohsa/hub/status"):
        with pytest.raises(InputError):
            m.split_topic(bad)


def _bad(topic, msg, words):
    payload = msg if isinstance(msg, (bytes, str)) else json.dumps(msg).encode()
    with pytest.raises(InputError) as e:
        m.parse(topic, payload)
    assert words in str(e.value), str(e.value)
    assert "\n" not in str(e.value)


def test_parse_refuses_what_a_receiver_must_not_store():
    ok = m.assessment("s1", "abc", 2, "t", _record())
    topic = "ohsa/s1/assessment/abc"
    _bad("ohsa/s2/assessment/abc", ok, "not the topic's 's2'")           # speaking for another station
    _bad("ohsa/s1/assessment/xyz", ok, "not the topic's 'xyz'")
    _bad("ohsa/s1/health", ok, "does not match the topic")
    _bad(topic, {**ok, "format": "ohsa-fleet/2"}, "format tag")
    _bad(topic, {**ok, "revision": 0}, "revision")
    _bad(topic, {**ok, "revision": True}, "revision")
    _bad(topic, {**ok, "revision": "2"}, "revision")
    _bad(topic, {**ok, "deleted": "no"}, "deleted")
    _bad(topic, {**ok, "deleted": True}, "carries no assessment")
    _bad(topic, {**ok, "assessment": {**ok["assessment"], "result": {"format": "x"}}}, "ohsa-result/1")
    _bad(topic, {**ok, "assessment": {**ok["assessment"], "pain": 1}}, "pain")
    _bad(topic, {**ok, "assessment": {**ok["assessment"], "member": "1001"}}, "member")
    _bad(topic, {**ok, "assessment": {k: v for k, v in ok["assessment"].items() if k != "plan"}}, "lacks plan")
    _bad(topic, {**ok, "images": {"front": 5}}, "images")
    _bad(topic, b"\xff\xfe", "not UTF-8 JSON")
    _bad(topic, b'{"a": NaN}', "not UTF-8 JSON")
    _bad(topic, b"[1]", "JSON object")
    _bad(topic, b"[" * 200_000 + b"]" * 200_000, "nested too deeply")
    _bad(topic, b"x" * (m.MAX_BYTES + 1), "more than")
    st = m.status("s1", "online", "t", "v")
    _bad("ohsa/s1/status", {**st, "state": "sleeping"}, "state")
    h = m.health("s1", "t", 1, {}, 1)
    _bad("ohsa/s1/health", {**h, "sets_today": -1}, "sets_today")
    _bad("ohsa/s1/health", {**h, "cameras": {"front": 1}}, "cameras")
    a = m.alert("s1", "a1", "pain", None, "t", "")
    _bad("ohsa/s1/alert/a1", {**a, "assessment_id": "../x"}, "assessment_id")
    _bad("ohsa/s1/alert/a1", {**a, "member": {"number": 5}}, "member")


def test_builders_refuse_bad_ids_and_oversize():
    with pytest.raises(InputError, match="station id"):
        m.status("Gym 1", "online", "t", "v")
    with pytest.raises(InputError, match="reserved"):
        m.status("hub", "online", "t", "v")
    with pytest.raises(InputError, match="topic prefix"):
        m.status_topic("s1", "ohsa/#")
    with pytest.raises(InputError, match="assessment id"):
        m.assessment_topic("s1", "a/b")
    big = m.assessment("s1", "abc", 1, "t", _record(), images={"front": "A" * m.MAX_BYTES})
    with pytest.raises(InputError, match="more than"):
        m.encode(big)
    with pytest.raises(InputError, match="missing"):
        m.assessment("s1", "abc", 1, "t", {"label": ""})
