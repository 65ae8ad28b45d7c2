"""`ohsa calibrate`: the footprint mat as a printable file, and the cameras calibrated on it.

    ohsa calibrate mat -o mat.svg | mat.pdf [--paper a1|a4] | mat.png   # the mat to print
    ohsa calibrate [--front F --side S] [-o calibration.json] [--hfov DEG]

Without --front/--side a full-resolution still is taken from each configured camera (the mat must
be empty and in view); with them, those image files are used (one view may be left out). The
calibration goes to `<data dir>/calibration.json` unless -o says otherwise. See
docs/calibration.md.
"""

from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path

import numpy as np

from device.config import CameraSettings
from device.errors import InputError
from device.health import CALIBRATION_FILE

log = logging.getLogger(__name__)

STILL_SIZE = (2304, 1296)  # Camera Module 3's full-field binned mode; Module 2 scales it
WARMUP_FRAMES = 6  # frames dropped while exposure and white balance settle
SENSOR_HFOV = {  # picamera2 `Model` -> horizontal field of view (device.geometry.camera)
    "imx219": "pi_camera_2", "imx219_noir": "pi_camera_2",
    "imx708": "pi_camera_3", "imx708_noir": "pi_camera_3",
    "imx708_wide": "pi_camera_3_wide", "imx708_wide_noir": "pi_camera_3_wide",
}


def add_parser(sub) -> None:
    p = sub.add_parser(
        "calibrate",
        help="print the footprint mat (`calibrate mat`), or calibrate both cameras on it",
        description="`ohsa calibrate mat -o FILE` writes the footprint mat to print (.svg, .pdf, "
        ".png preview). `ohsa calibrate` takes a full-resolution still of each camera (or "
        "--front/--side image files) with the empty mat in view, finds its markers, solves each "
        "camera's place and focal length on it and stores the calibration. Exit 1 when a camera "
        "cannot be calibrated, with what to move.",
    )
    p.add_argument("what", nargs="?", choices=["mat"], help="`mat`: write the mat file instead")
    p.add_argument("-o", "--output", metavar="FILE",
                   help=f"mat: .svg, .pdf or .png; cameras: calibration JSON (default: data dir/{CALIBRATION_FILE})")
    p.add_argument("--paper", choices=["a1", "a4"], default="a1",
                   help="PDF: one A1 sheet (default) or tiled A4 pages with trim marks")
    p.add_argument("--front", metavar="IMAGE", help="a still of the front camera instead of the live camera")
    p.add_argument("--side", metavar="IMAGE", help="a still of the side camera instead of the live camera")
    p.add_argument("--hfov", type=float, metavar="DEG",
                   help="horizontal field of view of both cameras (default: the camera module, else "
                   "cameras.<view>.hfov_deg in the config, else 62.2)")
    p.add_argument("--config", metavar="TOML", help="station config (default: OHSA_CONFIG or /etc/ohsa/ohsa.toml)")
    p.add_argument("--data-dir", metavar="DIR", help="where the calibration is kept (default: the station's)")
    p.add_argument("--json", action="store_true", help="print the calibration as JSON")
    p.set_defaults(func=_cmd)


def _cmd(args) -> int:
    if args.what == "mat":
        return _write_mat(args)
    return _calibrate(args)


def _write_mat(args) -> int:
    from device import atomic
    from device.geometry import mat

    if not args.output:
        raise InputError("ohsa calibrate mat: give -o FILE (.svg, .pdf or .png)")
    out = Path(args.output)
    if not out.parent.is_dir():
        raise InputError(f"-o {out}: folder {out.parent} does not exist")
    suffix = out.suffix.lower()
    if suffix == ".svg":
        if args.paper != "a1":
            raise InputError("--paper a4: tiled pages are PDF only (use -o mat.pdf)")
        atomic.write_text(out, mat.to_svg())
    elif suffix == ".pdf":
        atomic.write_bytes(out, mat.to_pdf(paper=args.paper))
    elif suffix == ".png":
        import cv2

        ok, buf = cv2.imencode(".png", mat.raster(px_per_mm=2.0))
        atomic.write_bytes(out, buf.tobytes())
    else:
        raise InputError(f"-o {out}: unknown kind of file (use .svg, .pdf or .png)")
    print(f"wrote {out}: {mat.MAT.name}, print at 100 % ({'tiled A4' if args.paper == 'a4' else 'A1'})")
    return 0


def _hfov(args, cfg, view: str, model: str | None) -> float:
    from device.geometry.camera import CAMERA_MODULES, DEFAULT_HFOV_DEG

    if args.hfov is not None:
        if not 1.0 < args.hfov < 179.0:
            raise InputError(f"--hfov {args.hfov}: must be between 1 and 179 degrees")
        return float(args.hfov)
    section = cfg.cameras[view]  # what the owner set wins over what the sensor says
    if section.hfov_deg:
        return section.hfov_deg
    if section.module:
        return CAMERA_MODULES[section.module]
    if model and model in SENSOR_HFOV:
        return CAMERA_MODULES[SENSOR_HFOV[model]]
    return DEFAULT_HFOV_DEG


def _calibrate(args) -> int:
    from device import config, paths
    from device.geometry import calibration as calib
    from device.geometry.camera import Intrinsics
    from device.geometry.mat import MatError
    from device.media import read_image

    if args.paper != "a1":
        raise InputError("--paper is for `ohsa calibrate mat`")
    cfg = config.load(args.config)
    out = Path(args.output) if args.output else paths.data_dir(args.data_dir) / CALIBRATION_FILE
    if out.is_dir():
        raise InputError(f"-o {out}: is a folder, not a file")
    if args.output and not out.parent.is_dir():
        raise InputError(f"-o {out}: folder {out.parent} does not exist")
    stills: dict[str, np.ndarray] = {}
    models: dict[str, str | None] = {}
    files = {v: p for v, p in (("front", args.front), ("side", args.side)) if p}
    if files:
        for view, path in files.items():
            stills[view] = read_image(path)
            models[view] = None
    else:
        for view in ("front", "side"):
            got = capture_still(view, cfg.cameras[view])
            if got is not None:
                stills[view], models[view] = got
        if not stills:
            raise InputError("ohsa calibrate: no camera configured (both backends are none)")
    intrinsics = {
        v: Intrinsics.from_hfov(im.shape[1], im.shape[0], _hfov(args, cfg, v, models[v])) for v, im in stills.items()
    }
    views, failures = {}, []
    for view, image in stills.items():
        try:
            views.update(calib.calibrate({view: image}, {view: intrinsics[view]}).views)
        except MatError as e:
            failures.append(str(e))
    if failures:
        print("not calibrated: " + "; ".join(failures))
        return 1
    cal = calib.Calibration(views)
    calib.save(cal, out)  # the data dir is made if needed
    if args.json:
        print(json.dumps(cal.to_json(), indent=1))
    else:
        for line in calib.describe(cal):
            print(line)
        if len(cal.views) == 2:
            R, _ = calib.relative_pose(cal)
            angle = math.degrees(math.acos(float(np.clip((np.trace(R) - 1) / 2, -1, 1))))
            print(f"cameras {calib.baseline_m(cal):.2f} m apart, {angle:.0f} degrees between their directions")
        print(f"saved {out}")
    return 0


# --- live stills ------------------------------------------------------------------------------


def capture_still(view: str, cam_cfg: CameraSettings, timeout: float = 3.0) -> tuple[np.ndarray, str | None] | None:
    """A full-resolution RGB still of one configured camera and its sensor model (picamera2's
    `Model`, None for a webcam); None for backend "none". Raises SourceError/CameraMissing."""
    from device.camera.frame import CameraMissing, SourceError, orient
    from device.camera.picam import list_cameras, picamera2_class

    backend = cam_cfg.backend
    if backend == "none":
        return None
    if backend == "replay":
        raise InputError(f"cameras.{view}: a replay source has no camera to calibrate: give --{view} IMAGE")
    rotation, mirror = cam_cfg.rotation, cam_cfg.mirror
    if backend in ("auto", "picamera2"):
        infos = list_cameras()
        index = None
        if cam_cfg.camera_id:
            index = next((i for i, c in enumerate(infos) if c.get("Id") == cam_cfg.camera_id), None)
        elif cam_cfg.number < len(infos):
            index = cam_cfg.number
        if index is not None:
            Picamera2 = picamera2_class()
            model = infos[index].get("Model")
            try:
                cam = Picamera2(index)
            except Exception as e:  # picamera2 raises RuntimeError for a busy camera
                raise SourceError(f"{view} camera: cannot open ({e}); is the station running? stop it first") from None
            try:
                cam.configure(cam.create_video_configuration(main={"size": STILL_SIZE, "format": "RGB888"},
                                                             buffer_count=2))
                cam.start()
                for _ in range(WARMUP_FRAMES):
                    array = cam.capture_array("main", wait=timeout)
            except TimeoutError:
                raise SourceError(f"{view} camera: no picture within {timeout:.0f} s") from None
            except SourceError:
                raise
            except Exception as e:
                raise SourceError(f"{view} camera: capture failed ({e})") from None
            finally:
                for step in ("stop", "close"):
                    try:
                        getattr(cam, step)()
                    except Exception as e:  # closing a camera that failed may fail again
                        log.debug("picamera2 %s failed: %s", step, e)
            rgb = np.ascontiguousarray(array[:, :, 2::-1])  # RGB888 is BGR in memory
            return orient(rgb, rotation, mirror), model
        if backend == "picamera2":
            raise CameraMissing(f"{view} camera: no Pi camera {cam_cfg.camera_id or cam_cfg.number} attached")
    import cv2

    device = f"/dev/video{cam_cfg.number}"
    if not Path(device).exists():
        raise CameraMissing(f"{view} camera: none attached (no Pi camera, no {device})")
    cap = cv2.VideoCapture(cam_cfg.number, cv2.CAP_V4L2)
    try:
        if not cap.isOpened():
            raise SourceError(f"{view} camera: cannot open {device}")
        cap.set(cv2.CAP_PROP_FRAME_WIDTH, 4096)  # the driver picks its largest size
        cap.set(cv2.CAP_PROP_FRAME_HEIGHT, 2160)
        frame = None
        t_end = time.monotonic() + timeout
        for _ in range(WARMUP_FRAMES):
            ok, f = cap.read()
            if ok:
                frame = f
            if time.monotonic() > t_end:
                break
        if frame is None:
            raise SourceError(f"{view} camera: no picture from {device}")
    finally:
        cap.release()
    return orient(np.ascontiguousarray(frame[:, :, ::-1]), rotation, mirror), None
