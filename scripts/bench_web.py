#!/usr/bin/env python3
"""Benchmark of the web pages: result page server time and weight, list of 1,000 assessments.

    .venv/bin/python scripts/bench_web.py [--runs 30] [--json]

A temporary SQLite store gets one assessment with two real annotated stills (frames of the
shared overhead squat recordings, MoveNet keypoints, device.annotate) and 1,000 more without
stills. Server time is measured inside the process with Flask's test client (no network), as
the median of `--runs` requests; the page's weight is its HTML plus every image, stylesheet and
script it references, as served. Targets (issue 6): result page < 150 ms and < 300 KB; the list
of 1,000 stored assessments < 300 ms.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import cv2  # noqa: E402

from device import annotate, owner, paths  # noqa: E402
from device.store import Store  # noqa: E402
from web import auth, create_app  # noqa: E402

PAIR = paths.SHARED_DIR / "data" / "overhead-squat-pair"
TARGETS = {"result_ms": 150.0, "result_kb": 300.0, "list_ms": 300.0}


def _result() -> dict:
    """A full result as the tests use (every compensation; two present, one not assessed)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tests.web_fakes import sample_result

    return sample_result()


def _stills(result: dict) -> dict[str, bytes]:
    """Annotated stills of the middle frame of each recording, with MoveNet's keypoints."""
    from device.pose import MoveNet, estimate_image

    movenet = MoveNet()
    present = [c for c, e in result["compensations"].items() if e["status"] == "present"]
    out = {}
    for view, name in (("front", "front.mov"), ("side", "side_oblique.mov")):
        capture = cv2.VideoCapture(str(PAIR / name))
        middle = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) // 2)
        capture.set(cv2.CAP_PROP_POS_FRAMES, middle)
        ok, bgr = capture.read()
        capture.release()
        if not ok:
            raise SystemExit(f"{PAIR / name}: cannot read a frame")
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        pose = estimate_image(movenet, rgb)
        rows = [[k.x, k.y, k.score] for k in pose.keypoints]
        out[view] = annotate.annotate(rgb, rows, present, view)
    return out


def _median_ms(fn, runs: int) -> float:
    first = fn()  # warm: templates compiled, plan library loaded
    assert first.status_code == 200, first.status_code  # a redirect to the login would be quick
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return round(statistics.median(times), 1)


def _weight(client, path: str) -> dict:
    page = client.get(path)
    assert page.status_code == 200, (path, page.status_code)
    html = page.get_data(as_text=True)
    sizes = {"html": len(page.data)}
    for url in sorted(set(re.findall(r'(?:src|href)="(/(?:static|result|s)/[^"]+)"', html))):
        r = client.get(url)
        assert r.status_code == 200, (url, r.status_code)
        kind = "images" if url.endswith(".jpg") else "css" if url.endswith(".css") else "js"
        sizes[kind] = sizes.get(kind, 0) + len(r.data)
    sizes["total"] = sum(sizes.values())
    return sizes


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30, help="requests per measurement (median)")
    parser.add_argument("--rows", type=int, default=1000, help="stored assessments for the list")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "assessments.db")
        result = _result()
        stills = _stills(result)
        aid = store.save_assessment(result, None, stills, label="MK")
        app = create_app(store, None, data_dir=tmp, config_path=Path(tmp) / "ohsa.toml")
        client = app.test_client()

        result_ms = _median_ms(lambda: client.get(f"/result/{aid}"), args.runs)
        weight = _weight(client, f"/result/{aid}")

        t = time.perf_counter()
        for i in range(args.rows):
            store.save_assessment(result, None, {}, label=f"K{i % 200:03d}")
        fill_s = time.perf_counter() - t
        owner.write_hash(tmp, auth.hash_password("bench-password"))
        csrf = re.search(r'name="csrf-token" content="([^"]+)"', client.get("/trainer/login").get_data(as_text=True))
        client.post("/trainer/login", data={"password": "bench-password", "csrf_token": csrf.group(1)})
        list_ms = _median_ms(lambda: client.get("/trainer/"), args.runs)
        list_all_ms = _median_ms(lambda: client.get("/trainer/?per=1000"), max(5, args.runs // 3))
        search_ms = _median_ms(lambda: client.get("/trainer/?q=K042"), args.runs)
        csv_ms = _median_ms(lambda: client.get("/trainer/export.csv"), 3)
        store.close()

    figures = {
        "result_page_ms": result_ms,
        "result_page_bytes": weight,
        "list_page_ms_50_of_1000": list_ms,
        "list_all_1000_rows_ms": list_all_ms,
        "search_ms": search_ms,
        "export_csv_1000_ms": csv_ms,
        "rows": args.rows + 1,
        "fill_s": round(fill_s, 1),
    }
    ok = (result_ms < TARGETS["result_ms"] and weight["total"] / 1000 < TARGETS["result_kb"]
          and list_all_ms < TARGETS["list_ms"] and list_ms < TARGETS["list_ms"])
    if args.json:
        print(json.dumps(dict(figures, targets_met=ok), indent=2))
    else:
        w = weight
        print(f"result page: {result_ms} ms server time (target < {TARGETS['result_ms']:.0f} ms)")
        print(f"result page weight: {w['total'] / 1000:.1f} KB total = HTML {w['html'] / 1000:.1f} + images "
              f"{w.get('images', 0) / 1000:.1f} + CSS {w.get('css', 0) / 1000:.1f} + JS {w.get('js', 0) / 1000:.1f} "
              f"(target < {TARGETS['result_kb']:.0f} KB)")
        print(f"list with {args.rows + 1} stored: first page (50 rows) {list_ms} ms, all rows on one page "
              f"{list_all_ms} ms (target < {TARGETS['list_ms']:.0f} ms)")
        print(f"search by label: {search_ms} ms; CSV export of all: {csv_ms} ms")
        print("targets met" if ok else "TARGETS MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
