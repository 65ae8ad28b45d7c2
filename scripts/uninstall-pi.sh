#!/usr/bin/env bash
# Remove the OHSA station installed by scripts/install-pi.sh. Run as root.
#
#   sudo scripts/uninstall-pi.sh           # software and units; keeps /var/lib/ohsa (assessments,
#                                          # model) and /etc/ohsa (settings) for a reinstall
#   sudo scripts/uninstall-pi.sh --purge   # everything, including data, settings and user `ohsa`
set -euo pipefail
. "$(dirname "$0")/lib/pi-layout.sh"

purge=0
case ${1:-} in
  "") ;;
  --purge) purge=1 ;;
  -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
  *) echo "uninstall-pi: unknown option $1 (see --help)" >&2; exit 2 ;;
esac
[ "$(id -u)" = 0 ] || { echo "uninstall-pi: run as root" >&2; exit 1; }

if command -v systemctl >/dev/null; then
  if [ -d /run/systemd/system ]; then
    systemctl disable -q --now "${UNITS[@]}" 2>/dev/null || true
  else
    systemctl disable -q "${UNITS[@]}" 2>/dev/null || true
  fi
fi
for u in "${UNITS[@]}"; do rm -f "$UNIT_DIR/$u"; done
remove_udev_rules "$UDEV_DIR"
[ -d /run/systemd/system ] && systemctl daemon-reload || true
rm -rf "$PREFIX"
if [ $purge = 1 ]; then
  rm -rf "$DATA_DIR" "$CONF_DIR"
  getent passwd "$USER_NAME" >/dev/null && userdel "$USER_NAME"
  getent group "$USER_NAME" >/dev/null && groupdel "$USER_NAME" 2>/dev/null || true
  getent passwd ohsa-kiosk >/dev/null && userdel ohsa-kiosk
  getent group ohsa-kiosk >/dev/null && groupdel ohsa-kiosk 2>/dev/null || true
  echo "uninstall-pi: removed the station, its data, settings and user" >&2
else
  echo "uninstall-pi: removed the station; kept $DATA_DIR and $CONF_DIR (--purge removes them)" >&2
fi
