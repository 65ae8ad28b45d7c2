#!/usr/bin/env bash
# Set up and start the hub of a gym chain on this machine (Debian / Ubuntu / Raspberry Pi OS), in
# one command. Run as root; safe to run again (keeps every password, database and user it made).
#
#   sudo scripts/hub.sh --station gym-berlin-1 --station gym-berlin-2
#
# What it does:
#   - apt: mosquitto, mosquitto-clients, postgresql, python3-venv when missing;
#   - PostgreSQL: role and database `ohsa_hub` (password generated once), schema migrated;
#   - Mosquitto: /etc/mosquitto/conf.d/ohsa.conf from hub/mosquitto/mosquitto.conf (stations
#     over TLS on 8883, the hub on loopback 1883, no anonymous clients, a deep queue for the
#     hub's persistent session); in /etc/mosquitto/ohsa/ the password file with user `hub` and
#     one user per --station (its password generated and printed once, kept in
#     /etc/ohsa/stations/ID.password), the ACL from hub/mosquitto/acl (a station may write only
#     under its own topics), a CA made once (ca.crt: what stations trust) and the server certificate;
#   - the hub: venv /opt/ohsa with the `hub` extra, user `ohsa-hub`, /etc/ohsa/hub.env (DSN,
#     broker, MQTT password; 0640 root:ohsa-hub), the pages' owner password (generated and
#     printed once), then systemd/ohsa-hub.service enabled and started — or, where systemd
#     does not run (a container), `ohsa hub run` in the foreground.
# Options:
#   --station ID     add a station's broker user (repeatable; ID: 1-40 of a-z, 0-9, '-')
#   --port N         the hub's pages (8090)
#   --no-apt         do not run apt-get           --no-start      set up everything, start nothing
# A station then joins with one command on its Pi (docs/fleet.md).
set -euo pipefail
export PATH=$PATH:/usr/local/sbin:/usr/sbin:/sbin
PREFIX=/opt/ohsa
CONF_DIR=/etc/ohsa
ENV_FILE=$CONF_DIR/hub.env
STATION_DIR=$CONF_DIR/stations
DATA_DIR=/var/lib/ohsa-hub
HUB_USER=ohsa-hub
DB_NAME=ohsa_hub
MOSQ_DIR=/etc/mosquitto
MOSQ_CONF=$MOSQ_DIR/conf.d/ohsa.conf
MOSQ_OHSA=$MOSQ_DIR/ohsa      # passwd, acl, ca.crt, server.crt/.key: the paths the example config names

say() { echo "hub.sh: $*" >&2; }
die() { say "$*"; exit 1; }
valid_port() { [[ $1 =~ ^[0-9]{1,5}$ ]] && [ "$1" -ge 1 ] && [ "$1" -le 65535 ]; }

stations=() port=8090 use_apt=1 start=1
while [ $# -gt 0 ]; do
  case $1 in
    --station) stations+=("${2:?--station needs an id}"); shift 2 ;;
    --port) port=${2:?--port needs a number}; shift 2 ;;
    --no-apt) use_apt=0; shift ;;
    --no-start) start=0; shift ;;
    -h|--help) sed -n '2,23p' "$0"; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done
# every value is checked before anything is changed; none is ever evaluated as code
for s in "${stations[@]}"; do
  [[ $s =~ ^[a-z0-9-]{1,40}$ ]] || die "--station ${s@Q}: 1-40 of a-z, 0-9 and '-'"
  [ "$s" != hub ] && [ "$s" != homeassistant ] || die "--station $s: that name is a broker user of its own (the ACL's)"
done
valid_port "$port" || die "--port ${port@Q}: expected 1-65535"
[ "$(id -u)" = 0 ] || die "run as root (sudo $0 ...)"
repo=$(cd "$(dirname "$0")/.." && pwd)
[ -f "$repo/hub/mosquitto/acl" ] || die "$repo/hub/mosquitto/acl is missing: run from a checkout of the project"
secret() { python3 -c 'import secrets; print(secrets.token_hex(24))'; }
systemd_runs() { [ -d /run/systemd/system ] && command -v systemctl >/dev/null; }

# --- apt ---------------------------------------------------------------------------------------
missing=()
for pkg in mosquitto mosquitto-clients postgresql python3-venv openssl; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  [ $use_apt = 1 ] || die "missing packages: ${missing[*]} (apt-get install them, or drop --no-apt)"
  say "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# --- user, venv --------------------------------------------------------------------------------
id "$HUB_USER" >/dev/null 2>&1 ||
  useradd --system --user-group --home-dir "$DATA_DIR" --no-create-home --shell /usr/sbin/nologin "$HUB_USER"
install -d -m 0700 -o "$HUB_USER" -g "$HUB_USER" "$DATA_DIR"
install -d -m 0755 "$CONF_DIR"
install -d -m 0700 "$STATION_DIR"
# the system's interpreter (a service user must be able to run it; a python3 under a home
# directory, such as pyenv's, may not be readable by ohsa-hub)
py=/usr/bin/python3
[ -x "$py" ] || py=$(command -v python3)
[ -x "$PREFIX/bin/python" ] || "$py" -m venv "$PREFIX"
"$PREFIX/bin/python" -m pip -q --disable-pip-version-check --no-input install "$repo[hub]"

# --- secrets: made once, then read back (never sourced: only our own KEY=value lines) ----------
env_value() { [ -f "$ENV_FILE" ] && sed -n "s/^$1=\"\\{0,1\\}\\([0-9a-f]*\\)\"\\{0,1\\}\$/\\1/p" "$ENV_FILE" | head -n1; }
db_password=$(env_value OHSA_HUB_DB_PASSWORD || true)
mqtt_password=$(env_value OHSA_HUB_MQTT_PASSWORD || true)
[ -n "$db_password" ] || db_password=$(secret)
[ -n "$mqtt_password" ] || mqtt_password=$(secret)
dsn="host=127.0.0.1 port=5432 dbname=$DB_NAME user=$DB_NAME password=$db_password"
broker=mqtt://127.0.0.1:1883   # the example config's loopback listener
umask 077
cat >"$ENV_FILE.tmp" <<ENV
# written by scripts/hub.sh; read by ohsa-hub.service (EnvironmentFile)
OHSA_HUB_DB_PASSWORD="$db_password"
OHSA_HUB_DSN="$dsn"
OHSA_HUB_BROKER="$broker"
OHSA_HUB_MQTT_USER="hub"
OHSA_HUB_MQTT_PASSWORD="$mqtt_password"
OHSA_HUB_DATA_DIR="$DATA_DIR"
OHSA_HUB_PORT="$port"
ENV
chown root:"$HUB_USER" "$ENV_FILE.tmp"
chmod 0640 "$ENV_FILE.tmp"
mv "$ENV_FILE.tmp" "$ENV_FILE"
umask 022

# --- PostgreSQL ----------------------------------------------------------------------------------
if systemd_runs; then
  systemctl enable -q --now postgresql
else
  for cluster in /etc/postgresql/*/main; do
    version=$(basename "$(dirname "$cluster")")
    pg_ctlcluster "$version" main status >/dev/null 2>&1 || pg_ctlcluster "$version" main start
  done
fi
# psql's :'pw' quotes the value as a literal: the password is never part of the SQL text
runuser -u postgres -- psql -q -v ON_ERROR_STOP=1 -v pw="$db_password" -v db="$DB_NAME" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN', :'db') WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'db')\gexec
ALTER ROLE :"db" WITH LOGIN PASSWORD :'pw';
SELECT format('CREATE DATABASE %I OWNER %I', :'db', :'db') WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db')\gexec
SQL
OHSA_HUB_DSN=$dsn runuser -u "$HUB_USER" --preserve-environment -- "$PREFIX/bin/ohsa" hub migrate

# --- Mosquitto (the project's example config and ACL: hub/mosquitto/) ---------------------------
install -d -m 0750 -o root -g mosquitto "$MOSQ_OHSA"
touch "$MOSQ_OHSA/passwd"
chown root:mosquitto "$MOSQ_OHSA/passwd"
chmod 0640 "$MOSQ_OHSA/passwd"
mosquitto_passwd -b "$MOSQ_OHSA/passwd" hub "$mqtt_password"
for s in "${stations[@]}"; do
  if ! grep -q "^$s:" "$MOSQ_OHSA/passwd"; then
    pw=$(secret)
    mosquitto_passwd -b "$MOSQ_OHSA/passwd" "$s" "$pw"
    (umask 077; printf '%s\n' "$pw" >"$STATION_DIR/$s.password")
    say "station $s: broker user made; password (shown once, kept in $STATION_DIR/$s.password): $pw"
    say "  on its Pi, with that password in /etc/ohsa/fleet-password and this hub's $MOSQ_OHSA/ca.crt in /etc/ohsa/fleet-ca.crt:"
    say "  sudo ohsa fleet join --host $(hostname -f 2>/dev/null || hostname) --station-id $s --password-file /etc/ohsa/fleet-password --ca /etc/ohsa/fleet-ca.crt"
  else
    say "station $s: broker user exists (password unchanged)"
  fi
done
install -m 0640 -o root -g mosquitto "$repo/hub/mosquitto/acl" "$MOSQ_OHSA/acl"
# TLS for the stations: a CA made here once (stations get ca.crt), a server certificate for
# this machine's name and addresses
if [ ! -f "$MOSQ_OHSA/server.crt" ]; then
  name=$(hostname -f 2>/dev/null || hostname)
  san="DNS:$name,DNS:$(hostname),DNS:localhost,IP:127.0.0.1"
  for ip in $(hostname -I 2>/dev/null); do [[ $ip =~ ^[0-9.]+$ ]] && san="$san,IP:$ip"; done
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
    -subj "/CN=OHSA hub CA" -keyout "$MOSQ_OHSA/ca.key" -out "$MOSQ_OHSA/ca.crt" 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=$name" \
    -keyout "$MOSQ_OHSA/server.key" -out "$MOSQ_OHSA/server.csr" 2>/dev/null
  openssl x509 -req -in "$MOSQ_OHSA/server.csr" -CA "$MOSQ_OHSA/ca.crt" -CAkey "$MOSQ_OHSA/ca.key" \
    -CAcreateserial -days 3650 -out "$MOSQ_OHSA/server.crt" -extfile <(printf 'subjectAltName=%s\n' "$san") 2>/dev/null
  chmod 0600 "$MOSQ_OHSA/ca.key"
  chown root:mosquitto "$MOSQ_OHSA/server.key"
  chmod 0640 "$MOSQ_OHSA/server.key"
  chmod 0644 "$MOSQ_OHSA/ca.crt" "$MOSQ_OHSA/server.crt"
fi
# Debian's own mosquitto.conf already sets persistence: the example's lines would be duplicates
if grep -qs '^persistence' "$MOSQ_DIR/mosquitto.conf"; then
  sed '/^persistence/d' "$repo/hub/mosquitto/mosquitto.conf" >"$MOSQ_CONF.tmp"
else
  cp "$repo/hub/mosquitto/mosquitto.conf" "$MOSQ_CONF.tmp"
fi
mv "$MOSQ_CONF.tmp" "$MOSQ_CONF"
chmod 0644 "$MOSQ_CONF"
if systemd_runs; then
  systemctl enable -q mosquitto
  systemctl restart mosquitto
else  # no systemd (a container): stop the daemon cleanly (its queue is saved) and start it again
  install -d -o mosquitto -g mosquitto /run/mosquitto   # the pid file's folder (systemd makes it)
  pid=$(cat /run/mosquitto/mosquitto.pid 2>/dev/null || true)
  if [[ $pid =~ ^[0-9]+$ ]] && kill -TERM "$pid" 2>/dev/null; then
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  mosquitto -d -c "$MOSQ_DIR/mosquitto.conf"
fi

# --- the pages' password, the unit, start ------------------------------------------------------
OHSA_HUB_DATA_DIR=$DATA_DIR runuser -u "$HUB_USER" --preserve-environment -- \
  "$PREFIX/bin/ohsa" hub password generate --if-unset
install -m 0644 "$repo/systemd/ohsa-hub.service" /etc/systemd/system/ohsa-hub.service
if [ $start = 0 ]; then
  say "set up; start with: systemctl start ohsa-hub"
elif systemd_runs; then
  systemctl daemon-reload
  systemctl enable -q ohsa-hub.service
  systemctl restart ohsa-hub.service
  say "hub started: http://$(hostname):$port/ (systemctl status ohsa-hub; journalctl -u ohsa-hub -f)"
else
  say "no systemd here: the hub runs in the foreground (Ctrl-C stops it)"
  # the secrets go in the environment (readable by root and the hub only), never on a command line
  export OHSA_HUB_DSN=$dsn OHSA_HUB_BROKER=$broker OHSA_HUB_MQTT_PASSWORD=$mqtt_password \
         OHSA_HUB_DATA_DIR=$DATA_DIR OHSA_HUB_PORT=$port
  exec runuser -u "$HUB_USER" -- "$PREFIX/bin/ohsa" -v hub run
fi
