#!/usr/bin/env bash
# Install (or update) the OHSA station on a Raspberry Pi with Raspberry Pi OS Bookworm. Run as
# root; safe to run again (it updates in place and keeps config and data).
#
#   sudo scripts/install-pi.sh                      # online: apt, PyPI, model from upstream
#   sudo scripts/install-pi.sh --bundle FILE|DIR    # offline: everything from the bundle
#                                                   # (scripts/make-offline-bundle.sh)
#   sudo ohsa-bundle/install-pi.sh                  # the same, from an unpacked bundle
# Options:
#   --model PATH   the MoveNet file from here (verified by SHA-256) instead of the bundle/upstream
#   --no-apt       do not run apt-get (say what is missing instead)
#   --no-start     install and enable the units but do not (re)start the station now
#   --generate-password  do not ask for the trainer password on a terminal: generate one (printed
#                  once); an existing password is always kept
#   --no-kiosk     no kiosk on the Pi's own screen (a tablet on the network is the kiosk):
#                  without it, apt's cage + chromium show the live page on the attached display
#                  (ohsa-kiosk.service, user ohsa-kiosk)
#
# What it makes: user `ohsa` (groups video, gpio), venv /opt/ohsa (--system-site-packages, for
# apt's picamera2 and lgpio), config /etc/ohsa/ohsa.toml, data /var/lib/ohsa (model, assessments),
# units ohsa.service + ohsa-poweroff.path enabled, the udev rule that lets it switch the
# screen's backlight (udev/70-ohsa-backlight.rules), the trainer password (asked for or generated
# and printed once). scripts/uninstall-pi.sh removes it again.
set -euo pipefail
. "$(dirname "$0")/lib/pi-layout.sh"
APT_PACKAGES=(python3-venv python3-pip python3-numpy python3-picamera2 python3-lgpio)
APT_REQUIRED=(python3-venv)   # without these nothing works; the others degrade (no CSI/GPIO)
KIOSK_PACKAGES=(cage chromium)   # the kiosk on the Pi's screen (--no-kiosk: none of it)
KIOSK_USER=ohsa-kiosk

say() { echo "install-pi: $*" >&2; }
die() { say "$*"; exit 1; }

bundle="" model="" use_apt=1 start=1 ask_password=1 kiosk=1
while [ $# -gt 0 ]; do
  case $1 in
    --bundle) bundle=${2:?--bundle needs a file or folder}; shift 2 ;;
    --model) model=${2:?--model needs a path}; shift 2 ;;
    --no-apt) use_apt=0; shift ;;
    --no-start) start=0; shift ;;
    --generate-password) ask_password=0; shift ;;
    --no-kiosk) kiosk=0; shift ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done
[ "$(id -u)" = 0 ] || die "run as root (sudo $0 $*)"
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# run from inside an unpacked bundle: that bundle
[ -n "$bundle" ] || [ ! -f "$here/SHA256SUMS" ] || bundle=$here

# --- where the software comes from -----------------------------------------------------------
if [ -n "$bundle" ]; then
  [ -e "$bundle" ] || die "$bundle: no such bundle"
  if [ -f "$bundle" ]; then
    tar -C "$work" -xf "$bundle" || die "$bundle: not a bundle archive (tar failed)"
    src=$work/ohsa-bundle
  else
    src=$(cd "$bundle" && pwd)
  fi
  [ -f "$src/SHA256SUMS" ] && [ -f "$src/manifest.json" ] && [ -d "$src/wheels" ] \
    || die "$bundle: not an OHSA bundle (no SHA256SUMS, manifest.json or wheels/)"
  (cd "$src" && sha256sum --quiet -c SHA256SUMS) >&2 || die "$bundle: damaged (SHA-256 mismatch above); copy it again"
  bundle_machine=$(sed -n 's/.*"machine": "\([^"]*\)".*/\1/p' "$src/manifest.json")
  [ "$bundle_machine" = "$(uname -m)" ] || die "$bundle: built for $bundle_machine, this machine is $(uname -m)"
  units=$src/systemd
  udev_rules=$src/udev
  constraints=$src/lib/pi-constraints.txt
  docs=$src/docs/setup-pi.md
  [ -n "$model" ] || model=$(ls "$src"/model/*.tflite 2>/dev/null | head -n1)
else
  repo=$(cd "$here/.." && pwd)
  [ -f "$repo/pyproject.toml" ] || die "run from a checkout (scripts/install-pi.sh) or pass --bundle"
  units=$repo/systemd
  udev_rules=$repo/udev
  constraints=$repo/scripts/lib/pi-constraints.txt
  docs=$repo/docs/setup-pi.md
fi

# --- apt --------------------------------------------------------------------------------------
[ $kiosk = 0 ] || APT_PACKAGES+=("${KIOSK_PACKAGES[@]}")
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ] && [ $use_apt = 1 ]; then
  export DEBIAN_FRONTEND=noninteractive
  # only packages this machine's apt sources know (picamera2 and lgpio: Raspberry Pi OS only)
  [ -n "$bundle" ] || apt-get update -qq || say "apt-get update failed; trying with the lists there are"
  known=()
  for p in "${missing[@]}"; do
    apt-cache show "$p" >/dev/null 2>&1 && known+=("$p")
  done
  [ ${#known[@]} -eq 0 ] || apt-get install -y -qq --no-install-recommends "${known[@]}" >/dev/null \
    || say "apt-get install ${known[*]} failed (offline?); going on with what is there"
  missing=()
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
  done
fi
for p in "${APT_REQUIRED[@]}"; do
  [[ " ${missing[*]} " == *" $p "* ]] && die "$p is missing: sudo apt-get install ${APT_REQUIRED[*]}"
done
[ ${#missing[@]} -eq 0 ] || say "not installed: ${missing[*]} (picamera2: no CSI cameras, USB ones work; lgpio: no panel; cage, chromium: no kiosk on the Pi's screen)"
py_version=$(python3 -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
[ -z "$bundle" ] || [ "$py_version" = 3.11 ] || die "the bundle holds cp311 wheels; this system's python3 is $py_version"

# --- user and folders -------------------------------------------------------------------------
for g in video gpio; do getent group "$g" >/dev/null || groupadd --system "$g"; done
if ! getent passwd "$USER_NAME" >/dev/null; then
  useradd --system --user-group --home-dir "$DATA_DIR" --no-create-home --shell /usr/sbin/nologin \
    --comment "OHSA station" "$USER_NAME"
fi
groups=video,gpio
getent group systemd-journal >/dev/null && groups=$groups,systemd-journal
usermod -a -G "$groups" "$USER_NAME"
install -d -o "$USER_NAME" -g "$USER_NAME" -m 0700 "$DATA_DIR"
install -d -o root -g "$USER_NAME" -m 0770 "$CONF_DIR"

# --- the venv and the project -----------------------------------------------------------------
[ -x "$PREFIX/bin/python" ] || python3 -m venv --system-site-packages "$PREFIX"
pip=("$PREFIX/bin/python" -m pip -q --disable-pip-version-check --no-input)
if [ -n "$bundle" ]; then
  wheel=$(ls "$src"/wheels/ohsa_station-*.whl | head -n1)
  offline=(--no-index --find-links "$src/wheels")
  "${pip[@]}" install "${offline[@]}" -c "$constraints" "$wheel"
  # the same version number may carry newer code: always put this bundle's project in place
  "${pip[@]}" install "${offline[@]}" --no-deps --force-reinstall "$wheel"
else
  "${pip[@]}" install -c "$constraints" "$repo"
  "${pip[@]}" install --no-deps --force-reinstall "$repo"
fi
"$PREFIX/bin/ohsa" --version >&2

# --- the model --------------------------------------------------------------------------------
ohsa_as_station() { OHSA_DATA_DIR=$DATA_DIR "$PREFIX/bin/ohsa" "$@"; }
if [ -n "$model" ]; then
  ohsa_as_station model install "$model" >/dev/null
elif ! ohsa_as_station model status >/dev/null 2>&1; then
  ohsa_as_station model fetch >/dev/null
fi
chown -R "$USER_NAME:$USER_NAME" "$DATA_DIR"
say "model: $(ohsa_as_station model status)"

# --- config -----------------------------------------------------------------------------------
if [ ! -f "$CONF_DIR/ohsa.toml" ]; then
  cat > "$CONF_DIR/ohsa.toml" <<'EOF'
# OHSA station settings. Every key, its default and meaning: docs/config.md. Only what differs
# from the defaults needs to be here; the trainer's settings page writes this file too.
[station]
name = "OHSA station"
EOF
fi
chown "$USER_NAME:$USER_NAME" "$CONF_DIR/ohsa.toml"
chmod 0640 "$CONF_DIR/ohsa.toml"
"$PREFIX/bin/python" -c 'import sys; from device import config; config.load(sys.argv[1])' "$CONF_DIR/ohsa.toml" \
  || say "$CONF_DIR/ohsa.toml has a problem (above): the station will start in safe mode until it is fixed"

# --- the trainer (owner) password ---------------------------------------------------------------
# Set here, on the Pi, never by the first visitor on the network: asked for on a terminal (empty:
# one is generated), generated otherwise and printed once. Kept as a scrypt hash in
# $DATA_DIR/owner-password; `ohsa password set` (as the station's user) changes it later.
if ohsa_as_station password status >/dev/null 2>&1; then
  say "trainer password: set already (change it: sudo -u $USER_NAME OHSA_DATA_DIR=$DATA_DIR $PREFIX/bin/ohsa password set)"
else
  pw=""
  if [ -t 0 ] && [ $ask_password = 1 ]; then
    read -rsp "install-pi: trainer password (at least 8 characters; Enter: generate one): " pw; echo >&2
    if [ -n "$pw" ]; then
      read -rsp "install-pi: the same again: " pw2; echo >&2
      [ "$pw" = "$pw2" ] || die "the two passwords differ; run the installer again"
    fi
  fi
  if [ -n "$pw" ]; then
    printf '%s\n' "$pw" | ohsa_as_station password set >/dev/null || die "trainer password not set (above)"
    say "trainer password set"
  else
    echo "=================================================================="
    ohsa_as_station password generate | sed -n 's/^trainer password: /  Trainer password (shown once, write it down): /p'
    echo "  Change it on the Pi: sudo -u $USER_NAME OHSA_DATA_DIR=$DATA_DIR $PREFIX/bin/ohsa password set"
    echo "=================================================================="
  fi
  unset pw pw2
fi
chown "$USER_NAME:$USER_NAME" "$DATA_DIR/owner-password"
chmod 0600 "$DATA_DIR/owner-password"

# --- the kiosk on the Pi's own screen ----------------------------------------------------------
kiosk_ready=0
if [ $kiosk = 1 ]; then
  if [ -x /usr/bin/cage ] && [ -x /usr/bin/chromium ]; then
    if ! getent passwd "$KIOSK_USER" >/dev/null; then
      useradd --system --user-group --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin \
        --comment "OHSA station screen" "$KIOSK_USER"
    fi
    kgroups=video
    for g in render input; do getent group "$g" >/dev/null && kgroups=$kgroups,$g; done
    usermod -a -G "$kgroups" "$KIOSK_USER"
    kiosk_ready=1
  else
    say "cage or chromium missing (offline without them?): no kiosk on this screen; install them and run again"
  fi
fi

# --- the screen's backlight: the station switches it off outside the opening hours -------------
# (device/display.py; HDMI screens have none and get the black page alone)
install_udev_rules "$udev_rules" "$UDEV_DIR"

# --- units ------------------------------------------------------------------------------------
install -d "$PREFIX/share/doc/ohsa"
[ ! -f "$docs" ] || install -m 0644 "$docs" "$PREFIX/share/doc/ohsa/setup-pi.md"
for u in "$units"/ohsa*.service "$units"/ohsa*.path; do
  [ "$(basename "$u")" != ohsa-kiosk.service ] || [ $kiosk_ready = 1 ] || continue
  install -m 0644 "$u" "$UNIT_DIR/$(basename "$u")"
done
port=$("$PREFIX/bin/python" -c 'import sys; from device import config; print(config.load(sys.argv[1]).web.port)' \
  "$CONF_DIR/ohsa.toml" 2>/dev/null || echo 8080)
[ $kiosk_ready = 0 ] || sed -i "s|http://127.0.0.1:8080/|http://127.0.0.1:$port/|" "$UNIT_DIR/ohsa-kiosk.service"
if [ $kiosk = 0 ] && [ -f "$UNIT_DIR/ohsa-kiosk.service" ]; then  # --no-kiosk on an update
  systemctl disable -q --now ohsa-kiosk.service 2>/dev/null || true
  rm -f "$UNIT_DIR/ohsa-kiosk.service"
fi
kiosk_units=()
[ $kiosk_ready = 0 ] || kiosk_units=(ohsa-kiosk.service)
if command -v systemctl >/dev/null; then
  if [ -d /run/systemd/system ]; then
    systemctl daemon-reload
    systemctl enable -q ohsa.service ohsa-poweroff.path ohsa-restart.path "${kiosk_units[@]}"
    if [ $start = 1 ]; then
      systemctl start ohsa-poweroff.path ohsa-restart.path
      systemctl restart ohsa.service   # restart: an update takes effect now
      [ $kiosk_ready = 0 ] || systemctl restart ohsa-kiosk.service
      say "station started: systemctl status ohsa; journalctl -u ohsa -f"
    fi
  else
    # a chroot or image being prepared: enable only, it starts at the next boot
    systemctl enable -q ohsa.service ohsa-poweroff.path ohsa-restart.path "${kiosk_units[@]}" 2>/dev/null \
      || say "could not enable the units here; run 'systemctl enable ohsa ohsa-poweroff.path' on the Pi"
  fi
else
  say "systemd not found: units copied to $UNIT_DIR but not enabled"
fi
say "done: $PREFIX (software), $CONF_DIR/ohsa.toml (settings), $DATA_DIR (data)"
