#!/usr/bin/env bash
# Set up a fresh Debian machine for rig, idempotently: system packages, pcscd with the
# vsmartcard virtual readers, and a virtual environment at .venv with rig installed.
# A second run only checks (a few seconds): each step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")"

say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# 1. System packages the real stack needs.
APT_PKGS=(pcscd vsmartcard-vpcd swig libpcsclite-dev pkg-config gcc)
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

# 2. pcscd with the vpcd driver: the virtual readers listen on TCP 35963/35964.
vpcd_up() { (exec 3<>/dev/tcp/127.0.0.1/35963) 2>/dev/null; }
if ! vpcd_up; then
    if pgrep -x pcscd >/dev/null; then
        say "pcscd runs without the vpcd readers: restarting it"
        as_root pkill -x pcscd || true
        sleep 0.5
    fi
    say "starting pcscd"
    as_root pcscd
    for _ in $(seq 50); do vpcd_up && break; sleep 0.1; done
    vpcd_up || { echo "[setup] pcscd started but the vpcd reader port 35963 is not listening" >&2; exit 1; }
fi

# 3. The virtual environment, reinstalled only when pyproject.toml changed.
stamp=.venv/.rig-installed
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ ! -x .venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    say "creating .venv and installing rig (first run takes a minute or two)"
    [ -x .venv/bin/python ] || python3 -m venv .venv
    .venv/bin/python -m pip install -q --upgrade pip
    .venv/bin/python -m pip install -q -e '.[dev]'
    echo "$want" > "$stamp"
fi
say "ready: pcscd with virtual readers, .venv with rig $(.venv/bin/python -c 'import rig; print(rig.__version__)')"
