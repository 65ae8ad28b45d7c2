"""Exercise figures: every exercise has one, drawn from its key poses as valid, accessible SVG."""

from __future__ import annotations

import copy
import math
import xml.etree.ElementTree as ET

import pytest

from device.errors import InputError
from device.plan import figures, load_library
from device.plan import library as libmod
from device.plan.library import figure_svg
from device.plan.words import check_member_text

SVG = "{http://www.w3.org/2000/svg}"


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


@pytest.mark.parametrize("ex_id", sorted(load_library()["exercises"]))
def test_every_exercise_has_a_valid_accessible_figure(ex_id):
    svg = figure_svg(ex_id)
    root = parse(svg)  # well-formed XML
    assert root.tag == f"{SVG}svg" and root.get("role") == "img"
    title = root.find(f"{SVG}title")
    assert title is not None and title.text == root.get("aria-label")
    name = load_library()["exercises"][ex_id]["member_name"]
    assert title.text.startswith(name) and check_member_text(title.text) == []
    assert " id=" not in svg  # several figures share a page: no duplicate ids
    x0, y0, w, h = map(float, root.get("viewBox").split())
    assert abs(w / h - figures.ASPECT) < 0.01
    # a body for each pose (faint ones first), a head each, and an arrow with its head
    bodies = root.findall(f"{SVG}g")
    n_poses = len(load_library()["exercises"][ex_id]["figure"]["poses"])
    assert len(bodies) == n_poses and bodies[-1].get("opacity") == "1"
    assert all(float(g.get("opacity")) < 1 for g in bodies[:-1])
    assert all(len(g.findall(f"{SVG}circle")) == 1 and len(g.findall(f"{SVG}line")) >= 10 for g in bodies)
    assert root.find(f"{SVG}path") is not None and root.find(f"{SVG}polygon") is not None
    # everything inside the frame
    for el in root.iter(f"{SVG}line"):
        for k in ("x1", "x2"):
            assert x0 - 1 <= float(el.get(k)) <= x0 + w + 1, (ex_id, el.attrib)
        for k in ("y1", "y2"):
            assert y0 - 1 <= float(el.get(k)) <= y0 + h + 1, (ex_id, el.attrib)
    assert len(svg) < 6000  # six of them on a page stay small


def test_figures_are_deterministic_and_keep_limb_lengths():
    lib = load_library()
    assert figure_svg.__wrapped__("glute_bridge") == figure_svg.__wrapped__("glute_bridge")
    for ex_id, ex in lib["exercises"].items():
        for pose in ex["figure"]["poses"]:
            p = figures.joints(figures.resolve(pose, lib["figure_poses"]))
            for seg, (a, b, length) in figures.SEGMENTS.items():
                assert math.dist(p[a], p[b]) == pytest.approx(length), (ex_id, seg)


def test_poses_stand_on_the_floor_and_the_arrow_follows_the_motion():
    lib = load_library()
    bases = lib["figure_poses"]
    fig = lib["exercises"]["glute_bridge"]["figure"]  # lying, then hips up
    placed = figures._place(fig, bases)
    lowest = [max(y + (figures.HEAD_R if k == "head" else figures.BODY_R) for k, (_, y) in p.items())
              for p in placed]
    assert lowest == pytest.approx([figures.FLOOR, figures.FLOOR])
    assert placed[1]["hip"][1] < placed[0]["hip"][1] - 5  # the hips go up
    root = parse(figures.render(fig, bases, "Bridge"))
    d = root.find(f"{SVG}path").get("d")
    start = [float(v) for v in d[1:].split(" L")[0].split()]
    end = [float(v) for v in d.split(" L")[-1].split()]
    assert end[1] < start[1] - 5  # the arrow points up, with the hips
    # a step holds the foot up: the near ankle rests on it
    step = lib["exercises"]["step_up_balance"]["figure"]
    top = figures._place(step, bases)[1]
    assert top["ankle"][1] + figures.BODY_R == pytest.approx(figures.FLOOR - 11)


@pytest.mark.parametrize("breakage, match", [
    (lambda f: f.update(poses=f["poses"][:1]), "2 or 3 poses"),
    (lambda f: f["poses"][0].update(base="handstand"), "unknown base pose"),
    (lambda f: f["poses"][0].update(elbw=10), "unknown key"),
    (lambda f: f["poses"][1].update(thigh="up"), "number"),
    (lambda f: f.update(props=[{"kind": "trampoline"}]), "unknown prop"),
    (lambda f: f.update(props=[{"kind": "roller", "under": "tail"}]), "segment"),
    (lambda f: f.update(arrow="elbow3"), "arrow"),
    (lambda f: f.update(poses=[f["poses"][0], dict(f["poses"][0])]), "barely differ"),
])
def test_the_library_check_catches_broken_figures(breakage, match):
    lib = copy.deepcopy(load_library())
    breakage(lib["exercises"]["glute_bridge"]["figure"])
    with pytest.raises(InputError, match=f"glute_bridge.figure: .*{match}"):
        libmod.validate(lib)
    lib = copy.deepcopy(load_library())
    del lib["exercises"]["glute_bridge"]["figure"]
    with pytest.raises(InputError, match="missing 'figure'"):
        libmod.validate(lib)


def test_unknown_figure_is_one_clear_error():
    with pytest.raises(InputError, match="unknown exercise 'moonwalk'"):
        figure_svg("moonwalk")
