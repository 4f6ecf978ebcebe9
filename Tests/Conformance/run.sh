#!/usr/bin/env bash
# Starts the built `portcullis serve` on a free loopback port with a fresh data folder and runs
# scim2-tester's full check_server suite against it (see check_server.py).
#   usage: Tests/Conformance/run.sh PATH/TO/portcullis [VENV]
# VENV: a virtualenv that already has requirements.txt installed (make test passes its own);
# without it one is made under .build/conformance-venv.
set -euo pipefail

binary=${1:?usage: $0 PATH/TO/portcullis [VENV]}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
venv=${2:-"$root/.build/conformance-venv"}

if [ -z "${2:-}" ] && { [ ! -x "$venv/bin/python" ] || ! cmp -s "$here/requirements.txt" "$venv/requirements.txt"; }; then
    echo "Installing scim2-tester into $venv"
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
    cp "$here/requirements.txt" "$venv/requirements.txt"
fi

work=$(mktemp -d)
server_pid=""
cleanup() {
    if [ -n "$server_pid" ]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

# --dry-run: the SCIM service is under test here, not the host's network configuration.
"$binary" serve --data "$work/data" --policies "$root/policies" --listen 127.0.0.1:0 --dry-run >"$work/stdout" 2>"$work/stderr" &
server_pid=$!

for _ in $(seq 1 100); do
    grep -q "listening on" "$work/stdout" 2>/dev/null && break
    if ! kill -0 "$server_pid" 2>/dev/null; then
        echo "portcullis serve exited early:" >&2
        cat "$work/stderr" >&2
        exit 1
    fi
    sleep 0.1
done
base=$(grep -o 'http://127.0.0.1:[0-9]*' "$work/stdout" | head -n 1)
# Standard output is not a terminal here, so the first token is in a file (mode 0600), not in the banner.
token=$(cat "$work/data/initial-token" 2>/dev/null || true)
if [ -z "$base" ] || [ -z "$token" ]; then
    echo "portcullis serve did not report its address and first token:" >&2
    cat "$work/stdout" "$work/stderr" >&2
    exit 1
fi

echo "Running scim2-tester 0.5.2 check_server against $base/scim/v2"
"$venv/bin/python" "$here/check_server.py" "$base/scim/v2" "$token"
