#!/usr/bin/env bash
# Set up and start the hub of a gym chain on this machine (Debian / Ubuntu / Raspberry Pi OS), in
# one command. Run as root; safe to run again (keeps every password, database and user it made).
#
#   sudo scripts/hub.sh --station gym-berlin-1 --station gym-berlin-2
#
# What it does:
#   - apt: mosquitto, mosquitto-clients, postgresql, python3-venv when missing;
#   - PostgreSQL: role and database `ohsa_hub` (password generated once), schema migrated;
#   - Mosquitto: /etc/mosquitto/conf.d/ohsa.conf (listener, no anonymous clients, unlimited
#     queue for the hub's session), the password file with user `hub` and one user per
#     --station (its password generated and printed once, kept in /etc/ohsa/stations/ID.password),
#     the ACL from hub/mosquitto/acl (a station may write only under its own topics);
#     --tls adds a TLS listener (8883) with a CA made here (/etc/mosquitto/certs/ohsa-ca.crt);
#   - the hub: venv /opt/ohsa with the `hub` extra, user `ohsa-hub`, /etc/ohsa/hub.env (DSN,
#     broker, MQTT password; 0640 root:ohsa-hub), the pages' owner password (generated and
#     printed once), then systemd/ohsa-hub.service enabled and started — or, where systemd
#     does not run (a container), `ohsa hub run` in the foreground.
# Options:
#   --station ID     add a station's broker user (repeatable; ID: 1-40 of a-z, 0-9, '-')
#   --port N         the hub's pages (8090)       --mqtt-port N   the broker (1883)
#   --tls            also a TLS listener on 8883  --no-apt        do not run apt-get
#   --no-start       set up everything, start nothing
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
MOSQ_PASSWD=$MOSQ_DIR/ohsa.passwd
MOSQ_ACL=$MOSQ_DIR/ohsa.acl
CERT_DIR=$MOSQ_DIR/certs

say() { echo "hub.sh: $*" >&2; }
die() { say "$*"; exit 1; }
valid_port() { [[ $1 =~ ^[0-9]{1,5}$ ]] && [ "$1" -ge 1 ] && [ "$1" -le 65535 ]; }

stations=() port=8090 mqtt_port=1883 tls=0 use_apt=1 start=1
while [ $# -gt 0 ]; do
  case $1 in
    --station) stations+=("${2:?--station needs an id}"); shift 2 ;;
    --port) port=${2:?--port needs a number}; shift 2 ;;
    --mqtt-port) mqtt_port=${2:?--mqtt-port needs a number}; shift 2 ;;
    --tls) tls=1; shift ;;
    --no-apt) use_apt=0; shift ;;
    --no-start) start=0; shift ;;
    -h|--help) sed -n '2,26p' "$0"; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done
# every value is checked before anything is changed; none is ever evaluated as code
for s in "${stations[@]}"; do
  [[ $s =~ ^[a-z0-9-]{1,40}$ ]] || die "--station ${s@Q}: 1-40 of a-z, 0-9 and '-'"
  [ "$s" != hub ] || die "--station hub: that name is the hub's own broker user"
done
valid_port "$port" || die "--port ${port@Q}: expected 1-65535"
valid_port "$mqtt_port" || die "--mqtt-port ${mqtt_port@Q}: expected 1-65535"
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
[ -x "$PREFIX/bin/python" ] || python3 -m venv "$PREFIX"
"$PREFIX/bin/python" -m pip -q --disable-pip-version-check --no-input install "$repo[hub]"

# --- secrets: made once, then read back (never sourced: only our own KEY=value lines) ----------
env_value() { [ -f "$ENV_FILE" ] && sed -n "s/^$1=\"\\{0,1\\}\\([0-9a-f]*\\)\"\\{0,1\\}\$/\\1/p" "$ENV_FILE" | head -n1; }
db_password=$(env_value OHSA_HUB_DB_PASSWORD || true)
mqtt_password=$(env_value OHSA_HUB_MQTT_PASSWORD || true)
[ -n "$db_password" ] || db_password=$(secret)
[ -n "$mqtt_password" ] || mqtt_password=$(secret)
dsn="host=127.0.0.1 port=5432 dbname=$DB_NAME user=$DB_NAME password=$db_password"
broker=mqtt://127.0.0.1:$mqtt_port
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

# --- Mosquitto -----------------------------------------------------------------------------------
install -d -m 0755 "$MOSQ_DIR/conf.d"
touch "$MOSQ_PASSWD"
chown root:mosquitto "$MOSQ_PASSWD"
chmod 0640 "$MOSQ_PASSWD"
mosquitto_passwd -b "$MOSQ_PASSWD" hub "$mqtt_password"
for s in "${stations[@]}"; do
  if ! grep -q "^$s:" "$MOSQ_PASSWD"; then
    pw=$(secret)
    mosquitto_passwd -b "$MOSQ_PASSWD" "$s" "$pw"
    (umask 077; printf '%s\n' "$pw" >"$STATION_DIR/$s.password")
    say "station $s: broker user made; its password (shown once, kept in $STATION_DIR/$s.password): $pw"
  else
    say "station $s: broker user exists (password unchanged)"
  fi
done
install -m 0640 -o root -g mosquitto "$repo/hub/mosquitto/acl" "$MOSQ_ACL"
{
  echo "# written by scripts/hub.sh (the project's example: hub/mosquitto/mosquitto.conf)"
  echo "per_listener_settings false"
  echo "allow_anonymous false"
  echo "password_file $MOSQ_PASSWD"
  echo "acl_file $MOSQ_ACL"
  echo "# the hub's persistent session keeps every message while the hub is away (the default 1000 drops)"
  echo "max_queued_messages 0"
  echo "listener $mqtt_port"
} >"$MOSQ_CONF.tmp"
if [ $tls = 1 ]; then
  install -d -m 0750 -o root -g mosquitto "$CERT_DIR"
  if [ ! -f "$CERT_DIR/ohsa-server.crt" ]; then
    name=$(hostname -f 2>/dev/null || hostname)
    openssl req -x509 -newkey rsa:3072 -nodes -days 3650 -subj "/CN=OHSA hub CA" \
      -keyout "$CERT_DIR/ohsa-ca.key" -out "$CERT_DIR/ohsa-ca.crt" 2>/dev/null
    openssl req -newkey rsa:3072 -nodes -subj "/CN=$name" -keyout "$CERT_DIR/ohsa-server.key" \
      -out "$CERT_DIR/ohsa-server.csr" 2>/dev/null
    openssl x509 -req -in "$CERT_DIR/ohsa-server.csr" -CA "$CERT_DIR/ohsa-ca.crt" -CAkey "$CERT_DIR/ohsa-ca.key" \
      -CAcreateserial -days 3650 -out "$CERT_DIR/ohsa-server.crt" \
      -extfile <(printf 'subjectAltName=DNS:%s,DNS:localhost,IP:127.0.0.1\n' "$name") 2>/dev/null
    chown root:mosquitto "$CERT_DIR"/ohsa-server.key
    chmod 0640 "$CERT_DIR"/ohsa-server.key
    chmod 0600 "$CERT_DIR/ohsa-ca.key"
  fi
  { echo "listener 8883"
    echo "cafile $CERT_DIR/ohsa-ca.crt"
    echo "certfile $CERT_DIR/ohsa-server.crt"
    echo "keyfile $CERT_DIR/ohsa-server.key"; } >>"$MOSQ_CONF.tmp"
  say "TLS on 8883; stations need $CERT_DIR/ohsa-ca.crt"
fi
mv "$MOSQ_CONF.tmp" "$MOSQ_CONF"
chmod 0644 "$MOSQ_CONF"
if systemd_runs; then
  systemctl enable -q mosquitto
  systemctl restart mosquitto
elif command -v service >/dev/null; then
  service mosquitto restart >/dev/null
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
  exec runuser -u "$HUB_USER" -- env OHSA_HUB_DSN="$dsn" OHSA_HUB_BROKER="$broker" \
    OHSA_HUB_MQTT_PASSWORD="$mqtt_password" OHSA_HUB_DATA_DIR="$DATA_DIR" \
    "$PREFIX/bin/ohsa" -v hub run --port "$port"
fi
