# Sourced by the setup and test scripts: make sure .venv exists with the project installed.
# Usage: ensure_venv EXTRAS   (for example "test" or "")
ensure_venv() {
  local extras=$1 root
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
  if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
    if [ "$(id -u)" = 0 ]; then
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv python3-pip >/dev/null
    else
      echo "python3-venv is missing: run 'sudo apt-get install python3-venv' and try again" >&2; return 1
    fi
  fi
  # On a Pi, picamera2 and lgpio come from apt, not pip: let the venv see them there only, so
  # that elsewhere the venv holds exactly what pyproject.toml asks for.
  local site=""
  python3 -c 'import picamera2' 2>/dev/null && site=--system-site-packages
  [ -x "$root/.venv/bin/python" ] || python3 -m venv $site "$root/.venv"
  "$root/.venv/bin/python" -m pip install -q --upgrade pip >/dev/null 2>&1 || true
  "$root/.venv/bin/python" -m pip install -q -e "$root${extras:+[$extras]}" >"$root/.venv/pip.log" 2>&1 ||
    { cat "$root/.venv/pip.log" >&2; echo "pip install failed (log: .venv/pip.log)" >&2; return 1; }
  "$root/.venv/bin/python" -c 'import device, numpy, cv2, flask' || { echo "install into .venv failed" >&2; return 1; }
}
