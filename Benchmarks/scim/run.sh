#!/usr/bin/env bash
# `make bench-scim`: throughput and latency of Portcullis against the reference SCIM server
# scim2-server (PyPI), on the same machine, with the same data set and the same request mix.
#
# For each server: start it on a free loopback port with empty storage, seed it (seed.py), then run
# wrk once per scenario (filter.lua, list.lua, patch.lua, create.lua). Then the Bulk case: start a
# fresh instance of the server, again with empty storage, and provision the same users and their group
# memberships through POST /Bulk, 1000 operations a request (bulk.py), timing the whole load; a server
# that does not advertise Bulk in its /ServiceProviderConfig is reported as "not supported". Prints the
# tables and writes them into docs/benchmarks.md between the bench-scim markers. A benchmark, not a
# test: missing the targets is reported, not failed; but a run whose responses were not 2xx is
# worthless, so it exits 1 and leaves docs/benchmarks.md alone.
#
#   usage: Benchmarks/scim/run.sh [options]      (options take --name=value or --name value)
#     --users N             users to seed (default 10000; e.g. --users=100000)
#     --groups N            groups to seed (default users/10); every user is in 2 or 3 of them
#     --duration S          seconds of load per scenario (default 10)
#     --warmup S            seconds of unmeasured lookups and pages before the scenarios (default 2)
#     --threads N           wrk threads (default 2)
#     --connections N       wrk connections, all threads together (default 16)
#     --timeout S           wrk's request timeout (default 30: longer than a scenario, so that slow answers are
#                           measured as slow rather than counted as errors)
#     --seed-workers N      concurrent seeding connections (default 8)
#     --max-errors SHARE    largest share of non-2xx responses or socket errors tolerated (default 0.001)
#     --binary PATH         the portcullis binary (default .build/release/portcullis)
#     --build-label TEXT    what docs/benchmarks.md says was measured (default: this repository's commit, and
#                           whether Sources/ has uncommitted changes); for a --binary built elsewhere
#     --servers LIST        comma-separated: portcullis,reference (default both)
#     --scenarios LIST      comma-separated: filter,list,patch,create,bulk (default all); bulk provisions --users
#                           and --groups through /Bulk on a fresh, empty instance of each server
#     --bulk-operations N   operations per Bulk request (default 1000; at most what the server advertises)
#     --docs PATH           the file to write (default docs/benchmarks.md); --no-docs writes none
#     --keep                keep the work folder (data, logs, wrk output) and print its path
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
reference_version=0.8.3

users=10000
groups=""
duration=10
warmup=2
threads=2
connections=16
timeout=30
seed_workers=8
max_errors=0.001
binary="$root/.build/release/portcullis"
build_label=""
servers="portcullis,reference"
scenarios="filter,list,patch,create,bulk"
bulk_operations=1000
docs="$root/docs/benchmarks.md"
keep=false

usage() { sed -n '/^#   usage:/,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2; exit 2; }
while [ $# -gt 0 ]; do
    arg=$1; shift
    case "$arg" in
        --*=*) name=${arg%%=*}; value=${arg#*=} ;;
        --no-docs|--keep|-h|--help) name=$arg; value="" ;;
        --*) name=$arg; [ $# -gt 0 ] || { echo "$name needs a value" >&2; usage; }; value=$1; shift ;;
        *) echo "unknown argument: $arg" >&2; usage ;;
    esac
    case "$name" in
        --users) users=$value ;;
        --groups) groups=$value ;;
        --duration) duration=$value ;;
        --warmup) warmup=$value ;;
        --threads) threads=$value ;;
        --connections) connections=$value ;;
        --timeout) timeout=$value ;;
        --seed-workers) seed_workers=$value ;;
        --max-errors) max_errors=$value ;;
        --binary) binary=$value ;;
        --build-label) build_label=$value ;;
        --servers) servers=$value ;;
        --scenarios) scenarios=$value ;;
        --bulk-operations) bulk_operations=$value ;;
        --docs) docs=$value ;;
        --no-docs) docs="" ;;
        --keep) keep=true ;;
        -h|--help) usage ;;
        *) echo "unknown option: $name" >&2; usage ;;
    esac
done
for number in "$users" "$duration" "$warmup" "$threads" "$connections" "$timeout" "$seed_workers" "$bulk_operations" \
        "${groups:-1}"; do
    [[ "$number" =~ ^[0-9]+$ ]] || { echo "not a whole number: $number" >&2; usage; }
done
groups=${groups:-$(( users / 10 > 0 ? users / 10 : 1 ))}
[ "$users" -ge 100 ] || { echo "--users must be at least 100 (a list page holds 100)" >&2; exit 2; }
[ "$connections" -ge "$threads" ] || { echo "--connections must be at least --threads" >&2; exit 2; }
[ "$bulk_operations" -ge 1 ] || { echo "--bulk-operations must be at least 1" >&2; exit 2; }
IFS=, read -r -a server_list <<<"$servers"
IFS=, read -r -a scenario_list <<<"$scenarios"
for server in "${server_list[@]}"; do
    case "$server" in portcullis|reference) ;; *) echo "unknown server: $server" >&2; exit 2 ;; esac
done
# The wrk scenarios run on a seeded server; bulk on a fresh one of its own.
wrk_scenarios=()
bulk=false
for scenario in "${scenario_list[@]}"; do
    case "$scenario" in
        filter|list|patch|create) wrk_scenarios+=("$scenario") ;;
        bulk) bulk=true ;;
        *) echo "unknown scenario: $scenario" >&2; exit 2 ;;
    esac
done
case "$binary" in /*) ;; *) binary="$PWD/$binary" ;; esac
case "$docs" in ""|/*) ;; *) docs="$PWD/$docs" ;; esac

[ ${#wrk_scenarios[@]} -eq 0 ] || command -v wrk >/dev/null || { echo "wrk is missing: run scripts/system-packages.sh bench (as root)" >&2; exit 1; }
[[ ",$servers," != *,portcullis,* ]] || [ -x "$binary" ] || {
    echo "no portcullis binary at $binary: run swift build -c release --product portcullis, or pass --binary" >&2; exit 1; }

venv="$root/.build/bench-venv"
if [[ ",$servers," == *,reference,* ]] && { [ ! -x "$venv/bin/scim2-server" ] ||
        [ "$(cat "$venv/version" 2>/dev/null)" != "$reference_version" ]; }; then
    echo "Installing scim2-server==$reference_version into $venv"
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "scim2-server==$reference_version"
    echo "$reference_version" > "$venv/version"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/bench-scim.XXXXXX")
server_pid=""
stop_server() {
    if [ -n "$server_pid" ]; then
        kill "$server_pid" 2>/dev/null || true
        # Both stop on SIGTERM; one that has not within 15 s is killed.
        for _ in $(seq 1 150); do
            kill -0 "$server_pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
        server_pid=""
    fi
}
cleanup() {
    stop_server
    if $keep; then echo "Kept the work folder $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Starts one server, its files (and Portcullis's data) in DIR (default WORK/NAME); sets server_pid, base (the SCIM
# base URL) and token.
start_server() {  # start_server NAME [DIR]
    local name=$1 dir=${2:-"$work/$1"}
    mkdir -p "$dir"
    case "$name" in
        portcullis)
            # --dry-run: the gateway writes its configuration to files instead of changing this machine's
            # network (WireGuard, nftables); builds from before the gateway have no such flag.
            local dry_run=()
            if "$binary" serve --help 2>&1 | grep -q -- "--dry-run"; then dry_run=(--dry-run); fi
            "$binary" serve --data "$dir/data" --policies "$root/policies" --listen 127.0.0.1:0 "${dry_run[@]}" \
                >"$dir/server.out" 2>"$dir/server.log" &
            server_pid=$!
            for _ in $(seq 1 300); do
                grep -q "listening on" "$dir/server.out" 2>/dev/null && break
                kill -0 "$server_pid" 2>/dev/null || break
                sleep 0.1
            done
            base=$(grep -o 'http://127.0.0.1:[0-9]*' "$dir/server.out" | head -n 1)/scim/v2
            # Standard output is not a terminal: the first token is in a file (builds from before that printed it).
            token=$(cat "$dir/data/initial-token" 2>/dev/null || grep -o 'pcl_[A-Za-z0-9_-]*' "$dir/server.out" | head -n 1)
            ;;
        reference)
            token="bench-$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
            local port
            port=$(free_port)
            "$venv/bin/scim2-server" --port "$port" --bearer-token "$token" >"$dir/server.out" 2>"$dir/server.log" &
            server_pid=$!
            for _ in $(seq 1 300); do
                grep -q "Serving SCIM on" "$dir/server.out" 2>/dev/null && break
                kill -0 "$server_pid" 2>/dev/null || break
                sleep 0.1
            done
            base=$(grep -o 'http://127.0.0.1:[0-9]*/v2' "$dir/server.out" | head -n 1)
            ;;
    esac
    if ! kill -0 "$server_pid" 2>/dev/null || [ -z "$token" ] || [ "$base" = "/scim/v2" ] || [ -z "$base" ]; then
        echo "$name did not start:" >&2
        cat "$dir/server.out" "$dir/server.log" >&2
        exit 1
    fi
}

cpu_ticks() {  # user + system CPU time of a process, in clock ticks
    awk '{ print $14 + $15 }' "/proc/$1/stat"
}

busy_ticks() {  # CPU time of the whole machine that was not idle, in clock ticks
    awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat
}

# wrk stops at the end of its duration, but the server may still work through requests it had accepted
# (a slow list page can queue many seconds of work, and holds up the next scenario's requests): wait until
# it has been idle (at most 1 clock tick of CPU in each of 4 half-second windows in a row), up to 5 minutes.
wait_idle() {
    local previous now quiet=0
    previous=$(cpu_ticks "$server_pid")
    for _ in $(seq 1 600); do
        sleep 0.5
        now=$(cpu_ticks "$server_pid")
        if [ $(( now - previous )) -le 1 ]; then quiet=$(( quiet + 1 )); else quiet=0; fi
        [ "$quiet" -ge 4 ] && return 0
        previous=$now
    done
    echo "(the server was still busy 5 minutes after the previous scenario)" >&2
}

run_wrk() {  # run_wrk SERVER SCENARIO SECONDS RESULT_FILE
    local server=$1 scenario=$2 seconds=$3 result=$4 before machine_before
    wait_idle
    before=$(cpu_ticks "$server_pid")
    machine_before=$(busy_ticks)
    # `time` records wrk's own CPU use (user and system seconds), since it shares the machine.
    local TIMEFORMAT='%3U %3S'
    { time BENCH_LUA_DIR="$here" BENCH_DATA_DIR="$work/$server" BENCH_USERS="$users" BENCH_THREADS="$threads" \
        BENCH_RUN_ID="$run_id" BENCH_RESULT="$result" \
        wrk --latency --threads "$threads" --connections "$connections" --duration "${seconds}s" \
            --timeout "${timeout}s" --header "Authorization: Bearer $token" --header "Accept: application/scim+json" \
            --script "$here/$scenario.lua" "$base" >"${result%.json}.txt" 2>&1; } 2>"${result%.json}.client-cpu" || {
        echo "wrk failed on $server/$scenario:" >&2
        cat "${result%.json}.txt" >&2
        exit 1
    }
    [ -s "$result" ] || { echo "wrk wrote no summary for $server/$scenario:" >&2; cat "${result%.json}.txt" >&2; exit 1; }
    # The server's CPU time during the scenario, in seconds (report.py shows it as cores busy).
    echo "$(( $(cpu_ticks "$server_pid") - before )) $(getconf CLK_TCK)" | awk '{ print $1 / $2 }' >"${result%.json}.cpu"
    echo "$(( $(busy_ticks) - machine_before )) $(getconf CLK_TCK)" | awk '{ print $1 / $2 }' >"${result%.json}.machine-cpu"
    awk '{ print $1 + $2 }' "${result%.json}.client-cpu" >"${result%.json}.wrk-cpu"
}

# What was measured: the commit of this work tree when the run starts (make bench-scim builds it just before).
if [ -z "$build_label" ] && commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null); then
    build_label="commit \`$commit\`"
    if [ -n "$(git -C "$root" status --porcelain -- Sources Package.swift 2>/dev/null)" ]; then
        build_label+=" with uncommitted changes to Sources/"
    fi
fi
run_id=$(date +%s)
date -u '+%Y-%m-%d %H:%M UTC' >"$work/started"
# Other work on the machine skews every figure: say so, and record it.
read -r load1 _ < /proc/loadavg
echo "$load1" >"$work/loadavg"
if awk -v load="$load1" 'BEGIN { exit !(load > 0.5) }'; then
    echo "WARNING: the load average is $load1 before the run started; other work on this machine will skew the figures" >&2
fi
echo "bench-scim: $users users, $groups groups; wrk ${threads} threads, ${connections} connections, ${duration} s per scenario;" \
    "Bulk: $bulk_operations operations a request"
for server in "${server_list[@]}"; do
    echo
    echo "== $server"
    if [ ${#wrk_scenarios[@]} -gt 0 ]; then
        start_server "$server"
        echo "$base (pid $server_pid)"
        python3 "$here/seed.py" "$base" "$token" "$work/$server" \
            --users "$users" --groups "$groups" --workers "$seed_workers" 2>&1 || {
            echo "seeding $server failed; the end of its log:" >&2
            tail -n 20 "$work/$server/server.log" >&2
            exit 1
        }
        if [ "$warmup" -gt 0 ]; then
            for scenario in filter list; do
                run_wrk "$server" "$scenario" "$warmup" "$work/$server/warmup-$scenario.json"
            done
        fi
        for scenario in "${wrk_scenarios[@]}"; do
            printf '%-8s ' "$scenario"
            run_wrk "$server" "$scenario" "$duration" "$work/$server/$scenario.json"
            python3 "$here/report.py" line "$work/$server/$scenario.json"
        done
        # The server's resident memory after the run, for the record.
        awk '/VmHWM/ {print $2}' "/proc/$server_pid/status" > "$work/$server/peak-rss-kb" 2>/dev/null || true
        stop_server
    fi
    if $bulk; then
        # Bulk: the same data set into a fresh, empty instance, through /Bulk (bulk.py writes bulk.json, or
        # {"supported": false} for a server that does not advertise Bulk).
        mkdir -p "$work/$server"
        start_server "$server" "$work/$server/bulk-server"
        echo "bulk: a fresh instance at $base (pid $server_pid)"
        before=$(cpu_ticks "$server_pid")
        machine_before=$(busy_ticks)
        TIMEFORMAT='%3R %3U %3S'
        # `time` records bulk.py's wall time and its own CPU use, as for wrk: the client shares the machine.
        { time python3 -B "$here/bulk.py" "$base" "$token" "$work/$server" \
            --users "$users" --groups "$groups" --operations "$bulk_operations" 2>&1; } 2>"$work/$server/bulk.client-cpu" || {
            echo "the Bulk case failed on $server; the end of its log:" >&2
            cat "$work/$server/bulk.client-cpu" >&2
            tail -n 20 "$work/$server/bulk-server/server.log" >&2
            exit 1
        }
        unset TIMEFORMAT
        # CPU seconds over the whole Bulk load (and the checks after it): the server's, bulk.py's, the machine's.
        echo "$(( $(cpu_ticks "$server_pid") - before )) $(getconf CLK_TCK)" | awk '{ print $1 / $2 }' >"$work/$server/bulk.cpu"
        echo "$(( $(busy_ticks) - machine_before )) $(getconf CLK_TCK)" | awk '{ print $1 / $2 }' >"$work/$server/bulk.machine-cpu"
        awk 'END { print $1 }' "$work/$server/bulk.client-cpu" >"$work/$server/bulk.wall-seconds"
        awk 'END { print $2 + $3 }' "$work/$server/bulk.client-cpu" >"$work/$server/bulk.client-cpu-seconds"
        awk '/VmHWM/ {print $2}' "/proc/$server_pid/status" > "$work/$server/bulk-peak-rss-kb" 2>/dev/null || true
        stop_server
    fi
done

echo
python3 "$here/report.py" summary "$work" \
    --users "$users" --groups "$groups" --duration "$duration" --threads "$threads" --connections "$connections" \
    --servers "$servers" --scenarios "$scenarios" --max-errors "$max_errors" --bulk-operations "$bulk_operations" \
    --reference-version "$reference_version" --binary "$binary" --loadavg "$load1" \
    ${build_label:+--build-label "$build_label"} ${docs:+--docs "$docs"}
