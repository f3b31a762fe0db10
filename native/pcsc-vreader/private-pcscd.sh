#!/usr/bin/env bash
# Prove rig's virtual reader driver without touching the shared pcscd: build it, start a
# private pcscd that loads only rig's eight readers, run a command against it, stop it.
#
#   sudo native/pcsc-vreader/private-pcscd.sh                # tests/sim/test_vreader.py
#   sudo native/pcsc-vreader/private-pcscd.sh .venv/bin/python bench/suite.py --no-suite
#
# The private pcscd lives in its own mount namespace (a fresh /run/pcscd for its socket and
# pid file; its reader.conf.d is a temporary folder given with -c), so the system pcscd and
# whoever uses it carry on. Its readers listen on RIG_VREADER_BASE_PORT (default 36071,
# clear of the system's 35963..35978) and the command runs with RIG_READERS=vreader.
# Needs root (unshare, mount). pcscd's own log goes to $RIG_VREADER_LOG (default a temp file).
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ "${RIG_VREADER_NS:-}" != 1 ]; then
    make -s -C native/pcsc-vreader
    exec env RIG_VREADER_NS=1 unshare -m -- "$0" "$@"
fi

export RIG_READERS=vreader
export RIG_VREADER_BASE_PORT=${RIG_VREADER_BASE_PORT:-36071}
conf=$(mktemp -d /tmp/rig-vreader-conf.XXXXXX)
log=${RIG_VREADER_LOG:-$conf.log}
for k in 0 1 2 3 4 5 6 7; do
    printf 'FRIENDLYNAME "rig vreader %s"\nLIBPATH      %s\nCHANNELID    %s\n\n' \
        "$k" "$PWD/native/pcsc-vreader/librig-vreader.so" $((RIG_VREADER_BASE_PORT + k))
done > "$conf/rig-vreader"
mount --make-rprivate /
mount -t tmpfs none /run/pcscd
pcscd --foreground --debug --config "$conf" >"$log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$conf"' EXIT
listening() { grep -qi ":$(printf %04X "$1") 00000000:0000 0A" /proc/net/tcp; }
for _ in $(seq 50); do listening $((RIG_VREADER_BASE_PORT + 7)) && break; sleep 0.1; done
listening $((RIG_VREADER_BASE_PORT + 7)) || { echo "private pcscd did not open its readers (log: $log)" >&2; exit 1; }
echo "[private pcscd $pid: rig vreader 0..7 on TCP $RIG_VREADER_BASE_PORT.., log $log]" >&2
if [ $# -eq 0 ]; then
    set -- .venv/bin/pytest -q -p no:cacheprovider tests/sim/test_vreader.py
fi
"$@"
