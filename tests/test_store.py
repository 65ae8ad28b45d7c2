"""The SQLite store: round trips, search, overrides, links, retention, deletion, migrations."""

from __future__ import annotations

import datetime as dt
import json
import random
import sqlite3
import threading

import pytest

from device.errors import InputError
from device.store import VERSION, NotFound, Store, store as store_module
from device.store.demo import demo_jpeg, demo_result, demo_track, fill
from device.store.schema import MIGRATIONS
from device.vocabulary import ABSENT, COMPENSATION_IDS, NOT_ASSESSED, PRESENT


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "ohsa.db")
    yield s
    s.close()


def _result(**statuses) -> dict:
    r = demo_result(random.Random(1))
    for cid in COMPENSATION_IDS:
        r["compensations"][cid].update(status=ABSENT, side=None)
    for cid, status in statuses.items():
        r["compensations"][cid]["status"] = status
    return r


def _images() -> dict:
    return {"front": demo_jpeg("front"), "side": demo_jpeg("side")}


def test_pragmas_and_schema_version(store):
    db = sqlite3.connect(store.path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA user_version").fetchone()[0] == VERSION == len(MIGRATIONS)
    db.close()
    with store._lock:
        assert store._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        assert store._db.execute("PRAGMA foreign_keys").fetchone()[0] == 1


def test_save_and_get_round_trip(store):
    result = _result(knees_cave_in=PRESENT)
    track = demo_track(random.Random(2))
    images = _images()
    aid = store.save_assessment(result, track, images, label="  AB  12 ", notes="first visit",
                                station_version="9.9", model_sha256="ab" * 32)
    assert len(aid) == 12 and int(aid, 16) >= 0
    got = store.get(aid)
    assert got["label"] == "AB 12" and got["notes"] == "first visit"
    assert got["kind"] == "standard" and got["parent_id"] is None and got["pain"] is False
    assert got["result"] == result == got["result_original"]
    assert got["versions"] == {"station": "9.9", "model_sha256": "ab" * 32}
    assert got["images"] == ["front", "side"] and got["plan"] is None
    created = dt.datetime.fromisoformat(got["created_at"])
    assert created.tzinfo is not None and abs(created - dt.datetime.now(dt.timezone.utc)).total_seconds() < 60
    assert store.get_track(aid) == track
    assert store.get_image(aid, "front") == images["front"]
    assert store.get_image(aid, "side") == images["side"]
    assert store.get_image(aid, "../etc/passwd") is None
    assert store.get("nope") is None and store.get_track("nope") is None
    # the track is stored compressed
    with store._lock:
        enc, blob = store._db.execute("SELECT encoding, data FROM tracks").fetchone()
    assert enc == "zlib+json" and len(blob) < len(json.dumps(track)) / 3


def test_retests_link_to_their_parent(store):
    parent = store.save_assessment(_result(heels_rise=PRESENT), None, _images(), label="CD")
    child = store.save_assessment(_result(), None, {"front": demo_jpeg("front")}, label="CD",
                                  kind="heels_raised", parent_id=parent)
    assert store.get(child)["parent_id"] == parent and store.get(child)["kind"] == "heels_raised"
    assert store.get(parent)["retests"] == [child]
    assert store.get(child)["images"] == ["front"] and store.get_track(child) is None
    with pytest.raises(NotFound, match="parent_id"):
        store.save_assessment(_result(), None, {}, parent_id="000000000000")
    store.delete(parent)
    assert store.get(child)["parent_id"] is None  # ON DELETE SET NULL
    assert store.integrity_check()


@pytest.mark.parametrize("kwargs, match", [
    ({"result": {"format": "other"}}, "ohsa-result/1"),
    ({"result": "text"}, "ohsa-result/1"),
    ({"images": {"top": b"\xff\xd8\xff\xe0"}}, "unknown view"),
    ({"images": {"front": b"\x89PNG...."}}, "not JPEG"),
    ({"images": {"front": b"\xff\xd8\xff" + bytes(3_000_000)}}, "more than"),
    ({"kind": "video"}, "kind"),
    ({"track": [1, 2]}, "track"),
])
def test_bad_input_is_one_clear_error(store, kwargs, match):
    args = {"result": _result(), "track": None, "images": {}}
    args.update(kwargs)
    with pytest.raises(InputError, match=match):
        store.save_assessment(args.pop("result"), args.pop("track"), args.pop("images"), **args)
    assert store.count() == 0


def test_list_search_dates_and_paging(store):
    base = dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.timezone.utc)
    ids = {}
    for i, label in enumerate(["AB", "ab", "XY", "50%_off", "O'Brien", ""]):
        ids[label] = store.save_assessment(_result(), None, {}, label=label,
                                           created_at=base + dt.timedelta(days=i))
    assert store.count() == 6
    assert [r["label"] for r in store.list()] == ["", "O'Brien", "50%_off", "XY", "ab", "AB"]
    by_id = {label for label, aid in ids.items() if "ab" in aid}  # ids are random hex: may hold "ab"
    assert {r["label"] for r in store.list("ab")} == {"AB", "ab"} | by_id  # case-insensitive
    # LIKE wildcards are literal, quotes are harmless
    assert [r["label"] for r in store.list("%")] == ["50%_off"]
    assert [r["label"] for r in store.list("_")] == ["50%_off"]
    assert [r["label"] for r in store.list("O'B")] == ["O'Brien"]
    assert store.list("'; DROP TABLE assessments; --") == []
    assert store.count("\\") == 0 and store.count() == 6
    # search by id prefix too
    assert [r["id"] for r in store.list(ids["XY"][:6])] == [ids["XY"]]
    # dates: plain dates are whole days, date_to inclusive
    assert store.count(date_from="2026-03-11", date_to="2026-03-12") == 2
    assert store.count(date_from=dt.date(2026, 3, 14)) == 2
    assert store.count(date_to=dt.date(2026, 3, 10)) == 1
    assert store.count(date_from=base + dt.timedelta(days=1, hours=1)) == 4
    with pytest.raises(InputError, match="date_from"):
        store.count(date_from="last tuesday")
    # paging
    page1, page2 = store.list(limit=4), store.list(limit=4, offset=4)
    assert len(page1) == 4 and len(page2) == 2
    assert not {r["id"] for r in page1} & {r["id"] for r in page2}
    assert set(store.list(limit=1)[0]) >= {"id", "created_at", "label", "kind", "findings", "pain"}


def test_overrides_apply_keep_originals_and_update_lists(store):
    aid = store.save_assessment(_result(knees_cave_in=PRESENT, head_down=NOT_ASSESSED), None, {})
    assert store.list()[0]["findings"] == ["knees_cave_in"]
    store.override_finding(aid, "knees_cave_in", ABSENT, "camera angle, knees fine live")
    store.override_finding(aid, "arms_fall_forward", PRESENT, "seen live")
    got = store.get(aid)
    kci = got["result"]["compensations"]["knees_cave_in"]
    assert kci["status"] == ABSENT and kci["original_status"] == PRESENT
    assert kci["override"]["note"] == "camera angle, knees fine live"
    assert got["result_original"]["compensations"]["knees_cave_in"]["status"] == PRESENT
    assert set(got["overrides"]) == {"knees_cave_in", "arms_fall_forward"}
    assert store.list()[0]["findings"] == ["arms_fall_forward"] and store.list()[0]["overridden"]
    # overriding again replaces; None removes
    store.override_finding(aid, "arms_fall_forward", NOT_ASSESSED, "")
    store.override_finding(aid, "knees_cave_in", None)
    got = store.get(aid)
    assert got["result"]["compensations"]["knees_cave_in"]["status"] == PRESENT
    assert "original_status" not in got["result"]["compensations"]["knees_cave_in"]
    assert store.list()[0]["findings"] == ["knees_cave_in"]
    with pytest.raises(InputError, match="compensation_id"):
        store.override_finding(aid, "elbows_wobble", PRESENT, "")
    with pytest.raises(InputError, match="status"):
        store.override_finding(aid, "head_down", "maybe", "")
    with pytest.raises(NotFound):
        store.override_finding("000000000000", "head_down", PRESENT, "")


def test_notes_label_plan_and_missing_ids(store):
    aid = store.save_assessment(_result(), None, {})
    store.set_notes(aid, "likes kettlebells")
    store.set_label(aid, "Z9")
    plan = {"phases": [{"phase": "inhibit", "exercises": [{"name": "Calf foam roll"}]}]}
    store.set_plan(aid, plan)
    got = store.get(aid)
    assert (got["notes"], got["label"], got["plan"]) == ("likes kettlebells", "Z9", plan)
    assert store.list()[0]["plan_edited"]
    store.set_plan(aid, None)
    assert store.get(aid)["plan"] is None
    store.set_pain(aid)
    assert store.get(aid)["pain"] is True and store.list()[0]["pain"] is True
    store.set_pain(aid, False)
    assert store.get(aid)["pain"] is False
    for call in (lambda: store.set_notes("x", ""), lambda: store.set_label("x", ""),
                 lambda: store.set_plan("x", {}), lambda: store.set_pain("x")):
        with pytest.raises(NotFound):
            call()
    with pytest.raises(InputError):
        store.set_plan(aid, ["not", "a", "dict"])


def test_client_history_oldest_first_with_overrides(store):
    base = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    a = store.save_assessment(_result(knees_cave_in=PRESENT), None, {}, label="M7",
                              created_at=base + dt.timedelta(days=30))
    b = store.save_assessment(_result(knees_cave_in=PRESENT, heels_rise=PRESENT), None, {},
                              label="m7", created_at=base)
    store.save_assessment(_result(), None, {}, label="M8", created_at=base)
    store.override_finding(a, "knees_cave_in", ABSENT, "")
    hist = store.client_history("M7")
    assert [h["id"] for h in hist] == [b, a]
    assert hist[0]["findings"] == ["heels_rise", "knees_cave_in"] or \
        set(hist[0]["findings"]) == {"heels_rise", "knees_cave_in"}
    assert hist[1]["findings"] == []
    m = hist[0]["measurements"]["knees_cave_in"]
    assert m["status"] == PRESENT and isinstance(m["value"], float) and m["unit"]
    assert set(hist[0]["measurements"]) == set(COMPENSATION_IDS)
    assert store.client_history("") == [] and store.client_history("nobody") == []


def test_share_tokens_expire(store, monkeypatch):
    aid = store.save_assessment(_result(), None, {})
    token = store.create_share_token(aid, 30)
    assert len(token) >= 20 and token != store.create_share_token(aid, 30)
    assert store.resolve_share_token(token) == aid
    assert store.resolve_share_token(token + "x") is None
    assert store.resolve_share_token("") is None and store.resolve_share_token(None) is None
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=31)
    monkeypatch.setattr(store_module, "utc_now", lambda: later)
    assert store.resolve_share_token(token) is None
    with pytest.raises(NotFound):
        store.create_share_token("000000000000", 1)


def test_meta(store):
    assert store.get_meta("password_hash") is None
    assert store.get_meta("password_hash", "") == ""
    store.set_meta("password_hash", "pbkdf2:abc")
    store.set_meta("password_hash", "pbkdf2:def")
    assert store.get_meta("password_hash") == "pbkdf2:def"
    store.set_meta("password_hash", None)
    assert store.get_meta("password_hash") is None


def test_retention_deletes_only_old_assessments(store):
    now = dt.datetime(2026, 6, 1, tzinfo=dt.timezone.utc)
    old = store.save_assessment(_result(), None, _images(), created_at=now - dt.timedelta(days=40))
    store.override_finding(old, "head_down", PRESENT, "")
    store.create_share_token(old, 1000)
    new = store.save_assessment(_result(), None, _images(), created_at=now - dt.timedelta(days=10))
    assert store.apply_retention(0, now=now) == 0 and store.count() == 2  # 0 keeps forever
    assert store.apply_retention(30, now=now) == 1
    assert store.get(old) is None and store.get(new) is not None
    assert store.get_image(old, "front") is None
    with store._lock:
        for table in ("images", "overrides", "share_tokens", "tracks"):
            assert store._db.execute(
                f"SELECT COUNT(*) FROM {table} WHERE assessment_id = ?", (old,)).fetchone()[0] == 0
    assert store.integrity_check()


def _file_bytes(path) -> bytes:
    data = path.read_bytes()
    wal = path.with_name(path.name + "-wal")
    return data + (wal.read_bytes() if wal.exists() else b"")


def test_delete_client_really_removes_the_bytes(store):
    fill(store, 20, seed=3, with_tracks=False)

    def jpeg_with(marker: bytes) -> bytes:
        return demo_jpeg("front")[:-2] + marker * 50 + b"\xff\xd9"

    secret = {"label": "ZQ-4711", "notes": "NOTE-knee-surgery-2019", "img": b"IMGSECRET-77"}
    keep = {"label": "KEEP-1234", "notes": "NOTE-keep-me", "img": b"IMGKEEP-88"}
    r = demo_result(random.Random(5))
    r["compensations"]["head_down"]["reason"] = "REASON-secret-xyz"
    for _ in range(3):
        store.save_assessment(r, demo_track(random.Random(6)), {"front": jpeg_with(secret["img"])},
                              label=secret["label"], notes=secret["notes"])
    store.save_assessment(_result(), None, {"front": jpeg_with(keep["img"])},
                          label=keep["label"], notes=keep["notes"])
    before = _file_bytes(store.path)
    assert secret["label"].encode() in before and secret["img"] in before  # the check can fail
    assert store.delete_client("zq-4711") == 3
    after = _file_bytes(store.path)
    for marker in (secret["label"].encode(), secret["notes"].encode(), secret["img"], b"REASON-secret-xyz"):
        assert marker not in after, marker
    for marker in (keep["label"].encode(), keep["notes"].encode(), keep["img"]):
        assert marker in after, marker
    assert store.count(secret["label"]) == 0 and store.count() == 21
    assert store.integrity_check()
    with pytest.raises(InputError, match="label"):
        store.delete_client("  ")


def test_delete_one_really_removes_the_bytes(store):
    aid = store.save_assessment(_result(), None, {"front": demo_jpeg("front")[:-2] + b"GONE-GONE" * 40 + b"\xff\xd9"},
                                label="DEL-ONE-LABEL")
    other = store.save_assessment(_result(), None, {}, label="STAYS")
    assert store.delete(aid) is True and store.delete(aid) is False
    after = _file_bytes(store.path)
    assert b"GONE-GONE" not in after and b"DEL-ONE-LABEL" not in after and b"STAYS" in after
    assert store.get(other) is not None


def _v1_database(path):
    """A database as the first release wrote it (schema version 1) with one assessment."""
    db = sqlite3.connect(path)
    for sql in MIGRATIONS[0]:
        db.execute(sql)
    db.execute("PRAGMA user_version = 1")
    result = _result(knees_cave_in=PRESENT, head_forward=PRESENT)
    db.execute("INSERT INTO assessments (id, created_at, label, notes, result_json, station_version,"
               " model_sha256) VALUES ('0123456789ab', '2025-01-02T03:04:05.000000Z', 'OLD', '',"
               " ?, '0.0.1', '')", (json.dumps(result),))
    db.execute("INSERT INTO images VALUES ('0123456789ab', 'front', ?)", (demo_jpeg("front"),))
    db.execute("INSERT INTO meta VALUES ('secret_key', 'abc')")
    db.commit()
    db.close()
    return result


def test_old_database_is_migrated(tmp_path):
    path = tmp_path / "old.db"
    result = _v1_database(path)
    with Store(path) as s:
        assert s.version == VERSION
        got = s.get("0123456789ab")
        assert got["result"] == result and got["kind"] == "standard" and got["pain"] is False
        assert got["images"] == ["front"] and s.get_meta("secret_key") == "abc"
        row = s.list()[0]
        assert row["reps"] == 5 and set(row["findings"]) == {"knees_cave_in", "head_forward"}
        # the new tables work on the upgraded file
        s.override_finding("0123456789ab", "head_forward", ABSENT, "")
        assert s.list()[0]["findings"] == ["knees_cave_in"]
        assert s.integrity_check()
    with Store(path) as s:  # opening again is a no-op
        assert s.version == VERSION and s.count() == 1


def test_newer_or_foreign_files_are_refused(tmp_path):
    newer = tmp_path / "newer.db"
    db = sqlite3.connect(newer)
    db.execute(f"PRAGMA user_version = {VERSION + 1}")
    db.close()
    with pytest.raises(InputError, match="newer than this station"):
        Store(newer)
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(InputError, match="junk.db"):
        Store(junk)


def test_many_threads_share_one_store(store):
    errors = []

    def worker(n):
        try:
            for i in range(15):
                aid = store.save_assessment(_result(), None, {"front": demo_jpeg("front")},
                                            label=f"T{n}")
                assert store.get(aid)["label"] == f"T{n}"
                store.list(f"T{n}")
                store.set_notes(aid, f"{i}")
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert store.count() == 90 and all(store.count(f"T{n}") == 15 for n in range(6))
    assert store.integrity_check()


def test_vacuum_gives_space_back(store):
    ids = fill(store, 30, seed=9)
    store.close()
    store = Store(store.path)
    before = store.path.stat().st_size
    for aid in ids[:25]:
        store.delete(aid)
    assert store.path.stat().st_size == before  # deleting zeroes pages, it does not shrink
    store.vacuum()
    assert store.path.stat().st_size < before / 2
    assert store.count() == 5 and store.integrity_check()
    store.close()


def test_a_failing_migration_changes_nothing(tmp_path, monkeypatch):
    path = tmp_path / "m.db"
    Store(path).close()
    broken = (
        "CREATE TABLE half_done (x INTEGER)",
        "ALTER TABLE no_such_table ADD COLUMN y TEXT",
    )
    monkeypatch.setattr(store_module, "MIGRATIONS", MIGRATIONS + [broken])
    with pytest.raises(InputError, match="m.db"):
        Store(path)
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == VERSION
    assert db.execute("SELECT name FROM sqlite_master WHERE name = 'half_done'").fetchone() is None
    db.close()
    monkeypatch.setattr(store_module, "MIGRATIONS", MIGRATIONS + [("CREATE TABLE later (x INTEGER)",)])
    with Store(path) as s:
        assert s.version == VERSION + 1 and s.integrity_check()


def test_numpy_values_and_nan_are_stored_as_plain_json(store):
    import numpy as np
    r = _result(knees_cave_in=PRESENT)
    r["compensations"]["knees_cave_in"].update(value=np.float64(0.7), reps_flagged=np.int64(4),
                                               rep_values=[0.7, float("nan"), None])
    track = {"format": "ohsa-keypoints/1", "views": {"front": {"width": 640, "height": 480, "fps": 30,
             "frames": [{"t": 0.0, "keypoints": np.full((17, 3), np.nan).tolist()}]}}}
    aid = store.save_assessment(r, track, {})
    kci = store.get(aid)["result"]["compensations"]["knees_cave_in"]
    assert kci["value"] == 0.7 and kci["reps_flagged"] == 4 and kci["rep_values"] == [0.7, None, None]
    back = store.get_track(aid)["views"]["front"]["frames"][0]["keypoints"]
    assert len(back) == 17 and all(v != v for v in back[0])  # NaN (a lost keypoint) round-trips
    with pytest.raises(InputError, match="JSON"):
        store.save_assessment({**_result(), "extra": object()}, None, {})


def test_demo_results_describe_compensations_as_the_threshold_table_does():
    """Demo data (pages, benchmarks) must not contradict the real table: units, thresholds,
    which side of the threshold a present or absent value lies, severity by the real step."""
    from device import verdict
    from device.thresholds import THRESHOLDS
    from device.vocabulary import COMPENSATIONS

    rng = random.Random(3)
    seen = set()
    for _ in range(60):
        for cid, e in demo_result(rng)["compensations"].items():
            name = COMPENSATIONS[cid].threshold
            if name is None:
                assert e["status"] == "not_assessed" and e["reason_code"] == "cannot_measure", cid
                continue
            spec = THRESHOLDS[name]
            assert (e["unit"], e["threshold"]) == (spec.unit, spec.value), cid
            if e["status"] in ("present", "absent"):
                past = verdict.flagged(e["value"], spec.value, spec.direction)
                assert past == (e["status"] == "present"), (cid, e)
                want = verdict.severity(e["value"], spec.value, spec.step, spec.direction) if past else "none"
                assert e["severity"] == want, (cid, e)
                seen.add((cid, e["status"]))
    assert {("knees_cave_in", "present"), ("head_forward", "present"), ("asymmetric_weight_shift", "absent")} <= seen
