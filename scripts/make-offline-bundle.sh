#!/usr/bin/env bash
# Build one archive that installs a station on a Raspberry Pi (Bookworm, aarch64, Python 3.11)
# with no network: aarch64 cp311 wheels of every dependency, the project wheel, the MoveNet
# model, the installer, the unit files and a manifest with SHA-256s. Run on any machine with
# python3 and PyPI access (this one is x86-64; pip picks the aarch64 wheels by platform tags).
#
#   scripts/make-offline-bundle.sh [-o ohsa-bundle.tar] [--model PATH]
#
# then on the Pi:  tar xf ohsa-bundle.tar && sudo ohsa-bundle/install-pi.sh --bundle ohsa-bundle
#             or:  sudo scripts/install-pi.sh --bundle ohsa-bundle.tar   (from a checkout)
# The model: --model PATH, else the installed or development copy (`ohsa model status`), else
# downloaded from upstream; always verified by SHA-256. Downloads are cached in
# $OHSA_PIP_CACHE (default /var/tmp/ohsa-pip-cache) so a second build is quick.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
out=ohsa-bundle.tar
model=""
while [ $# -gt 0 ]; do
  case $1 in
    -o|--output) out=${2:?$1 needs a file name}; shift 2 ;;
    --model) model=${2:?--model needs a path}; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "make-offline-bundle: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
case $out in /*) ;; *) out=$ROOT/$out ;; esac

if ! .venv/bin/python -c 'import device' 2>/dev/null; then
  . scripts/lib/venv.sh
  ensure_venv "" >/dev/null
fi
PY=$ROOT/.venv/bin/python
export PIP_CACHE_DIR=${OHSA_PIP_CACHE:-/var/tmp/ohsa-pip-cache}
export PIP_DISABLE_PIP_VERSION_CHECK=1
# Raspberry Pi OS Bookworm: glibc 2.36, so any manylinux tag from 2014 (2.17) to 2.36 fits
PLATFORMS=(--platform manylinux2014_aarch64)
for v in $(seq 17 36); do PLATFORMS+=(--platform "manylinux_2_${v}_aarch64"); done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
b=$work/ohsa-bundle
mkdir -p "$b/wheels" "$b/model" "$b/systemd" "$b/udev" "$b/lib" "$b/docs"

echo "building the project wheel" >&2
"$PY" -m pip wheel -q --no-deps -w "$b/wheels" "$ROOT" >"$work/wheel.log" 2>&1 \
  || { cat "$work/wheel.log" >&2; echo "make-offline-bundle: building the project wheel failed" >&2; exit 1; }
project_wheel=$(ls "$b"/wheels/ohsa_station-*.whl)

echo "downloading aarch64 cp311 wheels of every dependency" >&2
"$PY" -m pip download -q --only-binary=:all: --python-version 3.11 --implementation cp --abi cp311 \
  "${PLATFORMS[@]}" -c scripts/lib/pi-constraints.txt -d "$b/wheels" "$project_wheel" >"$work/download.log" 2>&1 \
  || { grep -v "^WARNING: Location" "$work/download.log" >&2; echo "make-offline-bundle: pip download failed" >&2; exit 1; }

echo "adding the MoveNet model" >&2
model_path=$(OHSA_DATA_DIR=$work/data "$PY" - "$model" <<'EOF'
import sys
from device import model
from device.errors import OhsaError
try:
    try:
        path = model.resolve(sys.argv[1] or None)
    except OhsaError:
        if sys.argv[1]:
            raise
        path = model.fetch()  # nothing local: download from upstream, verified
except OhsaError as e:
    sys.exit(f"make-offline-bundle: {e}")
print(path)
EOF
)
cp "$model_path" "$b/model/"

cp systemd/* "$b/systemd/"
cp udev/* "$b/udev/"
cp scripts/install-pi.sh scripts/uninstall-pi.sh "$b/"
cp scripts/lib/pi-constraints.txt scripts/lib/pi-layout.sh "$b/lib/"
cp docs/setup-pi.md "$b/docs/" 2>/dev/null || true

version=$("$PY" -c 'import device; print(device.__version__)')
"$PY" - "$b" "$version" <<'EOF'
import hashlib, json, sys, time
from pathlib import Path
b, version = Path(sys.argv[1]), sys.argv[2]
files = {}
for p in sorted(b.rglob("*")):
    if p.is_file():
        files[str(p.relative_to(b))] = hashlib.sha256(p.read_bytes()).hexdigest()
manifest = {"format": "ohsa-bundle/1", "version": version, "python": "cp311",
            "machine": "aarch64", "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "files": files}
(b / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
# the same in sha256sum's format, so `sha256sum -c SHA256SUMS` checks the bundle on the Pi
(b / "SHA256SUMS").write_text("".join(f"{h}  {n}\n" for n, h in files.items()))
EOF
# wheels are compressed already: a plain tar
tar -C "$work" -cf "$out.part" ohsa-bundle
mv "$out.part" "$out"
echo "$out: $(ls "$b/wheels" | wc -l) wheels, model, installer; $(du -h "$out" | cut -f1)" >&2
echo "$out"
