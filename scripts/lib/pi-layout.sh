# Where a station lives on a Pi; sourced by install-pi.sh and uninstall-pi.sh (in a checkout
# from scripts/lib/, in an offline bundle from lib/). systemd/ohsa.service names the same paths.
export PATH=$PATH:/usr/local/sbin:/usr/sbin:/sbin   # useradd and friends, also under plain su
PREFIX=/opt/ohsa                 # the venv (software)
CONF_DIR=/etc/ohsa               # ohsa.toml (ConfigurationDirectory)
DATA_DIR=/var/lib/ohsa           # assessments, model, start-up marker (StateDirectory)
UNIT_DIR=/etc/systemd/system
USER_NAME=ohsa
UNITS=(ohsa.service ohsa-poweroff.path ohsa-poweroff.service ohsa-restart.path ohsa-restart.service ohsa-kiosk.service)
