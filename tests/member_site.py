"""A served station with member results in it, and the real Chromium, for the member page tests.

No tests here; tests/test_member_*.py use it. One browser and one site per test module.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from device import config as device_config
from device.store import Store
from tests.web_fakes import FakeStation, sample_result, stills
from web import create_app
from web.server import serve

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
KIOSK = {"width": 800, "height": 480}
TABLET = {"width": 768, "height": 1024}
PHONE = {"width": 390, "height": 844}
AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"

PRIVATE_NOTE = "Private: left knee surgery in 2019"  # the trainer's notes on the client
PLAN_NOTE = "Go gently on the left."  # a trainer's note on one exercise of the plan

# Not-assessed entries as the rules write them: the technical reason and its machine code.
UNCHECKED = {
    "feet_flatten": {"status": "not_assessed", "reason_code": "cannot_measure",
                     "reason": "MoveNet's 17 keypoints have no toe or heel points"},
    "low_back_round": {"status": "not_assessed", "reason_code": "silhouette_unclear", "value": None,
                       "reason": "the silhouette of the low back is not reliable (contour score 0.41)"},
    "head_down": {"status": "not_assessed", "reason_code": "camera_placement", "value": None,
                  "reason": "the side camera is about 21 degrees off square (at most 15)"},
}


def typical_result() -> dict:
    """Two findings (knees cave in on the left, chest leans forward), three checks not made."""
    return sample_result(**UNCHECKED)


def retest_result() -> dict:
    """The typical set again with heels raised: the knees stay in line, the lean stays."""
    from device.analysis.retest import compare

    result = sample_result(knees_cave_in={"status": "absent", "reps_flagged": 0, "side": None}, **UNCHECKED)
    result["retest"] = compare(typical_result(), result, "heels_raised")
    return result


def launch(sync_api):
    return sync_api.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)


def browser_fixture():
    """Body of a module-scoped `browser` fixture (a generator)."""
    if not shutil.which(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is missing (apt install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = launch(p)
        yield b
        b.close()


class Site:
    """Waitress on a free port over a temporary store; `ids` names the stored results."""

    def __init__(self, folder: Path, config: dict | None = None):
        self.store = Store(folder / "assessments.db")
        self.station = FakeStation()
        self.ids = {
            "typical": self.store.save_assessment(typical_result(), None, stills(), label="MK", station_version="test"),
            "nothing": self.store.save_assessment(sample_result(
                knees_cave_in={"status": "absent", "reps_flagged": 0, "side": None},
                excessive_forward_lean={"status": "absent", "reps_flagged": 0},
                feet_flatten={"reason_code": "cannot_measure"}), None, {}, station_version="test"),
            "pain": self.store.save_assessment(typical_result(), None, {}, pain=True, station_version="test"),
        }
        self.ids["retest"] = self.store.save_assessment(
            retest_result(), None, stills(), kind="heels_raised", parent_id=self.ids["typical"], station_version="test")
        self.store.set_notes(self.ids["typical"], PRIVATE_NOTE)
        self._note_plan(self.ids["typical"])
        config = device_config.validate({}) if config is None else config
        self.server = serve(create_app(self.store, self.station, config=config, data_dir=folder,
                                       config_path=folder / "ohsa.toml"), "127.0.0.1", 0)
        self.url = self.server.url

    def _note_plan(self, aid: str) -> None:
        """The trainer's edit of the plan: a note on its first exercise (private to the screen)."""
        from web import present

        plan = present.plan_for(self.store.get(aid))
        plan["phases"][0]["exercises"][0]["trainer_note"] = PLAN_NOTE
        self.store.set_plan(aid, plan)

    def share(self, name: str) -> str:
        return f"{self.url}/s/{self.store.create_share_token(self.ids[name], 1)}"

    def close(self) -> None:
        self.server.stop()
        self.store.close()


def wait_js(page, expression: str, timeout: float = 10.0) -> None:
    """Poll a JS expression (page.wait_for_function evaluates strings, which the CSP forbids)."""
    end = time.monotonic() + timeout
    while not page.evaluate(expression):
        assert time.monotonic() < end, f"timed out waiting for {expression}"
        time.sleep(0.05)


def box(page, selector: str) -> dict:
    b = page.locator(selector).first.bounding_box()
    assert b is not None, f"{selector} is not rendered"
    return b


def overlap(a: dict, b: dict) -> bool:
    return (a["x"] < b["x"] + b["width"] and b["x"] < a["x"] + a["width"]
            and a["y"] < b["y"] + b["height"] and b["y"] < a["y"] + a["height"])


def inside(b: dict, viewport: dict) -> bool:
    return b["x"] >= 0 and b["y"] >= 0 and b["x"] + b["width"] <= viewport["width"] + 0.5 \
        and b["y"] + b["height"] <= viewport["height"] + 0.5
