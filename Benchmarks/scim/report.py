#!/usr/bin/env python3
"""Reads the wrk summaries that common.lua's done() writes, and the Bulk case's bulk.json (bulk.py), prints
them, and writes docs/benchmarks.md.

    report.py line RESULT.json              one scenario's figures on one line
    report.py summary WORK_DIR [options]    the tables, the targets, the machine; writes --docs

The summary exits 1 when a server answered more than --max-errors of a scenario's requests with
something else than a 2xx (or not at all): those figures measure errors, so docs/benchmarks.md is
left alone. Missing a target is reported as such and exits 0: this is a benchmark, not a test.
"""

import argparse
import datetime
import json
import os
import platform
import re
import subprocess
import sys

SCENARIOS = {
    "filter": 'GET /Users?filter=userName eq "…"',
    "list": "GET /Users?startIndex=N&count=100",
    "create": "POST /Users",
    "patch": "PATCH /Groups/{id} members add / remove",
}
ORDER = ["filter", "list", "create", "patch"]
SERVER_NAMES = {"portcullis": "Portcullis", "reference": "scim2-server"}
THROUGHPUT_FACTOR = 25          # the issue: at least 25x the reference's throughput...
THROUGHPUT_SCENARIOS = ["filter", "create"]  # ...for filter lookups and creates
LOOKUP_P99_MS = 5.0             # and p99 under 5 ms for a userName eq lookup...
LOOKUP_P99_USERS = 100_000      # ...at 100k users

OTHER_WORK_CORES = 0.25         # more CPU than this used by others during a scenario skews it

BEGIN, END = "<!-- BEGIN bench-scim -->", "<!-- END bench-scim -->"
BLOCK = re.compile(r"<!-- BEGIN bench-scim users=(\d+) -->.*?<!-- END bench-scim users=\1 -->\n?", re.S)


def load(path):
    with open(path) as f:
        result = json.load(f)
    seconds = result["duration_us"] / 1e6
    statuses = {int(k): v for k, v in result["statuses"].items()}
    ok = sum(v for k, v in statuses.items() if 200 <= k < 300)
    errors = result["errors"]
    socket_errors = errors["connect"] + errors["read"] + errors["write"] + errors["timeout"]
    attempts = max(result["requests"], sum(statuses.values())) + socket_errors
    try:
        with open(path[: -len(".json")] + ".cpu") as f:
            cpu_seconds = float(f.read().strip())
    except (OSError, ValueError):
        cpu_seconds = None
    def seconds_in(suffix):
        try:
            with open(path[: -len(".json")] + suffix) as f:
                return float(f.read().strip())
        except (OSError, ValueError):
            return None

    wrk_seconds, machine_seconds = seconds_in(".wrk-cpu"), seconds_in(".machine-cpu")
    # Whatever else ran on the machine meanwhile (the kernel's network work counts here too).
    other_seconds = (machine_seconds - cpu_seconds - wrk_seconds
                     if None not in (machine_seconds, cpu_seconds, wrk_seconds) else None)
    result.update(
        cpu_cores=cpu_seconds / seconds if cpu_seconds is not None and seconds else None,
        wrk_cores=wrk_seconds / seconds if wrk_seconds is not None and seconds else None,
        other_cores=max(0.0, other_seconds / seconds) if other_seconds is not None and seconds else None,
        cpu_ms_per_request=1000 * cpu_seconds / ok if cpu_seconds is not None and ok else None,
        seconds=seconds,
        rps=ok / seconds if seconds else 0.0,
        p50_ms=result["latency_us"]["p50"] / 1000,
        p99_ms=result["latency_us"]["p99"] / 1000,
        ok=ok,
        failed=attempts - ok,
        attempts=attempts,
        failed_share=(attempts - ok) / attempts if attempts else 0.0,
        # wrk only counts answers: a server this slow answered nothing before the scenario ended.
        silent=attempts == 0,
        statuses=statuses,
        socket_errors=socket_errors,
    )
    return result


def describe_failures(r):
    parts = [f"{count}x {status}" for status, count in sorted(r["statuses"].items()) if not 200 <= status < 300]
    errors = r["errors"]
    parts += [f"{errors[k]} {k} errors" for k in ("connect", "read", "write", "timeout") if errors[k]]
    return ", ".join(parts) or "none"


def fmt_rps(value):
    return f"{value:,.0f}" if value >= 100 else f"{value:,.1f}"


def fmt_ms(value):
    return f"{value:.2f} ms" if value < 100 else f"{value:,.0f} ms"


def line(path):
    r = load(path)
    text = f"{fmt_rps(r['rps']):>10} req/s  p50 {fmt_ms(r['p50_ms']):>10}  p99 {fmt_ms(r['p99_ms']):>10}  ({r['ok']} 2xx in {r['seconds']:.1f} s"
    if r["cpu_cores"] is not None:
        text += f", server CPU {r['cpu_cores']:.2f} cores"
    if r["wrk_cores"] is not None:
        text += f", wrk {r['wrk_cores']:.2f}"
    if r["other_cores"] is not None:
        text += f", rest {r['other_cores']:.2f}"
    text += ")" if r["failed"] == 0 else f"; NOT 2xx: {describe_failures(r)})"
    print(text, flush=True)


def load_bulk(directory):
    """The Bulk case of one server (bulk.json, with the server's CPU seconds and peak memory), or None if not run."""
    try:
        with open(os.path.join(directory, "bulk.json")) as f:
            result = json.load(f)
    except OSError:
        return None
    for key, name, scale in (("cpu_seconds", "bulk.cpu", 1), ("client_cpu_seconds", "bulk.client-cpu-seconds", 1),
                             ("machine_cpu_seconds", "bulk.machine-cpu", 1), ("wall_seconds", "bulk.wall-seconds", 1),
                             ("peak_rss_mib", "bulk-peak-rss-kb", 1024)):
        try:
            with open(os.path.join(directory, name)) as f:
                result[key] = float(f.read().strip()) / scale
        except (OSError, ValueError):
            result[key] = None
    if result.get("supported"):
        result["operations"] = result["users"] + result["groups"]
        result["requests"] = result["user_requests"] + result["group_requests"]
        result["operations_per_second"] = result["operations"] / result["seconds"] if result["seconds"] else None
        # Whatever else ran on the machine meanwhile, in cores, as for the wrk scenarios (over bulk.py's whole run,
        # which also builds the data set and checks the counts).
        cpu = [result.get(k) for k in ("machine_cpu_seconds", "cpu_seconds", "client_cpu_seconds", "wall_seconds")]
        result["other_cores"] = (max(0.0, cpu[0] - cpu[1] - cpu[2]) / cpu[3] if None not in cpu and cpu[3] else None)
    return result


def fmt_seconds(value):
    return f"{value:,.2f} s" if value < 100 else f"{value:,.0f} s"


def bulk_rows(bulk, operations):
    """The Bulk table: a row per figure, a column per server, and the ratio."""
    p, r = bulk.get("portcullis"), bulk.get("reference")
    both = bool(p and r and p.get("supported") and r.get("supported"))

    def cells(figure, ratio=None, first=False):
        """A server without Bulk says so in the first row, and n/a below it."""
        row = []
        for b in (p, r):
            if b is None:
                row.append("not run" if first else "n/a")
            elif not b.get("supported"):
                row.append("not supported" if first else "n/a")
            else:
                row.append(figure(b))
        row.append((ratio() if both else "n/a") if ratio else "")
        return row

    def requests(b):
        text = f"{b['requests']:,} ({b['user_requests']:,} users, {b['group_requests']:,} groups)"
        return text if b["max_operations"] == operations else text + f", at most {b['max_operations']:,} operations each"

    def optional(key, fmt):
        return lambda b: fmt(b[key]) if b.get(key) is not None else "n/a"

    return [
        ["time to provision all of them"] + cells(lambda b: fmt_seconds(b["seconds"]),
                                                  lambda: f"{r['seconds'] / p['seconds']:,.1f}x faster" if p["seconds"] else "n/a", first=True),
        ["operations/s"] + cells(optional("operations_per_second", fmt_rps),
                                 lambda: f"{p['operations_per_second'] / r['operations_per_second']:,.1f}x"
                                 if p["operations_per_second"] and r["operations_per_second"] else "n/a"),
        ["Bulk requests"] + cells(requests),
        ["users"] + cells(lambda b: fmt_seconds(b["users_seconds"])),
        ["groups with their members"] + cells(lambda b: fmt_seconds(b["groups_seconds"])),
        ["largest request"] + cells(lambda b: f"{b['largest_request_bytes'] / 1024:,.0f} KiB"),
        ["server CPU time"] + cells(optional("cpu_seconds", fmt_seconds)),
        ["bulk.py CPU time"] + cells(optional("client_cpu_seconds", fmt_seconds)),
        ["other work on the machine, cores"] + cells(optional("other_cores", lambda v: f"{v:.2f}")),
        ["server peak resident memory"] + cells(optional("peak_rss_mib", lambda v: f"{v:,.0f} MiB")),
    ]


def command_output(args):
    try:
        return subprocess.run(args, capture_output=True, text=True, timeout=60).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def machine():
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for row in f:
                if row.startswith("model name"):
                    model = row.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    memory = ""
    try:
        with open("/proc/meminfo") as f:
            for row in f:
                if row.startswith("MemTotal:"):
                    memory = f"{int(row.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    os_name = ""
    try:
        with open("/etc/os-release") as f:
            os_name = dict(r.rstrip("\n").split("=", 1) for r in f if "=" in r).get("PRETTY_NAME", "").strip('"')
    except OSError:
        pass
    swift = command_output(["swift", "--version"]).splitlines()
    wrk = command_output(["wrk", "--version"]).splitlines()
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "memory": memory,
        "os": os_name,
        "kernel": f"{platform.system()} {platform.release()}",
        "swift": next((s for s in swift if "Swift version" in s), swift[0] if swift else "unknown"),
        "python": platform.python_version(),
        "wrk": wrk[0].split(" Copyright")[0] if wrk else "unknown",
    }


def summary(args):
    servers = args.servers.split(",")
    scenarios = [s for s in ORDER if s in args.scenarios.split(",")]
    with_bulk = "bulk" in args.scenarios.split(",")
    results, seeds, rss, bulk = {}, {}, {}, {}
    for server in servers:
        if with_bulk:
            bulk[server] = load_bulk(os.path.join(args.work, server))
        if not scenarios:
            continue
        with open(os.path.join(args.work, server, "seed.json")) as f:
            seeds[server] = json.load(f)
        try:
            with open(os.path.join(args.work, server, "peak-rss-kb")) as f:
                rss[server] = int(f.read().strip()) / 1024
        except (OSError, ValueError):
            pass
        for scenario in scenarios:
            results[server, scenario] = load(os.path.join(args.work, server, f"{scenario}.json"))

    have_reference = "portcullis" in servers and "reference" in servers
    rows = []
    for scenario in scenarios:
        row = [SCENARIOS[scenario]]
        for server in ("portcullis", "reference"):
            r = results.get((server, scenario))
            if r and r["silent"]:
                row += ["0", f"none answered in {args.duration} s", "n/a"]
            else:
                row += [fmt_rps(r["rps"]), fmt_ms(r["p50_ms"]), fmt_ms(r["p99_ms"])] if r else ["n/a"] * 3
        if have_reference and results["reference", scenario]["silent"] and results["portcullis", scenario]["ok"]:
            row.append("∞ (the reference answered nothing)")
        elif have_reference and results["reference", scenario]["rps"] > 0:
            row.append(f"{results['portcullis', scenario]['rps'] / results['reference', scenario]['rps']:,.1f}x")
        else:
            row.append("n/a")
        rows.append(row)
    header = ["Scenario", "Portcullis req/s", "p50", "p99", f"scim2-server req/s", "p50", "p99", "Portcullis / scim2-server"]

    # Targets, judged on the measured figures.
    targets = []
    for scenario in THROUGHPUT_SCENARIOS:
        name = f"{SCENARIOS[scenario]}: at least {THROUGHPUT_FACTOR}x the reference's throughput"
        if have_reference and scenario in scenarios:
            p, r = results["portcullis", scenario], results["reference", scenario]
            if r["silent"] or p["silent"]:
                verdict = "pass" if r["silent"] and not p["silent"] else "FAIL"
                targets.append((name, verdict, f"{'the reference' if r['silent'] else 'Portcullis'} answered nothing in {args.duration} s"))
            else:
                ratio = p["rps"] / r["rps"]
                targets.append((name, "pass" if ratio >= THROUGHPUT_FACTOR else "FAIL", f"measured {ratio:,.1f}x"))
        else:
            targets.append((name, "not measured", "needs both servers and this scenario"))
    name = f"userName eq lookup: p99 under {LOOKUP_P99_MS:g} ms at {LOOKUP_P99_USERS:,} users"
    if "portcullis" in servers and "filter" in scenarios and results["portcullis", "filter"]["silent"]:
        targets.append((name, "FAIL", f"Portcullis answered no lookup in {args.duration} s"))
    elif "portcullis" in servers and "filter" in scenarios:
        p99 = results["portcullis", "filter"]["p99_ms"]
        if args.users >= LOOKUP_P99_USERS:
            targets.append((name, "pass" if p99 < LOOKUP_P99_MS else "FAIL", f"measured p99 {fmt_ms(p99)} at {args.users:,} users"))
        else:
            targets.append((name, "not measured at this size",
                            f"p99 {fmt_ms(p99)} at {args.users:,} users; run with --users={LOOKUP_P99_USERS}"))
    else:
        targets.append((name, "not measured", "needs Portcullis and the filter scenario"))

    invalid = [(server, scenario, r) for (server, scenario), r in sorted(results.items()) if r["failed_share"] > args.max_errors]
    silent = [(server, scenario) for (server, scenario), r in sorted(results.items()) if r["silent"]]
    info = machine()
    try:
        with open(os.path.join(args.work, "started")) as f:
            now = f.read().strip()
    except OSError:
        now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")

    # The terminal.
    widths = [max(len(str(row[i])) for row in [header] + rows) for i in range(len(header))]
    print(f"bench-scim, {now}: {args.users:,} users, {args.groups:,} groups; wrk {args.threads} threads, "
          f"{args.connections} connections, {args.duration} s per scenario")
    print(f"{info['cpu']}, {info['cores']} cores, {info['memory']}; {info['kernel']}; {info['swift']}")
    if rows:
        print("  ".join(h.ljust(w) for h, w in zip(header, widths)))
        for row in rows:
            print("  ".join(str(c).rjust(w) if i else str(c).ljust(w) for i, (c, w) in enumerate(zip(row, widths))))
    for server in servers:
        if server in seeds:
            s = seeds[server]
            print(f"seeding {SERVER_NAMES[server]}: {s['seconds']} s ({s['users_seconds']} s users, {s['groups_seconds']} s groups)")
    if with_bulk:
        memberships = next((b["memberships"] for b in bulk.values() if b and b.get("supported")), None)
        print(f"Bulk, on a fresh instance: {args.users:,} users, then {args.groups:,} groups"
              + (f" with {memberships:,} memberships" if memberships is not None else "")
              + f", {args.bulk_operations:,} operations a request")
        bulk_header = ["Bulk", "Portcullis", "scim2-server", "Portcullis / scim2-server"]
        table = bulk_rows(bulk, args.bulk_operations)
        bulk_widths = [max(len(str(row[i])) for row in [bulk_header] + table) for i in range(len(bulk_header))]
        print("  ".join(h.ljust(w) for h, w in zip(bulk_header, bulk_widths)))
        for row in table:
            print("  ".join(str(c).rjust(w) if i else str(c).ljust(w) for i, (c, w) in enumerate(zip(row, bulk_widths))))
    for name, verdict, detail in targets:
        print(f"target: {name}: {verdict} ({detail})")
    for server, scenario in silent:
        print(f"WARNING: {SERVER_NAMES[server]} answered no {scenario} request within the {args.duration} s scenario "
              "(no errors either: every answer took longer)", file=sys.stderr)
    busy = [(s, n, r["other_cores"]) for (s, n), r in sorted(results.items()) if (r["other_cores"] or 0) > OTHER_WORK_CORES]
    busy += [(s, "bulk", b["other_cores"]) for s, b in sorted(bulk.items()) if b and (b.get("other_cores") or 0) > OTHER_WORK_CORES]
    for server, scenario, other in busy:
        print(f"WARNING: other work used {other:.2f} cores during {SERVER_NAMES[server]} / {scenario}: that row is skewed",
              file=sys.stderr)

    if invalid:
        print(file=sys.stderr)
        for server, scenario, r in invalid:
            print(f"ERROR: {SERVER_NAMES[server]} / {scenario}: {r['failed']} of {r['attempts']} requests "
                  f"({r['failed_share']:.2%}) were not 2xx: {describe_failures(r)}", file=sys.stderr)
        print(f"ERROR: more than {args.max_errors:.2%} of requests failed; these figures measure errors, "
              "so docs/benchmarks.md was not updated.", file=sys.stderr)
        return 1

    if not args.docs:
        return 0
    if not have_reference or scenarios != ORDER or not with_bulk:
        print(f"A partial run (servers {args.servers}, scenarios {args.scenarios}): {args.docs} not updated.")
        return 0

    build = args.build_label or "an unknown commit"
    block = [
        f"<!-- BEGIN bench-scim users={args.users} -->",
        f"### {args.users:,} users, {args.groups:,} groups",
        "",
        f"Measured {now}, Portcullis at {build}, with wrk {args.threads} threads and "
        f"{args.connections} connections for {args.duration} s per scenario, and Bulk requests of "
        f"{args.bulk_operations:,} operations, on:",
        "",
        f"- CPU: {info['cpu']}, {info['cores']} cores",
        f"- memory: {info['memory']}",
        f"- OS: {info['os']}, kernel {info['kernel']}",
        f"- {info['swift']}; Python {info['python']}; {info['wrk']}",
        f"- reference: scim2-server {args.reference_version}",
        f"- load average when the run started: {args.loadavg}",
        "",
        "| " + " | ".join(header) + " |",
        "| " + " | ".join(["---"] + ["---:"] * (len(header) - 1)) + " |",
    ]
    block += ["| " + " | ".join(row) + " |" for row in rows]
    skewed = [f"{SERVER_NAMES[s]} / {n} ({r['other_cores']:.2f} cores)" for (s, n), r in sorted(results.items())
              if (r["other_cores"] or 0) > OTHER_WORK_CORES]
    for server, scenario in silent:
        block += ["", f"**No answer:** {SERVER_NAMES[server]} answered no {scenario} request within the {args.duration} s "
                      "scenario, and no error either."]
    if skewed:
        block += ["", f"**Skewed:** other work on the machine took CPU during {', '.join(skewed)}; "
                      "those rows understate what the server can do. Rerun on a quiet machine."]
    block += ["", "| Target | Result | Measured |", "| --- | --- | --- |"]
    block += [f"| {name} | {verdict} | {detail} |" for name, verdict, detail in targets]

    def cores(r, key):
        return f"{r[key]:.2f}" if r and r.get(key) is not None else "n/a"

    block += ["", f"CPU busy during each scenario, in cores out of {info['cores']} (wrk runs on the same machine):", "",
              "| Scenario | Portcullis | its wrk | rest | scim2-server | its wrk | rest |",
              "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for scenario in scenarios:
        p, r = results.get(("portcullis", scenario)), results.get(("reference", scenario))
        block.append(f"| {SCENARIOS[scenario]} | {cores(p, 'cpu_cores')} | {cores(p, 'wrk_cores')} | {cores(p, 'other_cores')} | "
                     f"{cores(r, 'cpu_cores')} | {cores(r, 'wrk_cores')} | {cores(r, 'other_cores')} |")
    block += ["", "\"rest\" is the machine's other CPU use meanwhile (the kernel's network work counts in the process that "
              "caused it, mostly; a large figure means something else was running and the row is suspect)."]
    block += ["", "Status codes sent:", ""]
    for server in servers:
        codes = ", ".join(f"{n} " + "/".join(str(c) for c in sorted(results[server, n]["statuses"]))
                          for n in scenarios if (server, n) in results)
        block.append(f"- {SERVER_NAMES[server]}: {codes}")
    block += ["", "Seeding (users, then groups with their members inline):", ""]
    for server in servers:
        s = seeds[server]
        memory = f"; peak resident memory {rss[server]:,.0f} MiB" if server in rss else ""
        block.append(f"- {SERVER_NAMES[server]}: {s['seconds']} s ({s['users']:,} users in {s['users_seconds']} s, "
                     f"{s['groups']:,} groups with {s['memberships']:,} memberships in {s['groups_seconds']} s, "
                     f"{s['workers']} client threads){memory}")
    memberships = next((b["memberships"] for b in bulk.values() if b and b.get("supported")), None)
    block += ["", f"Bulk: the same {args.users:,} users, then the {args.groups:,} groups with their "
              + (f"{memberships:,} memberships" if memberships is not None else "memberships")
              + f" inline, through `POST /Bulk` ({args.bulk_operations:,} operations a request, one request at a time), "
              "into a fresh, empty instance of each server (`bulk.py`); an operation is one POST:", "",
              "| Bulk | Portcullis | scim2-server | Portcullis / scim2-server |",
              "| --- | ---: | ---: | ---: |"]
    block += ["| " + " | ".join(row) + " |" for row in bulk_rows(bulk, args.bulk_operations)]
    bulk_skewed = [f"{SERVER_NAMES[s]} ({b['other_cores']:.2f} cores)" for s, b in sorted(bulk.items())
                   if b and (b.get("other_cores") or 0) > OTHER_WORK_CORES]
    if bulk_skewed:
        block += ["", f"**Skewed:** other work on the machine took CPU during the Bulk load of {', '.join(bulk_skewed)}; "
                      "that time overstates what the server needs. Rerun on a quiet machine."]
    unsupported = [SERVER_NAMES[s] for s in servers if bulk.get(s) and not bulk[s].get("supported")]
    if unsupported:
        block += ["", f"{' and '.join(unsupported)} does not advertise Bulk in its `/ServiceProviderConfig`: not measured."]
    block += [f"<!-- END bench-scim users={args.users} -->", ""]
    write_docs(args.docs, "\n".join(block))
    print(f"Wrote {os.path.relpath(args.docs)}")
    return 0


INTRO = """\
## SCIM (make bench-scim)

Written by `Benchmarks/scim/run.sh` (`make bench-scim`; `make bench-scim BENCH_ARGS=--users=100000` for the
large data set, `Benchmarks/scim/run.sh --help` for the options). Each run replaces the block of its data set
size below and leaves the others.

Method: both servers run one after the other on the same machine, each started fresh by the script with empty
storage (Portcullis: its release build, a new SQLite data folder, default log level; the reference:
[scim2-server](https://pypi.org/project/scim2-server/), in memory, as `scim2-server --port P --bearer-token T`).
Each is seeded with the same data set by `seed.py` (users with name, emails, title; every user a member of 2 or
3 random groups; groups created with their members inline), then loaded by `wrk` from the same machine, with the
same Lua scripts, threads, connections and duration:

- `GET /Users?filter=userName eq "…"`: a random seeded userName, URL-encoded (`filter.lua`);
- `GET /Users?startIndex=N&count=100`: a full page at a random offset (`list.lua`);
- `POST /Users`: a new user with a unique userName each time (`create.lua`);
- `PATCH /Groups/{id}`: adds a non-member to a group's `members`, alternating with a remove through
  `members[value eq "…"]` of one added earlier (`patch.lua`).

Then the Bulk case, an identity provider's initial load: each server is started again, fresh, with empty
storage, and `bulk.py` provisions the same data set through `POST /Bulk`, one request after the other over one
connection: every user as a `POST /Users` operation, 1000 operations a request (`--bulk-operations`), then every
group as a `POST /Groups` operation with its members inline, as many a request as fit the server's
`maxOperations` and `maxPayloadSize`. Every operation must answer 201, and the counts are checked afterwards. The
time is the whole load, from the first request to the last answer; operations/s counts the POSTs (users and
groups; the memberships ride inside the groups). A server that does not advertise Bulk is reported as "not
supported".

req/s counts 2xx responses only; a run with more than a trivial share of other answers or socket errors is
refused and not written here. Latencies are wrk's (closed loop: each connection waits for its answer), p50 and
p99 over the whole scenario. Before each scenario the script waits for the server to go idle, and a short warm-up
of lookups and pages precedes the first. wrk shares the CPU with the server under test; the CPU table of each block
shows who used what, and flags rows during which something else was running. The reference server answers
HTTP/1.0 and closes every connection, so its figures include a TCP connect per request; it is written in Python
and serves from one process, so it cannot use more than about one core; it keeps everything in memory, where
Portcullis writes every change to its SQLite file before answering. A PATCH may be answered with 200 and the group
or with 204 and no body: each block lists the status codes each server sent.

Targets (from the issue): at least 25x the reference's throughput for lookups and creates, and a p99 under 5 ms
for a `userName eq` lookup at 100,000 users (under the load above: 16 connections). They are judged on the
measured figures, as a report: a missed target does not fail the make target.
"""


def write_docs(path, block):
    text = open(path).read() if os.path.exists(path) else (
        "# Benchmarks\n\nMeasured performance of Portcullis. Each section is written by the command in its title; "
        "edit outside the `BEGIN`/`END` markers only, since the next run replaces what is between them.\n")
    blocks = {}
    if BEGIN in text and END in text:
        before, rest = text.split(BEGIN, 1)
        section, after = rest.split(END, 1)
        for match in BLOCK.finditer(section):
            blocks[int(match.group(1))] = match.group(0).rstrip("\n") + "\n"
    else:
        before, after = text.rstrip("\n") + "\n\n", "\n"
    users = int(re.search(r"users=(\d+)", block).group(1))
    blocks[users] = block.rstrip("\n") + "\n"
    section = BEGIN + "\n" + INTRO + "\n" + "\n".join(blocks[k] for k in sorted(blocks)) + END
    with open(path, "w") as f:
        f.write(before + section + after)


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="mode", required=True)
    one = sub.add_parser("line")
    one.add_argument("result")
    full = sub.add_parser("summary")
    full.add_argument("work")
    for option in ("users", "groups", "duration", "threads", "connections"):
        full.add_argument(f"--{option}", type=int, required=True)
    full.add_argument("--bulk-operations", type=int, default=1000)
    full.add_argument("--servers", required=True)
    full.add_argument("--scenarios", required=True)
    full.add_argument("--max-errors", type=float, required=True)
    full.add_argument("--reference-version", required=True)
    full.add_argument("--binary", required=True)
    full.add_argument("--docs")
    full.add_argument("--loadavg", default="unknown")
    full.add_argument("--build-label")
    args = parser.parse_args()
    if args.mode == "line":
        line(args.result)
        return 0
    return summary(args)


if __name__ == "__main__":
    sys.exit(main())
