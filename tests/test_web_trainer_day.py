"""The trainer's and the owner's day (issue 15): compare that reads, progress on a fixed axis,
deletion with confirmation and undo (checked in the database itself), settings applied with a
restart and rolled back, the owner's page. Flask's test client over a real SQLite store.
"""

from __future__ import annotations

import datetime as dt
import re
import sqlite3

import pytest

from device import config as device_config
from device import settings_trial
from device.station.machine import Station
from device.store.store import UNDO_DAYS
from tests.hand_clock import HandClock
from tests.test_web import (  # noqa: F401  (fixtures)
    LAN, PASSWORD, app, client, clock, config_path, station, store, token_of, trainer,
)
from tests.web_fakes import sample_result, stills
from web import auth
from web.compare import verdict

T0 = dt.datetime(2026, 3, 2, 9, 15, tzinfo=dt.timezone.utc)


def _save(store, when, label="PQ", kind="standard", parent=None, images=True, **changes):
    return store.save_assessment(sample_result(**changes), None, stills() if images else {}, label=label,
                                 kind=kind, parent_id=parent, created_at=when)


def _row(store, aid):
    """The assessment's row read straight from the SQLite file (not through the Store)."""
    with sqlite3.connect(store.path) as db:
        return db.execute("SELECT id, deleted_at FROM assessments WHERE id = ?", (aid,)).fetchone()


# -- compare --------------------------------------------------------------------------------


def test_verdict_follows_the_threshold_direction():
    # knees_cave_in is flagged *below* its threshold: a higher ratio is better
    assert verdict("knees_cave_in", {"value": 0.71, "status": "present"}, {"value": 0.90, "status": "absent"}) == "better"
    assert verdict("knees_cave_in", {"value": 0.90, "status": "absent"}, {"value": 0.71, "status": "present"}) == "worse"
    # forward lean is flagged *above*: lower is better; a change under a quarter step (20/4) is "same"
    assert verdict("excessive_forward_lean", {"value": 38.0}, {"value": 30.0}) == "better"
    assert verdict("excessive_forward_lean", {"value": 38.0}, {"value": 41.0}) == "same"
    assert verdict("excessive_forward_lean", {"value": 38.0}, {"value": 45.0}) == "worse"
    assert verdict("feet_flatten", {"status": "not_assessed"}, {"value": 0.1, "status": "absent"}) == "not comparable"


def test_compare_reads_then_and_now_with_values_units_and_verdicts(trainer, store):
    then = _save(store, T0, knees_cave_in={"value": 0.71, "status": "present"},
                 excessive_forward_lean={"value": 38.0, "status": "present"})
    now = _save(store, T0 + dt.timedelta(days=21), knees_cave_in={"value": 0.90, "status": "absent"},
                excessive_forward_lean={"value": 45.0, "status": "present"})
    # chosen in either order, the earlier is "then"
    html = trainer.get(f"/trainer/compare?id={now}&id={then}").get_data(as_text=True)
    row = re.search(r'<tr id="row-knees_cave_in".*?</tr>', html, re.S).group(0)
    assert row.index("0.71") < row.index("0.90") and "higher is better" in row and "ratio" in row
    assert "<strong>better</strong>" in row and "verdict-better" in row
    lean = re.search(r'<tr id="row-excessive_forward_lean".*?</tr>', html, re.S).group(0)
    assert "38.0" in lean and "45.0" in lean and "lower is better" in lean and "<strong>worse</strong>" in lean
    feet = re.search(r'<tr id="row-feet_flatten".*?</tr>', html, re.S).group(0)
    assert "not comparable" in feet
    pair = re.search(r'<section class="stills-pair" id="stills-front">.*?</section>', html, re.S).group(0)
    assert pair.index(f"/result/{then}/front.jpg") < pair.index(f"/result/{now}/front.jpg")
    assert 'id="then-link"' in html and f'href="/trainer/a/{then}" id="then-link"' in html


def test_compare_with_nothing_chosen_helps_instead_of_naming_parameters(trainer, store):
    a = _save(store, T0, images=False)
    b = _save(store, T0 + dt.timedelta(days=1), images=False)
    other = _save(store, T0 + dt.timedelta(days=2), label="RS", images=False)
    r = trainer.get("/trainer/compare")
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and "Choose two assessments to compare" in html
    text = re.sub(r"<[^>]+>", " ", html)  # what the trainer reads
    assert "a=" not in text and "b=" not in text
    assert html.count('class="pick-card"') == 3 and html.count('name="id"') == 3
    # one chosen: the page offers that client's other assessments, the chosen one ticked
    html = trainer.get(f"/trainer/compare?id={a}").get_data(as_text=True)
    assert "choose one more" in html and f'value="{b}"' in html and f'value="{other}"' not in html
    assert re.search(rf'value="{a}" id="pick-{a}" checked', html)
    html = trainer.get(f"/trainer/compare?id={a}&id={b}&id={other}").get_data(as_text=True)
    assert "3 assessments were chosen; choose exactly two." in html


# -- progress -------------------------------------------------------------------------------


def test_progress_chart_has_a_fixed_axis_threshold_times_and_retests_apart(trainer, store):
    values = (0.78, 0.82, 0.81)  # noise-sized changes: must not look like a trend
    ids = []
    for i, v in enumerate(values):
        ids.append(_save(store, T0 + dt.timedelta(hours=3 * i), images=False,
                         knees_cave_in={"value": v, "status": "present" if v < 0.8 else "absent"}))
    _save(store, T0 + dt.timedelta(hours=7), kind="heels_raised", parent=ids[-1], images=False,
          knees_cave_in={"value": 1.0, "status": "absent"})
    html = trainer.get("/trainer/client?label=PQ").get_data(as_text=True)
    chart = re.search(r'<figure class="progress-chart" id="chart-knees_cave_in">.*?</figure>', html, re.S).group(0)
    ticks = [float(t) for t in re.findall(r'class="ytick"[^>]*>([^<]+)<', chart)]
    assert min(ticks) <= 0.4 and max(ticks) >= 1.2  # the threshold table's range 0.3-1.2, not 0.80-0.82
    assert 'class="threshold"' in chart and "threshold 0.8" in chart and "higher is better" in chart
    trend = re.search(r'<polyline class="trend" points="([^"]+)"', chart).group(1)
    assert len(trend.split()) == 3  # the three standard sets; the re-test is not in the line
    assert chart.count('class="retest"') == 1 and "re-test" in chart
    ys = [float(p.split(",")[1]) for p in trend.split()]
    assert max(ys) - min(ys) < 0.05 * 280  # the wobble stays a wobble on the page
    # date and time on the axis, distinct for three sets on one day
    labels = re.findall(r'<text class="xtick".*?</text>', chart)
    times = [re.findall(r"<tspan[^>]*>([^<]+)</tspan>", t)[1] for t in labels]
    assert len(labels) == 3 and len(set(times)) == 3
    assert all("Mar 2026" in t for t in labels)
    assert 'id="chart-feet_turn_out"' not in html  # never seen: no chart to follow
    assert "style=" not in chart and 'viewBox="0 0 720 280"' in chart


# -- deletion -------------------------------------------------------------------------------


def test_delete_asks_then_hides_and_undo_brings_it_back_in_the_database(trainer, store, clock):
    aid = _save(store, T0)
    html = trainer.get(f"/trainer/a/{aid}").get_data(as_text=True)
    assert f'href="/trainer/a/{aid}/delete"' in html  # a link to the confirmation, not a one-click POST
    page = trainer.get(f"/trainer/a/{aid}/delete").get_data(as_text=True)
    assert "Delete this assessment?" in page and f"{UNDO_DAYS} days" in page and 'id="confirm-delete"' in page
    # a POST without the confirmation deletes nothing
    r = trainer.post(f"/trainer/a/{aid}/delete", data={"csrf_token": trainer.csrf})
    assert r.status_code == 302 and _row(store, aid) == (aid, None)
    r = trainer.post(f"/trainer/a/{aid}/delete", data={"csrf_token": trainer.csrf, "confirm": "yes"})
    assert r.status_code == 302 and f"/trainer/deleted?just={aid}" in r.headers["Location"]
    row = _row(store, aid)
    assert row is not None and row[1] is not None  # kept, marked deleted
    assert trainer.get(f"/trainer/a/{aid}").status_code == 404
    assert trainer.get(f"/result/{aid}/front.jpg").status_code == 404
    assert aid not in trainer.get("/trainer/").get_data(as_text=True)
    listing = trainer.get("/trainer/deleted").get_data(as_text=True)
    assert f'id="undo-{aid}"' in listing
    assert [a["action"] for a in store.audit_lines(aid)][-1] == "deleted"
    r = trainer.post(f"/trainer/deleted/{aid}/restore", data={"csrf_token": trainer.csrf})
    assert r.status_code == 302 and _row(store, aid) == (aid, None)
    assert trainer.get(f"/trainer/a/{aid}").status_code == 200
    assert trainer.get(f"/result/{aid}/front.jpg").status_code == 200
    assert [a["action"] for a in store.audit_lines(aid)][-1] == "restored"


def test_a_deletion_is_purged_for_good_after_the_undo_period(store):
    keep, gone = _save(store, T0), _save(store, T0)
    retest = _save(store, T0 + dt.timedelta(minutes=5), kind="heels_raised", parent=gone)
    store.soft_delete(gone, now=T0 + dt.timedelta(days=1))
    assert _row(store, retest)[1] is not None  # the re-test goes with its set
    store.apply_retention(0, now=T0 + dt.timedelta(days=1 + UNDO_DAYS - 0.5))
    assert _row(store, gone) is not None  # still in the undo period
    store.apply_retention(0, now=T0 + dt.timedelta(days=1 + UNDO_DAYS + 0.5))
    assert _row(store, gone) is None and _row(store, retest) is None and _row(store, keep) == (keep, None)
    with sqlite3.connect(store.path) as db:
        assert db.execute("SELECT COUNT(*) FROM images WHERE assessment_id = ?", (gone,)).fetchone()[0] == 0
    assert store.restore(gone) is False


def test_only_the_owner_deletes(app, trainer, store):
    aid = _save(store, T0, images=False)
    store.add_account("sam", auth.hash_password("sam-trainer-9"), role="trainer", by="owner")
    other = app.test_client()
    csrf = token_of(other, "/trainer/login")
    assert other.post("/trainer/login", data={"name": "sam", "password": "sam-trainer-9", "csrf_token": csrf}).status_code == 302
    csrf = token_of(other, "/trainer/")
    assert other.get(f"/trainer/a/{aid}/delete").status_code == 403
    assert other.post(f"/trainer/a/{aid}/delete", data={"csrf_token": csrf, "confirm": "yes"}).status_code == 403
    assert other.get("/trainer/deleted").status_code == 403 and other.get("/trainer/owner").status_code == 403
    assert other.post("/trainer/settings/apply", data={"csrf_token": csrf}).status_code == 403
    assert _row(store, aid) == (aid, None)


# -- settings -------------------------------------------------------------------------------


def _form(html: str) -> dict:
    from tests.test_web import _settings_form

    return _settings_form(html)


class Restarts:
    """The in-process restart hook: reads the file as `ohsa run` does and brings the station up,
    except when a replay camera's file does not exist (the station would not come up)."""

    def __init__(self, station, path):
        self.station, self.path, self.configs = station, path, []

    def __call__(self):
        config = device_config.load(self.path)  # the same check as at start
        self.configs.append(config)
        source = config.cameras.front.source
        up = not source or __import__("pathlib").Path(source).exists()
        self.station.set(state="idle" if up else "not_running", safe_mode=None)


@pytest.fixture
def hooks(app, station, config_path):
    restart_clock = HandClock(0.0)
    restarts = Restarts(station, config_path)
    app.extensions["ohsa"].update(restart=restarts, restart_clock=restart_clock, sleep=restart_clock.advance,
                                  restart_timeout_s=30.0)
    return restarts, restart_clock


def test_settings_form_carries_help_and_ranges_from_the_schema(trainer):
    html = trainer.get("/trainer/settings").get_data(as_text=True)
    assert 'id="apply-settings"' in html and "Apply and restart" in html
    field = re.search(r'<label>target reps.*?</label>', html, re.S).group(0)
    assert "Reps in one set" in field and 'min="1"' in field and 'max="20"' in field and "1 to 20" in field
    assert "after a restart" not in html


def test_apply_restarts_and_keeps_settings_that_come_up(trainer, config_path, hooks, store):
    restarts, restart_clock = hooks
    form = _form(trainer.get("/trainer/settings").get_data(as_text=True))
    form.update({"station.target_reps": "6", "csrf_token": trainer.csrf})
    r = trainer.post("/trainer/settings/apply", data=form)
    assert r.status_code == 302 and "outcome=applied" in r.headers["Location"]
    assert device_config.load(config_path).station.target_reps == 6
    assert len(restarts.configs) == 1 and restarts.configs[0].station.target_reps == 6
    assert settings_trial.last_good_path(config_path).read_text() == config_path.read_text()
    assert settings_trial.pending_trial(store.path.parent) is None
    assert restart_clock() == 0.0  # up at the first look: no waiting


def test_apply_rolls_back_when_the_station_does_not_come_up(trainer, config_path, hooks, tmp_path):
    restarts, restart_clock = hooks
    form = _form(trainer.get("/trainer/settings").get_data(as_text=True))
    form.update({"station.target_reps": "6", "csrf_token": trainer.csrf})
    trainer.post("/trainer/settings/apply", data=form)
    good = config_path.read_text()
    form.update({"station.target_reps": "7", "cameras.front.backend": "replay",
                 "cameras.front.source": str(tmp_path / "no-such-video.mp4")})
    r = trainer.post("/trainer/settings/apply", data=form, follow_redirects=True)
    html = r.get_data(as_text=True)
    assert "outcome=rolled_back" in r.request.url or "did not work" in html
    assert "the previous settings are back and the station is up again" in html
    assert config_path.read_text() == good  # the last good settings, byte for byte
    assert [c.station.target_reps for c in restarts.configs] == [6, 7, 6]  # tried, then back
    assert restart_clock() >= 30.0  # it waited the whole timeout (on the injected clock) before giving up


def test_apply_refuses_a_bad_value_before_any_restart(trainer, config_path, hooks):
    restarts, _ = hooks
    form = _form(trainer.get("/trainer/settings").get_data(as_text=True))
    form.update({"station.target_reps": "99", "csrf_token": trainer.csrf})
    r = trainer.post("/trainer/settings/apply", data=form)
    assert r.status_code == 400 and "station.target_reps" in r.get_data(as_text=True)
    assert restarts.configs == [] and not config_path.exists()


def test_a_trial_that_never_settled_rolls_back_at_the_next_start(tmp_path):
    path, data = tmp_path / "ohsa.toml", tmp_path / "data"
    data.mkdir()
    path.write_text("[station]\ntarget_reps = 6\n")
    settings_trial.begin("[station]\ntarget_reps = 7\n", path, data)
    settings_trial.before_start(path, data)  # first start on the new settings ...
    assert "target_reps = 7" in path.read_text()
    settings_trial.before_start(path, data)  # ... it hung and systemd started it again
    assert path.read_text() == "[station]\ntarget_reps = 6\n"
    settings_trial.begin("[station]\ntarget_reps = 8\n", path, data)
    assert settings_trial.settle_at_start(False, path, data) is True and "= 6" in path.read_text()
    settings_trial.begin("[station]\ntarget_reps = 8\n", path, data)
    assert settings_trial.settle_at_start(True, path, data) is False and "= 8" in path.read_text()
    assert settings_trial.last_good_path(path).read_text() == path.read_text()


# -- the owner's page -----------------------------------------------------------------------


def test_the_machine_reports_each_set_cut_short(tmp_path):
    reasons = []
    clock = HandClock()
    machine = Station({}, clock=clock, on_stopped=reasons.append)
    machine.start()  # no camera is online: the set stops at once
    assert reasons == ["camera_offline"]
    machine.press()
    for view in ("front", "side"):
        machine.set_camera(view, True)
    machine.start()
    machine.cancel()
    assert reasons == ["camera_offline", "cancelled"]


def test_owner_page_shows_use_stops_cameras_and_disk(trainer, store, clock):
    now = dt.datetime.fromtimestamp(clock(), dt.timezone.utc)
    placed_badly = {"status": "not_assessed", "value": None, "reason": "side camera off square",
                    "reason_code": "camera_placement"}
    for i in range(3):
        result = sample_result(excessive_forward_lean=placed_badly, arms_fall_forward=placed_badly)
        result["geometry"] = {"round_toward_front_deg": 40.0 + i}
        store.save_assessment(result, None, {}, created_at=now - dt.timedelta(days=i))
    for reason in ("pain", "person_left", "person_left"):
        store.add_stopped_set(reason, now - dt.timedelta(hours=1))
    html = trainer.get("/trainer/owner").get_data(as_text=True)
    assert re.search(r'id="card-results"><div class="big">3<', html)
    assert re.search(r'id="card-stopped"><div class="big">3<', html) and "(50 % of sets)" in html
    assert re.search(r'id="stop-person_left">.*?<td>2</td>', html, re.S)
    assert "pain reported" in html
    side = re.search(r'<tr id="camera-side">.*?</tr>', html, re.S).group(0)
    assert "camera_placement</code> 6" in side and "41° toward the front" in side and "median of 3" in side
    front = re.search(r'<tr id="camera-front">.*?</tr>', html, re.S).group(0)
    assert "not estimated" in front
    assert "disk in use" in html and re.search(r'id="card-uptime"><div class="big">42 s<', html)  # the fake's uptime


def test_a_deleted_assessment_leaves_the_member_pages_but_stays_in_their_export(store):
    aid = _save(store, T0)
    store.link_member(aid, "M-7", by="owner")
    member = store.member_by_number("M-7")
    store.soft_delete(aid, now=T0 + dt.timedelta(days=1))
    assert store.member_assessments(member["id"]) == [] and store.members_overview() == []
    export = store.member_export(member["id"])  # still held during the undo period: still theirs
    assert [a["id"] for a in export["assessments"]] == [aid] and f"{aid}-front.jpg" in export["stills"]
    store.erase_member(member["id"], by="owner")
    assert _row(store, aid) is None  # erasing a member takes what waits in the deleted list too


def test_under_systemd_apply_asks_the_helper_unit_and_the_next_start_settles(trainer, config_path, store, tmp_path,
                                                                            monkeypatch):
    run_dir = tmp_path / "run-ohsa"
    run_dir.mkdir()
    monkeypatch.setenv("INVOCATION_ID", "0123456789abcdef")
    monkeypatch.setenv("RUNTIME_DIRECTORY", str(run_dir))
    config_path.write_text("[station]\ntarget_reps = 6\n")
    form = _form(trainer.get("/trainer/settings").get_data(as_text=True))
    form.update({"station.target_reps": "7", "csrf_token": trainer.csrf})
    r = trainer.post("/trainer/settings/apply", data=form)
    assert r.status_code == 200 and 'id="restarting"' in r.get_data(as_text=True)
    assert (run_dir / settings_trial.RESTART_REQUEST).read_text() == "restart\n"  # a file, never a command
    assert device_config.load(config_path).station.target_reps == 7
    data_dir = store.path.parent
    settings_trial.before_start(config_path, data_dir)
    assert settings_trial.settle_at_start(False, config_path, data_dir) is True  # it did not come up
    assert config_path.read_text() == "[station]\ntarget_reps = 6\n"


def test_compare_shows_each_sets_own_threshold_not_the_table_default():
    from web.compare import rows

    # feet judged against the mat's printed footprints carry their own threshold (12, not 10)
    then = {"result": {"compensations": {"feet_turn_out": {"value": 8.0, "status": "absent", "threshold": 12.0}}}}
    now = {"result": {"compensations": {"feet_turn_out": {"value": 14.0, "status": "present", "threshold": 12.0}}}}
    row = next(r for r in rows(then, now) if r["id"] == "feet_turn_out")
    assert row["threshold"] == 12.0
    bare = next(r for r in rows({"result": {"compensations": {}}}, {"result": {"compensations": {}}})
                if r["id"] == "feet_turn_out")
    from device.thresholds import THRESHOLDS
    from device.vocabulary import COMPENSATIONS

    assert bare["threshold"] == THRESHOLDS[COMPENSATIONS["feet_turn_out"].threshold].value != 12.0
