# Where a station lives on a Pi; sourced by install-pi.sh and uninstall-pi.sh (in a checkout
# from scripts/lib/, in an offline bundle from lib/). systemd/ohsa.service names the same paths.
export PATH=$PATH:/usr/local/sbin:/usr/sbin:/sbin   # useradd and friends, also under plain su
PREFIX=/opt/ohsa                 # the venv (software)
CONF_DIR=/etc/ohsa               # ohsa.toml (ConfigurationDirectory)
DATA_DIR=/var/lib/ohsa           # assessments, model, start-up marker (StateDirectory)
UNIT_DIR=/etc/systemd/system
USER_NAME=ohsa
UDEV_DIR=/etc/udev/rules.d
UDEV_RULES=(70-ohsa-backlight.rules)   # udev/: the station may switch the screen's backlight
UNITS=(ohsa.service ohsa-poweroff.path ohsa-poweroff.service ohsa-restart.path ohsa-restart.service ohsa-kiosk.service)

# The udev rules from folder $1 into $2 (UDEV_DIR), then applied to the devices there are now
# where udev runs (a chroot or image: at the next boot). install_udev_rules SRC DEST
install_udev_rules() {
  install -d "$2"
  for r in "${UDEV_RULES[@]}"; do install -m 0644 "$1/$r" "$2/$r"; done
  if command -v udevadm >/dev/null && [ -S /run/udev/control ]; then
    udevadm control --reload && udevadm trigger --action=add --subsystem-match=backlight \
      || echo "udevadm could not apply ${UDEV_RULES[*]} now: it applies at the next boot" >&2
  fi
}

# remove_udev_rules DEST
remove_udev_rules() {
  for r in "${UDEV_RULES[@]}"; do rm -f "$1/$r"; done
}
