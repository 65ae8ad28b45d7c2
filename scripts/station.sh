#!/usr/bin/env bash
# Set up and start the station on this machine: venv, dependencies, the MoveNet model, then
# `ohsa run`. Idempotent. Arguments go to `ohsa run` (for example --front F --side S).
# On a laptop without cameras the station still starts and its page says which camera is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/venv.sh
ensure_venv ""
# The model: already installed, or fetched from upstream (SHA-256 pinned), or the development
# copy in ../shared/models; `ohsa model` says what to run if none of them works.
.venv/bin/ohsa model status >/dev/null 2>&1 || .venv/bin/ohsa model fetch || .venv/bin/ohsa model status
exec .venv/bin/ohsa -v run "$@"
