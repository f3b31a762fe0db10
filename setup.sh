#!/usr/bin/env bash
# Set up a fresh Debian machine for rig, idempotently: system packages, pcscd with rig's
# and vsmartcard's virtual readers, a local PostgreSQL for the lab billing centre's tests and
# benchmarks, and a virtual environment at .venv with rig installed.
# A second run only checks (a few seconds): each step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")"

say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# 1. System packages the real stack needs.
APT_PKGS=(pcscd pcsc-tools vsmartcard-vpcd swig libpcsclite-dev pkg-config gcc make postgresql
          chromium chromium-driver ser2net)  # ser2net: a labgrid exporter serves meter ports
if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
    APT_PKGS+=(python3-venv python3-dev)
fi
missing=()
for p in "${APT_PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    say "installing system packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    as_root apt-get update -q
    as_root apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# 2. pcscd with rig's virtual card readers. rig's own driver (native/pcsc-vreader) serves
#    eight one-slot readers "rig vreader K 0K 00" on TCP 35971+K and tells pcscd of a card's
#    arrival and departure at once. Debian's vsmartcard vpcd driver stays beside it (its
#    reader's two slots on TCP 35963/35964, and three more readers, a copy of the driver each
#    because it keeps its slots in globals, on 35965..35970, "rig vpcd K 00 0S"): pcscd
#    polls it every 400 ms, and RIG_READERS=vpcd still uses it (bench/suite.py compares).
#    rig/sim/vpcd.py is the one source of slot -> port -> reader name.
DRIVERS=/usr/lib/pcsc/drivers/serial
RIG_READERS=/etc/reader.conf.d/rig-vpcd
RIG_VREADERS=/etc/reader.conf.d/rig-vreader
VREADER_SO=$DRIVERS/librig-vreader.so
readers_conf() {
    echo "# rig: extra vsmartcard virtual readers for parallel benches (written by setup.sh)"
    for k in 1 2 3; do
        port=$((35963 + 2 * k))
        printf 'FRIENDLYNAME "rig vpcd %s"\nDEVICENAME   /dev/null:%s\n' "$k" "$port"
        printf 'LIBPATH      %s/librig-vpcd-%s.so\nCHANNELID    %s\n\n' "$DRIVERS" "$k" "$port"
    done
}
vreaders_conf() {
    echo "# rig: its own virtual card readers, one slot each (written by setup.sh; see native/pcsc-vreader)"
    for k in 0 1 2 3 4 5 6 7; do
        printf 'FRIENDLYNAME "rig vreader %s"\nLIBPATH      %s\nCHANNELID    %s\n\n' \
            "$k" "$VREADER_SO" $((35971 + k))
    done
}
restart=0
if [ "$(readers_conf)" != "$(cat "$RIG_READERS" 2>/dev/null)" ]; then
    say "configuring the extra virtual readers in $RIG_READERS"
    for k in 1 2 3; do as_root cp "$DRIVERS/libifdvpcd.so" "$DRIVERS/librig-vpcd-$k.so"; done
    readers_conf | as_root tee "$RIG_READERS" >/dev/null
    restart=1
fi
make -s -C native/pcsc-vreader  # rebuilds only when vreader.c or the Makefile changed
if ! cmp -s native/pcsc-vreader/librig-vreader.so "$VREADER_SO"; then
    say "installing rig's virtual reader driver as $VREADER_SO"
    as_root install -m 0755 native/pcsc-vreader/librig-vreader.so "$VREADER_SO"
    restart=1  # pcscd keeps the old driver loaded until it restarts
fi
if [ "$(vreaders_conf)" != "$(cat "$RIG_VREADERS" 2>/dev/null)" ]; then
    say "configuring rig's virtual readers in $RIG_VREADERS"
    vreaders_conf | as_root tee "$RIG_VREADERS" >/dev/null
    restart=1
fi
listening() { grep -qi ":$(printf %04X "$1") 00000000:0000 0A" /proc/net/tcp; }
vpcd_up() { listening 35963 && listening 35970 && listening 35971 && listening 35978; }
if [ "$restart" = 1 ] || ! vpcd_up; then
    if pgrep -x pcscd >/dev/null; then
        say "restarting pcscd to load the virtual readers"
        as_root pkill -x pcscd || true
        for _ in $(seq 30); do pgrep -x pcscd >/dev/null || break; sleep 0.1; done
    fi
    say "starting pcscd"
    as_root pcscd
    for _ in $(seq 50); do vpcd_up && break; sleep 0.1; done
    vpcd_up || { echo "[setup] pcscd started but the virtual reader ports 35963..35978 are not listening" >&2; exit 1; }
fi

# 3. PostgreSQL (SQLite stays the embedded default): a running cluster with role `rig`
#    (password `rig`, may create databases: tests make one per test) and database `rig_billing`.
#    RIG_POSTGRES_URL=postgresql+psycopg://rig:rig@127.0.0.1:5432/rig_billing reaches it.
as_postgres() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else sudo -u postgres "$@"; fi; }
pg_psql() { as_postgres psql -X -q -v ON_ERROR_STOP=1 -tA "$@"; }
cluster=$(pg_lsclusters -h 2>/dev/null | head -n1)
if [ -z "$cluster" ]; then
    ver=$(ls /usr/lib/postgresql | sort -V | tail -n1)
    say "creating PostgreSQL cluster $ver/main"
    as_root pg_createcluster "$ver" main >/dev/null
    cluster=$(pg_lsclusters -h | head -n1)
fi
read -r pg_ver pg_name pg_port pg_status _ <<<"$cluster"
if [ "$pg_status" != "online" ]; then
    say "starting PostgreSQL $pg_ver/$pg_name on port $pg_port"
    as_root pg_ctlcluster "$pg_ver" "$pg_name" start
fi
if [ "$(pg_psql -p "$pg_port" -c "SELECT 1 FROM pg_roles WHERE rolname = 'rig'")" != 1 ]; then
    say "creating PostgreSQL role rig and database rig_billing"
    pg_psql -p "$pg_port" -c "CREATE ROLE rig LOGIN CREATEDB PASSWORD 'rig'"
fi
if [ "$(pg_psql -p "$pg_port" -c "SELECT 1 FROM pg_database WHERE datname = 'rig_billing'")" != 1 ]; then
    pg_psql -p "$pg_port" -c "CREATE DATABASE rig_billing OWNER rig"
fi

# 4. The virtual environment, reinstalled only when pyproject.toml changed.
stamp=.venv/.rig-installed
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ ! -x .venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    say "creating .venv and installing rig (first run takes a minute or two)"
    [ -x .venv/bin/python ] || python3 -m venv .venv
    .venv/bin/python -m pip install -q --upgrade pip
    .venv/bin/python -m pip install -q -e '.[server,postgres,plots,printer,lab,test]'  # every extra
    echo "$want" > "$stamp"
fi
say "ready: pcscd with virtual readers, PostgreSQL $pg_ver on port $pg_port, .venv with rig $(.venv/bin/python -c 'import rig; print(rig.__version__)')"
