#!/usr/bin/env bash
# The Pi's architecture, checked without a Pi: in an emulated Debian Bookworm arm64 userland
# (../shared/tools/arm64-chroot.sh, faked Cortex-A76 or A72) install the station the way a gym
# does it offline (scripts/make-offline-bundle.sh, then install-pi.sh --bundle with the network
# cut off) and once more with the network (idempotent; apt installs the kiosk's cage and
# chromium, and the kiosk unit is checked against them: its programs run, systemd-analyze verify),
# run `ohsa pose`, `ohsa track` and `ohsa rules` there and here (x86-64) on frames of the shared
# recordings and compare (keypoints equal within 0.01 px and 1e-4 in score, verdicts equal),
# then uninstall (data kept), then --purge (all gone).
#
#   sudo scripts/arm64-check.sh [--root /var/tmp/ohsa-arm64] [--cpu a76|a72] [--bundle FILE]
#
# The userland is built once (about 3 minutes) and reused; it stands in for Raspberry Pi OS Lite
# with its base packages (systemd, python3-numpy, passwd). Run by tests/test_arm64.py in CI.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
root=${OHSA_ARM64_ROOT:-/var/tmp/ohsa-arm64}
cpu=a76
bundle=""
while [ $# -gt 0 ]; do
  case $1 in
    --root) root=${2:?}; shift 2 ;;
    --cpu) cpu=${2:?}; shift 2 ;;
    --bundle) bundle=${2:?}; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "arm64-check: unknown option $1" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "arm64-check: run as root (chroot, binfmt)" >&2; exit 1; }
SHARED=${OHSA_SHARED_DIR:-$REPO/../shared}
CHROOT=$SHARED/tools/arm64-chroot.sh
[ -f "$CHROOT" ] || { echo "arm64-check: $CHROOT missing" >&2; exit 1; }
PY=$REPO/.venv/bin/python
t0=$SECONDS
# one check at a time per userland (several test runs may share this machine)
mkdir -p "$(dirname "$root")"
exec 9>"$root.lock"
flock 9
step() { echo "arm64-check [$((SECONDS - t0)) s]: $*" >&2; }
inside() { bash "$CHROOT" "$root" "$cpu" run "$@"; }

step "offline bundle"
if [ -z "$bundle" ]; then
  bundle=/var/tmp/ohsa-arm64-bundle.tar
  scripts/make-offline-bundle.sh -o "$bundle" >/dev/null
fi

step "arm64 userland at $root ($cpu)"
# built once; `run` mounts what it needs on later entries
[ -x "$root/usr/bin/python3" ] || bash "$CHROOT" "$root" "$cpu" >&2
if [ ! -f "$root/var/lib/ohsa-check-base" ]; then
  # what Raspberry Pi OS Lite has that a minimal Debian does not
  inside bash -c 'export DEBIAN_FRONTEND=noninteractive; apt-get update -qq &&
    apt-get install -y -qq --no-install-recommends systemd passwd python3-numpy python3-venv >/dev/null' >&2
  touch "$root/var/lib/ohsa-check-base"
fi

work=$root/tmp/ohsa-check
rm -rf "$work"
mkdir -p "$work/frames"
cp "$bundle" "$work/bundle.tar"
tar -C "$work" -xf "$bundle"
# The installer as on a Pi, with the network cut off (a new, empty network namespace). Only
# difference: no byte-compiling under emulation (PIP_NO_COMPILE), which saves a minute here.
install_offline() {
  unshare --net -- bash "$CHROOT" "$root" "$cpu" run env PIP_NO_COMPILE=1 \
    /tmp/ohsa-check/ohsa-bundle/install-pi.sh --bundle /tmp/ohsa-check/bundle.tar --no-start
}
if [ -e "$root/opt/ohsa" ]; then
  echo "arm64-check: $root/opt/ohsa left by an unfinished run; removing it for a fresh install" >&2
  rm -rf "$root/opt/ohsa"
fi
step "install from the bundle with no network"
install_offline
[ -L "$root/etc/systemd/system/multi-user.target.wants/ohsa.service" ] \
  || { echo "arm64-check: ohsa.service not enabled" >&2; exit 1; }
cmp -s "$work/ohsa-bundle/udev/70-ohsa-backlight.rules" "$root/etc/udev/rules.d/70-ohsa-backlight.rules" \
  || { echo "arm64-check: the backlight udev rule is not installed from the bundle" >&2; exit 1; }
# The kiosk on the Pi's screen: apt's cage and chromium (about 170 packages, 227 MB). The offline
# install above had neither, so it must have set up no kiosk; the second install runs with the
# network, as on a Pi that has one, and the installer fetches them from apt (measured under
# emulation on a busy 2-core machine: 131 s, of which 6 s download). A reused userland has them
# from an earlier run already.
kiosk_had=0
[ -x "$root/usr/bin/cage" ] && [ -x "$root/usr/bin/chromium" ] && kiosk_had=1
if [ $kiosk_had = 0 ]; then
  [ ! -e "$root/etc/systemd/system/ohsa-kiosk.service" ] \
    || { echo "arm64-check: kiosk unit installed without cage and chromium" >&2; exit 1; }
fi
step "install again, with the network (idempotent; apt installs the kiosk's cage and chromium)"
inside apt-get update -qq >&2
bash "$CHROOT" "$root" "$cpu" run env PIP_NO_COMPILE=1 \
  /tmp/ohsa-check/ohsa-bundle/install-pi.sh --bundle /tmp/ohsa-check/bundle.tar --no-start 2>&1 | tail -n 1 >&2
step "kiosk packages installed (kiosk before this run: $kiosk_had)"
inside bash -c 'for p in cage chromium; do
    v=$(dpkg-query -W -f="\${Status} \${Version}" "$p" 2>/dev/null)
    case $v in "install ok installed "*) echo "kiosk package: $p ${v##* } installed" ;;
      *) echo "arm64-check: the installer did not install $p" >&2; exit 1 ;; esac
  done'
{ [ -L "$root/etc/systemd/system/graphical.target.wants/ohsa-kiosk.service" ] \
  || [ -L "$root/etc/systemd/system/multi-user.target.wants/ohsa-kiosk.service" ]; } \
  && grep -q '^ohsa-kiosk:' "$root/etc/passwd" \
  && grep -q 'http://127.0.0.1:8080/' "$root/etc/systemd/system/ohsa-kiosk.service" \
  || { echo "arm64-check: ohsa-kiosk.service not installed and enabled, or no user ohsa-kiosk" >&2; exit 1; }
step "kiosk unit against the installed programs (its ExecStart, systemd-analyze verify)"
inside bash -c 'unit=/etc/systemd/system/ohsa-kiosk.service
  set -- $(sed -n "s/^ExecStart=//p" "$unit")
  [ "$2" = "--" ] || { echo "arm64-check: the kiosk unit does not run cage -- APP" >&2; exit 1; }
  for b in "$1" "$3"; do
    [ -x "$b" ] || { echo "arm64-check: $b (kiosk unit) is not installed" >&2; exit 1; }
    echo "kiosk program: $b from $(dpkg -S "$b" | cut -d: -f1)"
  done
  for v in "$("$1" -v 2>&1)" "$("$3" --version 2>/dev/null)"; do
    case $v in "Cage version "*|"Chromium "*) echo "kiosk program: $v" ;;
      *) echo "arm64-check: a kiosk program does not run: $v" >&2; exit 1 ;; esac
  done
  systemd-analyze verify "$unit" || { echo "arm64-check: systemd-analyze verify $unit failed" >&2; exit 1; }
  echo "kiosk unit: systemd-analyze verify passed"'
echo "kiosk: ohsa-kiosk.service enabled, user ohsa-kiosk"

step "frames of the shared recordings"
"$PY" - "$SHARED/data/overhead-squat-pair" "$work/frames" <<'EOF'
import sys
from pathlib import Path
import cv2
from device.media import open_media
src, out = Path(sys.argv[1]), Path(sys.argv[2])
for view, name in (("front", "front.mov"), ("side", "side_oblique.mov")):
    folder = out / view
    folder.mkdir(parents=True)
    with open_media(src / name) as media:
        step = 20  # frames 0..80 of the descent: few to decode, poses that differ
        for i, (t, rgb) in enumerate(media):
            if i % step == 0:  # four frames, lossless PNG
                cv2.imwrite(str(folder / f"{i:05d}.png"), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
                if i // step == 3:
                    break
EOF

has_rules=0
"$REPO/.venv/bin/ohsa" rules --help >/dev/null 2>&1 && has_rules=1
here() { OHSA_MODEL="$SHARED/models/movenet_singlepose_lightning_int8_v4.tflite" "$REPO/.venv/bin/ohsa" "$@"; }
there() { inside env OHSA_DATA_DIR=/var/lib/ohsa /opt/ohsa/bin/ohsa "$@"; }
mkdir -p "$work/x86" "$work/arm64"
frames=$(cd "$work" && ls frames/*/*.png)

step "ohsa pose and ohsa track here (x86-64)"
(cd "$work" && here pose $frames > x86/pose.jsonl)
for v in front side; do here track "$work/frames/$v" --view "$v" -o "$work/x86/track-$v.json"; done
step "ohsa pose and ohsa track in the arm64 userland"
inside bash -c "cd /tmp/ohsa-check && OHSA_DATA_DIR=/var/lib/ohsa /opt/ohsa/bin/ohsa pose $(echo $frames) > arm64/pose.jsonl"
for v in front side; do
  inside env OHSA_DATA_DIR=/var/lib/ohsa /opt/ohsa/bin/ohsa track "/tmp/ohsa-check/frames/$v" --view "$v" \
    -o "/tmp/ohsa-check/arm64/track-$v.json"
done
if [ $has_rules = 1 ]; then
  step "ohsa rules on both, on one two-view track of the whole recordings (made here)"
  here track "$SHARED/data/overhead-squat-pair/front.mov" --view front -o "$work/x86/full-front.json"
  here track "$SHARED/data/overhead-squat-pair/side_oblique.mov" --view side -o "$work/x86/full-side.json"
  here rules "$work/x86/full-front.json" "$work/x86/full-side.json" > "$work/x86/rules.json"
  there rules /tmp/ohsa-check/x86/full-front.json /tmp/ohsa-check/x86/full-side.json > "$work/arm64/rules.json"
else
  step "ohsa rules not in this checkout yet: verdicts not compared"
fi

step "compare"
"$PY" - "$work" "$has_rules" <<'EOF'
import json, sys
from pathlib import Path
import numpy as np
work, has_rules = Path(sys.argv[1]), sys.argv[2] == "1"
XY_PX, SCORE = 0.01, 1e-4
def rows(path):
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
def compare(a, b, what):
    a, b = np.asarray(a, float), np.asarray(b, float)
    assert a.shape == b.shape, f"{what}: shapes {a.shape} vs {b.shape}"
    dxy, ds = np.abs(a[..., :2] - b[..., :2]).max(), np.abs(a[..., 2] - b[..., 2]).max()
    assert dxy <= XY_PX and ds <= SCORE, f"{what}: differ by {dxy:.4f} px, {ds:.6f} score"
    return dxy, ds
x86, arm = rows(work / "x86/pose.jsonl"), rows(work / "arm64/pose.jsonl")
assert len(x86) == len(arm) == 8, (len(x86), len(arm))
worst = [compare(a["keypoints"], b["keypoints"], a["image"]) for a, b in zip(x86, arm)]
print(f"pose: {len(x86)} frames, largest difference {max(w[0] for w in worst):.4f} px, "
      f"{max(w[1] for w in worst):.6f} score")
for v in ("front", "side"):
    ta, tb = (json.loads((work / d / f"track-{v}.json").read_text())["views"][v] for d in ("x86", "arm64"))
    dxy, ds = compare([f["keypoints"] for f in ta["frames"]], [f["keypoints"] for f in tb["frames"]], f"track {v}")
    print(f"track {v}: {len(ta['frames'])} frames, largest difference {dxy:.4f} px, {ds:.6f} score")
if has_rules:
    ra, rb = (json.loads((work / d / "rules.json").read_text()) for d in ("x86", "arm64"))
    assert ra["reps"] == rb["reps"], f"rules: reps {ra['reps']} vs {rb['reps']}"
    for cid, entry in ra["compensations"].items():
        other = rb["compensations"][cid]
        assert entry["status"] == other["status"], f"rules {cid}: {entry['status']} vs {other['status']}"
        a, b = entry.get("value"), other.get("value")
        assert (a is None) == (b is None), f"rules {cid}: value {a} vs {b}"
        if a is not None:
            assert abs(a - b) <= 1e-9 + 1e-6 * abs(a), f"rules {cid}: value {a} vs {b}"
    statuses = sorted(e["status"] for e in ra["compensations"].values())
    print(f"rules: {ra['reps']} rep(s), all {len(statuses)} verdicts equal "
          f"({statuses.count('present')} present, {statuses.count('absent')} absent, "
          f"{statuses.count('not_assessed')} not assessed)")
print("arm64-check: OK")
EOF
step "uninstall (keeps data and settings)"
inside /tmp/ohsa-check/ohsa-bundle/uninstall-pi.sh
[ ! -e "$root/opt/ohsa" ] && [ ! -e "$root/etc/systemd/system/ohsa.service" ] \
  && [ ! -e "$root/etc/systemd/system/ohsa-kiosk.service" ] \
  && [ ! -e "$root/etc/udev/rules.d/70-ohsa-backlight.rules" ] \
  && [ ! -L "$root/etc/systemd/system/multi-user.target.wants/ohsa.service" ] \
  && [ -f "$root/var/lib/ohsa/models/movenet_singlepose_lightning_int8_v4.tflite" ] && [ -f "$root/etc/ohsa/ohsa.toml" ] \
  || { echo "arm64-check: uninstall left the software or removed the data" >&2; exit 1; }
step "uninstall --purge (everything)"
inside /tmp/ohsa-check/ohsa-bundle/uninstall-pi.sh --purge
[ ! -e "$root/var/lib/ohsa" ] && [ ! -e "$root/etc/ohsa" ] && ! grep -q '^ohsa:' "$root/etc/passwd" \
  && ! grep -q '^ohsa-kiosk:' "$root/etc/passwd" \
  || { echo "arm64-check: uninstall --purge left data, settings or the user" >&2; exit 1; }
step "done"
