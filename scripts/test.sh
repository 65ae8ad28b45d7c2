#!/usr/bin/env bash
# Run the whole test suite on a fresh Debian / Raspberry Pi OS machine with only python3:
# installs what the tests need (venv, the project with [test], Chromium, systemd-analyze,
# Mosquitto and PostgreSQL, which the fleet tests start privately), then
# pytest. Extra arguments go to pytest (for example: scripts/test.sh -k rules).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/venv.sh

apt_needed=()
command -v chromium >/dev/null || apt_needed+=(chromium chromium-driver)
command -v systemd-analyze >/dev/null || apt_needed+=(systemd)
# the fleet tests start their own broker and database from these (tests/services.py)
command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ] || apt_needed+=(mosquitto mosquitto-clients)
ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || apt_needed+=(postgresql)
command -v openssl >/dev/null || apt_needed+=(openssl)  # the fleet tests make a CA for TLS
if [ ${#apt_needed[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${apt_needed[@]}" >/dev/null
  else
    echo "note: ${apt_needed[*]} missing and not root; tests that need them will say so" >&2
  fi
fi
ensure_venv test
exec .venv/bin/python -m pytest "$@"
