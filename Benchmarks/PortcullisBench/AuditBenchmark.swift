import Audit
import Foundation
import Policy
import SCIM
import Store

/// `make bench-audit`: "who could reach X at T" (`portcullis audit access --to X --at T`) over a
/// large access history, side by side with a naive full scan of that history; and what the audit
/// record appended in the same transaction as every SCIM write costs.
///
/// The data is written through the Store's public API into a real SQLite file in a temporary
/// folder (deleted afterwards): users with `create`, a year of gateway changes with
/// `recordGatewayChange` (one call per simulated reconcile tick, as the reconciler records them).
struct AuditBenchmark {
    let options: BenchOptions

    static let hour: Int64 = 3_600_000
    static let day: Int64 = 24 * hour

    func run() async {
        let userCount = max(options.int("users", 100_000), 100)
        let intervalTarget = options.int("intervals", 1_000_000)
        let queryCount = max(options.int("queries", 1_000), 1)
        let broadQueryCount = options.int("broad-queries", 20)
        let naiveQueryCount = max(options.int("naive-queries", 20), 1)
        let writeCount = max(options.int("writes", 2_000), 10)
        let tickMinutes = max(options.int("tick-minutes", 60), 1)
        let loadAtStart = Self.loadAverage()
        let tag = String(UInt32.random(in: 0..<0xFFFFFF), radix: 36)
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("portcullis-bench-audit-\(tag)")
        defer { try? FileManager.default.removeItem(at: work) }
        do {
            let store = try Store(directory: work.path)
            var generator = SeededGenerator(seed: 17)

            // 1. Users.
            print("creating \(userCount.formatted()) users")
            let (userIDs, userTime) = try await Timing.measureAsync { try await Self.createUsers(store: store, count: userCount) }
            print("created in \(Timing.format(Timing.milliseconds(userTime)))")

            // 2. A year of access history.
            let end = Int64(Date().timeIntervalSince1970 * 1000)
            var history = HistorySimulation(
                userIDs: userIDs, intervalTarget: intervalTarget, start: end - 365 * Self.day, end: end,
                tick: Int64(tickMinutes) * 60_000, generator: &generator)
            print("recording a year of gateway changes (\(history.tickCount.formatted()) ticks of \(tickMinutes) min)")
            let (_, historyTime) = try await Timing.measureAsync { try await history.record(into: store, generator: &generator) }
            print("recorded \(history.opened.formatted()) intervals (\(history.closed.formatted()) closed) in \(history.calls.formatted()) transactions, \(Timing.format(Timing.milliseconds(historyTime)))")

            // Leavers are deleted from the directory (SCIM DELETE), as an IdP deprovisions them: their names come from the audit log.
            let leavers = history.leavers.map { userIDs[$0] }
            let (_, deleteTime) = try await Timing.measureAsync { try await Self.deleteUsers(store: store, ids: leavers) }
            print("deleted \(leavers.count.formatted()) leavers in \(Timing.format(Timing.milliseconds(deleteTime)))")
            let databaseBytes = Self.fileSize(work.appendingPathComponent(Store.fileName).path)
                + Self.fileSize(work.appendingPathComponent(Store.fileName + "-wal").path)

            // 3. Questions: random instants of the year, random service targets.
            let access = AccessHistory(store: store)
            let queries = (0..<queryCount).map { _ in history.randomQuery(broad: false, generator: &generator) }
            let broadQueries = (0..<broadQueryCount).map { _ in history.randomQuery(broad: true, generator: &generator) }
            for query in queries.prefix(10) { _ = try await access.whoCouldReach(query.target, at: query.at) }  // warm-up
            print("asking \(queryCount.formatted()) questions")
            var fast: [Double] = []
            var fastRows: [Int] = []
            var fastAnswers: [Set<String>] = []
            for (index, query) in queries.enumerated() {
                let (rows, time) = try await Timing.measureAsync { try await access.whoCouldReach(query.target, at: query.at) }
                fast.append(Timing.milliseconds(time))
                fastRows.append(rows.count)
                if index < naiveQueryCount { fastAnswers.append(Set(rows.map(Self.key))) }
            }
            var broad: [Double] = []
            var broadRows: [Int] = []
            for query in broadQueries {
                let (rows, time) = try await Timing.measureAsync { try await access.whoCouldReach(query.target, at: query.at) }
                broad.append(Timing.milliseconds(time))
                broadRows.append(rows.count)
            }

            if options.flag("breakdown"), let largest = fastRows.indices.max(by: { fastRows[$0] < fastRows[$1] }) {
                let query = queries[largest]
                // Where the time of one question goes (for profiling; not in the report).
                let median = fastRows.indices.sorted { fastRows[$0] < fastRows[$1] }[fastRows.count / 2]
                for query in Array(repeating: query, count: options.int("breakdown-runs", 10)) + Array(repeating: queries[median], count: 3) {
                    let (versions, t1) = try await Timing.measureAsync { try await store.accessRuleVersions() }
                    let reaching = versions.filter { $0.verdict != "drop" && ($0.grants.arrayValue ?? []).compactMap(AccessHistory.grant).contains { $0.prefix.contains(address: query.target.address.address) } }
                    let (intervals, t2) = try await Timing.measureAsync { try await store.accessIntervals(ruleVersions: reaching.map(\.version), at: query.at) }
                    let (_, t3) = try await Timing.measureAsync { try await access.userNames(Set(intervals.map(\.membership.userID))) }
                    let (directory, t5) = try await Timing.measureAsync { try await store.userNames(ids: Set(intervals.map(\.membership.userID))) }
                    let (rows, t4) = try await Timing.measureAsync { try await access.whoCouldReach(query.target, at: query.at) }
                    print("breakdown: rules \(Timing.format(Timing.milliseconds(t1))), intervals \(intervals.count) \(Timing.format(Timing.milliseconds(t2))), names \(Timing.format(Timing.milliseconds(t3))) (directory \(directory.found.count) \(Timing.format(Timing.milliseconds(t5)))), whole \(rows.count) rows \(Timing.format(Timing.milliseconds(t4)))")
                }
            }

            // The peer: the same questions answered by reading every interval and filtering in Swift.
            print("asking the naive peer \(min(naiveQueryCount, queries.count)) of them")
            var naive: [Double] = []
            var agreed = 0
            for (index, query) in queries.prefix(naiveQueryCount).enumerated() {
                let (rows, time) = try await Timing.measureAsync { try await Self.naiveWhoCouldReach(query.target, at: query.at, store: store, history: access) }
                naive.append(Timing.milliseconds(time))
                if Set(rows) == fastAnswers[index] { agreed += 1 }
            }

            // 4. The write path.
            print("measuring the write path (\(writeCount.formatted()) writes of each kind)")
            let current = userIDs.enumerated().filter { !history.leaverSet.contains($0.offset) }.map(\.element)
            let writes = try await WritePathMeasurement(store: store, userIDs: current, count: writeCount).run(generator: &generator)

            let lines = report(
                users: userCount, history: history, leavers: leavers.count, databaseBytes: databaseBytes,
                setup: (userTime, historyTime, deleteTime), fast: fast, fastRows: fastRows, broad: broad, broadRows: broadRows,
                naive: naive, agreed: agreed, writes: writes, load: loadAtStart)
            let body = lines.joined(separator: "\n")
            print(body)
            if options.flag("docs") {
                do {
                    try BenchmarksDocument.write(section: "bench-audit", body: "## Access history and audit log (make bench-audit)\n\n" + body)
                } catch {
                    print("could not write docs/benchmarks.md: \(error)")
                }
            }
        } catch {
            print("bench-audit failed: \(error)")
            exit(1)
        }
    }

    // MARK: Report

    private func report(
        users: Int, history: HistorySimulation, leavers: Int, databaseBytes: Int, setup: (Duration, Duration, Duration),
        fast: [Double], fastRows: [Int], broad: [Double], broadRows: [Int], naive: [Double], agreed: Int, writes: WritePathMeasurement.Result,
        load: String
    ) -> [String] {
        func row(_ name: String, _ samples: [Double]) -> String {
            samples.isEmpty
                ? "| \(name) | | | | 0 |"
                : "| \(name) | \(Timing.format(Timing.percentile(samples, 50))) | \(Timing.format(Timing.percentile(samples, 99))) | \(Timing.format(samples.max() ?? .nan)) | \(samples.count) |"
        }
        func rows(_ counts: [Int]) -> String {
            counts.isEmpty ? "-" : "\(Int(Timing.percentile(counts.map(Double.init), 50)).formatted()) / \((counts.max() ?? 0).formatted())"
        }
        let p99 = Timing.percentile(fast, 99)
        let extraSequential = writes.auditSequential50 - writes.emptySequential50
        let extraBatched = writes.auditBatched - writes.emptyBatched
        var lines = [
            "### \(users.formatted()) users, \(history.opened.formatted()) access intervals over a year",
            "",
            "Measured \(Machine.now) on \(Machine.description), with `make bench-audit` (release build); load average when the run",
            "started \(load). The machine was shared with other work (builds and test runs), so the figures are noisy: compare the",
            "columns of one run rather than runs with each other.",
            "",
            "Data, written through the Store's public API into a SQLite file in a temporary folder (\(Self.megabytes(databaseBytes)) at the end):",
            "\(users.formatted()) users (`Store.create`, \(Timing.format(Timing.milliseconds(setup.0)))); a simulated year of gateway changes recorded",
            "with `recordGatewayChange`, one transaction per reconcile tick that changed something (\(history.calls.formatted()) of",
            "\(history.tickCount.formatted()) ticks, \(Timing.format(Timing.milliseconds(setup.1)))): \(history.ruleCount) rules (\(history.denyRuleCount) of them deny rules) with",
            "\(history.versionCount) rule versions in all, each version change closing and reopening every membership of the rule;",
            "every user in the all-staff rule and 1 to 3 team rules (prefixes 10.30-32.x.0/24 with service ports), 15% with two",
            "devices; 20% joining during the year, \(leavers.formatted()) leaving (deleted afterwards with `Store.delete`, so their names",
            "come from the audit log); and team moves and device replacements through the year up to the interval count:",
            "\(history.opened.formatted()) intervals, \(history.closed.formatted()) of them closed.",
            "",
            "Portcullis: `AccessHistory.whoCouldReach(target, at:)`, what `portcullis audit access --to HOST:PORT/PROTO --at T` and",
            "`GET /admin/audit/access` run (rule versions whose grants reach the target, their intervals lasting at T from the",
            "indexed `access_intervals` table, denies subtracted, user names resolved). Naive peer: the same answer computed from",
            "every interval of the history (`accessIntervals(userID: nil, ...)` over all time, i.e. a full scan, filtered in",
            "Swift with the same allow/deny logic and the same name lookup), on the first \(naive.count) of the same questions;",
            "its answers agreed with Portcullis's on \(agreed) of \(naive.count). Questions: random instants over the year;",
            "\"service\" targets are a random host and port of a random team rule's grants (a fifth without port), \"broad\"",
            "targets an intranet address of the all-staff rule, which nearly every user reaches.",
            "",
            "| `audit access --to X --at T` | p50 | p99 | max | questions |",
            "| --- | ---: | ---: | ---: | ---: |",
            row("Portcullis, service target", fast),
            row("naive full scan, service target", naive),
            row("Portcullis, broad target (all staff)", broad),
            "",
            "Rows per answer (p50 / max): service targets \(rows(fastRows)), broad targets \(rows(broadRows)).",
            "Service questions by the size of the answer: "
                + [(0, 1_000), (1_000, 10_000), (10_000, Int.max)].map { low, high in
                    let samples = fast.indices.filter { fastRows[$0] >= low && fastRows[$0] < high }.map { fast[$0] }
                    let label = high == Int.max ? "\(low.formatted()) rows or more" : "\(low.formatted())-\(high.formatted()) rows"
                    return samples.isEmpty
                        ? "\(label): none"
                        : "\(label): \(samples.count) questions, p50 \(Timing.format(Timing.percentile(samples, 50))), p99 \(Timing.format(Timing.percentile(samples, 99)))"
                }.joined(separator: "; ") + ".",
            "",
            "Target (issue #7): a service question under 100 ms at this size: \(p99 < 100 ? "met" : "MISSED") (p99 \(Timing.format(p99)), max \(Timing.format(fast.max() ?? .nan))).",
        ]
        if !broad.isEmpty {
            lines.append(
                "Broad questions list nearly every user (\(rows(broadRows)) rows), so they take longer: the time is in"
                    + " reading and naming that many rows, not in finding them.")
        }
        lines += [
            "",
            "#### The write path's extra cost",
            "",
            "Every SCIM write appends its audit record (SHA-256 chained to the one before) inside its own transaction. Method:",
            "the same public call, `recordGatewayChange` with nothing opened or closed, once without an audit record (an empty",
            "write transaction) and once with a record shaped like a SCIM write's (`User.patch`, the changed attribute before and",
            "after, the user's id); the difference is what the append adds. For scale, a real SCIM write: `Store.modify` of a user",
            "(PATCH of `title`), which writes the user row and its audit record. Each kind \(writes.count.formatted()) times,",
            "\"one at a time\" (each waits for its flush to disk, the kinds interleaved) and \"batched\" (\(WritePathMeasurement.inFlight) in flight,",
            "sharing flushes as concurrent requests do: wall time divided by the writes, i.e. the writer's CPU cost per write).",
            "The audit log held about \((users + history.calls + leavers).formatted()) records.",
            "",
            "| Write | one at a time, p50 | p99 | batched, per write |",
            "| --- | ---: | ---: | ---: |",
            "| empty write transaction | \(Timing.format(writes.emptySequential50)) | \(Timing.format(writes.emptySequential99)) | \(Timing.format(writes.emptyBatched)) |",
            "| write transaction with an audit record | \(Timing.format(writes.auditSequential50)) | \(Timing.format(writes.auditSequential99)) | \(Timing.format(writes.auditBatched)) |",
            "| SCIM PATCH of a user (row + audit record) | \(Timing.format(writes.patchSequential50)) | \(Timing.format(writes.patchSequential99)) | \(Timing.format(writes.patchBatched)) |",
            "",
            "Extra cost of the audit record per SCIM write: \(Timing.format(extraBatched)) of writer time batched"
                + " (\(Self.percent(extraBatched, of: writes.patchBatched)) of a PATCH's), \(Timing.format(extraSequential)) at p50 one at a time"
                + " (\(Self.percent(extraSequential, of: writes.patchSequential50)) of a PATCH's; this includes flushing the pages it adds, while the"
                + " empty transaction flushes nothing).",
        ]
        return lines
    }

    static func percent(_ part: Double, of whole: Double) -> String {
        whole > 0 ? String(format: "%.0f%%", part / whole * 100) : "-"
    }

    static func megabytes(_ bytes: Int) -> String { String(format: "%.0f MB", Double(bytes) / 1_000_000) }

    static func fileSize(_ path: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.intValue ?? 0
    }

    static func loadAverage() -> String {
        ((try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8)) ?? "?").split(separator: " ").prefix(3).joined(separator: " ")
    }

    static func key(_ row: AccessRow) -> String {
        "\(row.userID) \(row.deviceID) \(row.address) \(row.rule) \(row.since) \(row.until ?? -1) \(row.userName)"
    }

    // MARK: Setup

    /// Creates users with many writes in flight, so they share flushes to disk (as concurrent SCIM
    /// requests do); returns their ids in order.
    static func createUsers(store: Store, count: Int) async throws -> [String] {
        let titles = ["Engineer", "Analyst", "Manager", "Designer", "Support", "Sales", "Accountant", "Researcher"]
        var ids = [String](repeating: "", count: count)
        try await withThrowingTaskGroup(of: (Int, String).self) { group in
            var next = 0
            func add() {
                let index = next
                next += 1
                group.addTask {
                    let user = try await store.create(
                        .user,
                        attributes: [
                            "userName": .string("user\(index)@example.com"), "displayName": .string("User \(index)"),
                            "title": .string(titles[index % titles.count]), "active": true,
                            "emails": [["value": .string("user\(index)@example.com"), "primary": true]],
                        ])
                    return (index, user.id)
                }
            }
            while next < min(count, 256) { add() }
            while let (index, id) = try await group.next() {
                ids[index] = id
                if next < count { add() }
            }
        }
        return ids
    }

    static func deleteUsers(store: Store, ids: [String]) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            var next = 0
            func add() {
                let id = ids[next]
                next += 1
                group.addTask { try await store.delete(.user, id: id) }
            }
            while next < min(ids.count, 256) { add() }
            while try await group.next() != nil {
                if next < ids.count { add() }
            }
        }
    }

    // MARK: The naive peer

    /// Who could reach `target` at `at`, from every interval of the history, filtered in Swift:
    /// the same rules as `AccessHistory.whoCouldReach` (denies first), without the table's indexes.
    static func naiveWhoCouldReach(_ target: AccessTarget, at: Int64, store: Store, history: AccessHistory) async throws -> [String] {
        var rules: [String: (name: String, deny: Bool, grants: [AccessGrant])] = [:]
        for version in try await store.accessRuleVersions() {
            rules[version.version] = (version.name, version.verdict == "drop", (version.grants.arrayValue ?? []).compactMap(AccessHistory.grant))
        }
        func reaches(_ grant: AccessGrant) -> Bool {
            guard grant.prefix.family == target.address.family, grant.prefix.contains(address: target.address.address) else { return false }
            guard let proto = target.networkProtocol else { return true }
            return grant.permits(address: target.address.address, family: target.address.family, networkProtocol: proto, port: target.port)
        }
        let all = try await store.accessIntervals(userID: nil, from: Int64.min, until: Int64.max)
        var allowed: [AccessInterval] = []
        var denyOfSource: [String: [AccessGrant]] = [:]
        for interval in all where interval.since <= at && (interval.until.map { $0 > at } ?? true) {
            guard let rule = rules[interval.membership.ruleVersion] else { continue }
            if rule.deny {
                if rule.grants.contains(where: { $0.prefix.family == target.address.family && $0.prefix.contains(address: target.address.address) }) {
                    denyOfSource[interval.membership.address, default: []] += rule.grants
                }
            } else if rule.grants.contains(where: reaches), interval.membership.address.contains(":") == (target.address.family == .v6) {
                allowed.append(interval)
            }
        }
        let names = try await history.userNames(Set(allowed.map(\.membership.userID)))
        var keys: [String] = []
        for interval in allowed {
            guard let rule = rules[interval.membership.ruleVersion] else { continue }
            let effective = AccessSet(rule.grants.filter(reaches)).subtracting(AccessSet(denyOfSource[interval.membership.address] ?? []))
            guard effective.grants.contains(where: reaches) else { continue }
            let m = interval.membership
            keys.append("\(m.userID) \(m.deviceID) \(m.address) \(rule.name) \(interval.since) \(interval.until ?? -1) \(names[m.userID] ?? m.userID)")
        }
        return keys
    }
}

// MARK: - The simulated year

/// A year of what the reconciler records: rules with versions, users joining, leaving, moving
/// between teams and replacing devices; each tick's changes as one `recordGatewayChange`.
struct HistorySimulation {
    struct Grant {
        let prefix: String
        let proto: String
        let ports: String?
    }

    struct Rule {
        let name: String
        let verdict: String
        let baseGrants: [Grant]
        var versions: [AccessRuleVersion] = []
        var current = 0
        var members = Set<Int>()
        var version: AccessRuleVersion { versions[current] }
    }

    struct Device {
        let id: String
        let address: String
    }

    struct User {
        var rules: [Int] = []
        var devices: [Device] = []
        var active = false
        var joinTick = 0
        var leaveTick: Int?
    }

    let userIDs: [String]
    let intervalTarget: Int
    let start: Int64
    let end: Int64
    let tick: Int64
    var tickCount: Int { Int((end - start) / tick) }
    var rules: [Rule] = []
    var users: [User] = []
    /// Rule indices: all-staff, teams, denies.
    let allStaff = 0
    var teams: [Int] = []
    var teamWeights: [Double] = []
    var contractorsDeny = 0
    var quarantineDeny = 0
    var ruleChanges: [Int: [Int]] = [:]
    var joins: [Int: [Int]] = [:]
    var leaves: [Int: [Int]] = [:]
    var deviceCounter = 0
    private(set) var opened = 0
    private(set) var closed = 0
    private(set) var calls = 0
    private(set) var leavers: [Int] = []
    var leaverSet: Set<Int> { Set(leavers) }
    var ruleCount: Int { rules.count }
    var denyRuleCount: Int { rules.filter { $0.verdict == "drop" }.count }
    var versionCount: Int { rules.reduce(0) { $0 + $1.versions.count } }

    static let services: [(String, [(String, String?)])] = [
        ("postgres", [("tcp", "5432")]), ("ssh", [("tcp", "22")]), ("k8s-api", [("tcp", "6443")]), ("grafana", [("tcp", "3000")]),
        ("vault", [("tcp", "8200")]), ("jenkins", [("tcp", "8080"), ("tcp", "50000")]), ("git", [("tcp", "22"), ("tcp", "443")]),
        ("ldap", [("tcp", "636")]), ("kafka", [("tcp", "9092-9094")]), ("redis", [("tcp", "6379")]), ("rdp", [("tcp", "3389")]),
        ("smb", [("tcp", "445")]), ("elastic", [("tcp", "9200-9300")]), ("mysql", [("tcp", "3306")]), ("web", [("tcp", "80"), ("tcp", "443")]),
        ("ntp", [("udp", "123")]), ("monitoring", [("icmp", nil), ("tcp", "9100")]),
    ]

    init(userIDs: [String], intervalTarget: Int, start: Int64, end: Int64, tick: Int64, generator: inout SeededGenerator) {
        self.userIDs = userIDs
        self.intervalTarget = intervalTarget
        self.start = start
        self.end = end
        self.tick = tick
        let ticks = Int((end - start) / tick)

        rules.append(
            Rule(
                name: "all-staff", verdict: "accept",
                baseGrants: [Grant(prefix: "10.10.0.0/16", proto: "tcp", ports: "443"), Grant(prefix: "10.10.0.53/32", proto: "udp", ports: "53")]))
        for (envIndex, environment) in ["prod", "staging", "dev"].enumerated() {
            for (serviceIndex, service) in Self.services.enumerated() {
                teams.append(rules.count)
                // Bigger teams for some services (a Zipf-like spread of rule sizes), prod the most guarded.
                teamWeights.append(1 / Double(serviceIndex + 1 + envIndex * 2))
                rules.append(
                    Rule(
                        name: "\(environment)-\(service.0)", verdict: "accept",
                        baseGrants: service.1.map { Grant(prefix: "10.\(30 + envIndex).\(serviceIndex).0/24", proto: $0.0, ports: $0.1) }))
            }
        }
        teams.append(rules.count)
        teamWeights.append(0.02)
        rules.append(Rule(name: "sre-break-glass", verdict: "accept", baseGrants: [Grant(prefix: "10.30.0.0/15", proto: "tcp", ports: nil)]))
        contractorsDeny = rules.count
        rules.append(
            Rule(
                name: "contractors-no-prod-data", verdict: "drop",
                baseGrants: [Grant(prefix: "10.30.0.0/24", proto: "tcp", ports: nil), Grant(prefix: "10.30.13.0/24", proto: "tcp", ports: nil)]))
        quarantineDeny = rules.count
        rules.append(
            Rule(
                name: "quarantine", verdict: "drop",
                baseGrants: ["tcp", "udp", "icmp"].map { Grant(prefix: "10.0.0.0/8", proto: $0, ports: nil) }))

        // Versions: all-staff changes once, team rules 0 to 2 times, denies once; version k of a
        // rule adds or drops a metrics port.
        for index in rules.indices {
            let changes = index == allStaff ? 1 : rules[index].verdict == "drop" ? 1 : Int.random(in: 0...2, using: &generator)
            for version in 0...changes {
                var grants = rules[index].baseGrants
                if version % 2 == 1, let first = grants.first { grants.append(Grant(prefix: first.prefix, proto: "tcp", ports: "9090")) }
                let json = JSON.array(
                    grants.map { grant in
                        var object: JSONObject = ["prefix": .string(grant.prefix), "protocol": .string(grant.proto)]
                        if let ports = grant.ports { object["ports"] = .string(ports) }
                        return .object(object)
                    })
                rules[index].versions.append(
                    AccessRuleVersion(
                        version: "r\(index)-" + String(Self.fingerprint(rules[index].name + "\u{1}" + json.jsonText + "\(version)"), radix: 16),
                        name: rules[index].name, verdict: rules[index].verdict, grants: json))
                if version > 0 { ruleChanges[Int.random(in: 1..<ticks, using: &generator), default: []].append(index) }
            }
        }

        users = (0..<userIDs.count).map { _ in User() }
        for index in users.indices {
            var user = User()
            user.joinTick = Double.random(in: 0..<1, using: &generator) < 0.8 ? 0 : Int.random(in: 1..<ticks, using: &generator)
            if Double.random(in: 0..<1, using: &generator) < 0.05, user.joinTick + 2 < ticks {
                user.leaveTick = Int.random(in: (user.joinTick + 1)..<ticks, using: &generator)
            }
            user.rules = [allStaff]
            for _ in 0..<Int.random(in: 1...3, using: &generator) {
                let team = pickTeam(generator: &generator)
                if !user.rules.contains(team) { user.rules.append(team) }
            }
            if Double.random(in: 0..<1, using: &generator) < 0.05 { user.rules.append(contractorsDeny) }
            if Double.random(in: 0..<1, using: &generator) < 0.001 { user.rules.append(quarantineDeny) }
            let deviceCount = Double.random(in: 0..<1, using: &generator) < 0.15 ? 2 : 1
            user.devices = (0..<deviceCount).map { _ in newDevice(generator: &generator) }
            users[index] = user
            joins[user.joinTick, default: []].append(index)
            if let leave = user.leaveTick {
                leaves[leave, default: []].append(index)
                leavers.append(index)
            }
        }
    }

    func pickTeam(generator: inout SeededGenerator) -> Int {
        let total = teamWeights.reduce(0, +)
        var pick = Double.random(in: 0..<total, using: &generator)
        for (offset, weight) in teamWeights.enumerated() {
            pick -= weight
            if pick < 0 { return teams[offset] }
        }
        return teams[teams.count - 1]
    }

    mutating func newDevice(generator: inout SeededGenerator) -> Device {
        deviceCounter += 1
        let c = deviceCounter
        let id = String(format: "%08x-%04x-4%03x-%04x-%012llx", UInt32.random(in: 0...UInt32.max, using: &generator), c & 0xFFFF, c >> 16 & 0xFFF, 0x8000 | (c & 0x3FFF), UInt64.random(in: 0...0xFFFF_FFFF_FFFF, using: &generator))
        return Device(id: id, address: "100.\(64 + (c >> 16)).\((c >> 8) & 255).\(c & 255)/32")
    }

    static func fingerprint(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        return hash
    }

    /// One tick's changes, netted: a membership opened and closed in the same tick is never recorded.
    struct Batch {
        var opened: [AccessMembership: Int] = [:]
        var closed: [AccessMembership: Int] = [:]
        var order = 0

        mutating func open(_ membership: AccessMembership) {
            if closed.removeValue(forKey: membership) != nil { return }
            order += 1
            opened[membership] = order
        }

        mutating func close(_ membership: AccessMembership) {
            if opened.removeValue(forKey: membership) != nil { return }
            order += 1
            closed[membership] = order
        }
    }

    func memberships(user index: Int, device: Device, rule: Int) -> AccessMembership {
        AccessMembership(userID: userIDs[index], deviceID: device.id, address: device.address, ruleVersion: rules[rule].version.version)
    }

    mutating func join(_ index: Int, batch: inout Batch) {
        users[index].active = true
        for rule in users[index].rules {
            rules[rule].members.insert(index)
            for device in users[index].devices { batch.open(memberships(user: index, device: device, rule: rule)) }
        }
    }

    mutating func leave(_ index: Int, batch: inout Batch) {
        guard users[index].active else { return }
        users[index].active = false
        for rule in users[index].rules {
            rules[rule].members.remove(index)
            for device in users[index].devices { batch.close(memberships(user: index, device: device, rule: rule)) }
        }
    }

    mutating func changeRule(_ rule: Int, batch: inout Batch) {
        let members = rules[rule].members
        for index in members {
            for device in users[index].devices { batch.close(memberships(user: index, device: device, rule: rule)) }
        }
        rules[rule].current += 1
        for index in members {
            for device in users[index].devices { batch.open(memberships(user: index, device: device, rule: rule)) }
        }
    }

    /// A team move or a device replacement of a random active user.
    mutating func churn(batch: inout Batch, generator: inout SeededGenerator) {
        var index = Int.random(in: 0..<users.count, using: &generator)
        var tries = 0
        while !users[index].active, tries < 100 {
            index = Int.random(in: 0..<users.count, using: &generator)
            tries += 1
        }
        guard users[index].active else { return }
        if Double.random(in: 0..<1, using: &generator) < 0.6 {
            let teamRules = users[index].rules.filter { teams.contains($0) }
            guard let old = teamRules.randomElement(using: &generator) else { return }
            let new = pickTeam(generator: &generator)
            guard !users[index].rules.contains(new) else { return }
            for device in users[index].devices {
                batch.close(memberships(user: index, device: device, rule: old))
                batch.open(memberships(user: index, device: device, rule: new))
            }
            rules[old].members.remove(index)
            rules[new].members.insert(index)
            users[index].rules[users[index].rules.firstIndex(of: old) ?? 0] = new
        } else {
            let slot = Int.random(in: 0..<users[index].devices.count, using: &generator)
            let old = users[index].devices[slot]
            let replacement = newDevice(generator: &generator)
            for rule in users[index].rules {
                batch.close(memberships(user: index, device: old, rule: rule))
                batch.open(memberships(user: index, device: replacement, rule: rule))
            }
            users[index].devices[slot] = replacement
        }
    }

    /// Runs the year, tick by tick, recording each tick's changes in one transaction.
    mutating func record(into store: Store, generator: inout SeededGenerator) async throws {
        let ticks = tickCount
        var lastReport = 0
        for tickIndex in 0..<ticks {
            var batch = Batch()
            for rule in ruleChanges[tickIndex] ?? [] { changeRule(rule, batch: &batch) }
            for index in joins[tickIndex] ?? [] { join(index, batch: &batch) }
            for index in leaves[tickIndex] ?? [] { leave(index, batch: &batch) }
            // Churn spread over the year, up to the interval count.
            let due = Int(Double(intervalTarget) * Double(tickIndex + 1) / Double(ticks))
            var guardCount = 0
            while opened + batch.opened.count < due, guardCount < 100_000 {
                churn(batch: &batch, generator: &generator)
                guardCount += 1
            }
            guard !batch.opened.isEmpty || !batch.closed.isEmpty else { continue }
            let at = start + Int64(tickIndex) * tick + Int64.random(in: 0..<tick, using: &generator)
            let openedList = batch.opened.sorted { $0.value < $1.value }.map(\.key)
            let closedList = batch.closed.sorted { $0.value < $1.value }.map(\.key)
            let entry = AuditEntry(
                action: "gateway.apply", target: "gateway/wg0",
                details: ["reason": "bench", "drift": false, "sourcesAdded": .integer(openedList.count), "sourcesRemoved": .integer(closedList.count)])
            let versions = rules.map(\.version)
            try await AuditContext.$actor.withValue("reconciler") {
                try await store.recordGatewayChange(rules: versions, opened: openedList, closed: closedList, closedAt: at, openedAt: at, audit: entry)
            }
            opened += openedList.count
            closed += closedList.count
            calls += 1
            if opened - lastReport >= 100_000 {
                lastReport = opened
                print("  \(opened.formatted()) intervals by day \(tickIndex * Int(tick / 60_000) / 1440)")
            }
        }
    }

    /// A question: a target of a random team rule (or, `broad`, of the all-staff rule) and an instant.
    func randomQuery(broad: Bool, generator: inout SeededGenerator) -> (target: AccessTarget, at: Int64) {
        let rule = broad ? rules[allStaff] : rules[teams.randomElement(using: &generator) ?? allStaff]
        let grant = broad ? rule.baseGrants[0] : rule.baseGrants.randomElement(using: &generator) ?? rule.baseGrants[0]
        let parts = grant.prefix.split(separator: "/")[0].split(separator: ".").compactMap { Int($0) }
        let host: String
        switch grant.prefix.split(separator: "/").last {
        case "32": host = parts.map(String.init).joined(separator: ".")
        case "24": host = "\(parts[0]).\(parts[1]).\(parts[2]).\(Int.random(in: 1...254, using: &generator))"
        default: host = "\(parts[0]).\(parts[1]).\(Int.random(in: 0...255, using: &generator)).\(Int.random(in: 1...254, using: &generator))"
        }
        var text = host
        if Double.random(in: 0..<1, using: &generator) >= 0.2 || broad {
            if grant.proto == "icmp" {
                text += ":icmp"
            } else {
                let bounds = (grant.ports ?? "1-65535").split(separator: "-").compactMap { Int($0) }
                let port = bounds.count == 2 ? Int.random(in: bounds[0]...bounds[1], using: &generator) : bounds[0]
                text += ":\(port)/\(grant.proto)"
            }
        }
        guard case .success(let target) = AccessTarget.parse(text) else { fatalError("bad target \(text)") }
        return (target, Int64.random(in: start..<end, using: &generator))
    }
}

// MARK: - The write path

/// The audit record's share of a write: the same call with and without a record, and a SCIM PATCH for scale.
struct WritePathMeasurement {
    static let inFlight = 64

    let store: Store
    let userIDs: [String]
    let count: Int

    struct Result {
        var count = 0
        var emptySequential50 = 0.0, emptySequential99 = 0.0, emptyBatched = 0.0
        var auditSequential50 = 0.0, auditSequential99 = 0.0, auditBatched = 0.0
        var patchSequential50 = 0.0, patchSequential99 = 0.0, patchBatched = 0.0
    }

    enum Kind: CaseIterable { case empty, audit, patch }

    func write(_ kind: Kind, user: String, serial: Int) async throws {
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        switch kind {
        case .empty:
            try await store.recordGatewayChange(rules: [], opened: [], closed: [], closedAt: now, openedAt: now, audit: nil)
        case .audit:
            let entry = AuditEntry(
                action: "User.patch", target: "User/" + user, userID: user,
                details: ["changes": ["title": ["before": .string("Engineer \(serial - 1)"), "after": .string("Engineer \(serial)")]]])
            try await store.recordGatewayChange(rules: [], opened: [], closed: [], closedAt: now, openedAt: now, audit: entry)
        case .patch:
            _ = try await store.modify(.user, id: user) { resource in
                var attributes = resource.attributes
                attributes["title"] = .string("Engineer \(serial)")
                return attributes
            }
        }
    }

    func run(generator: inout SeededGenerator) async throws -> Result {
        var result = Result()
        result.count = count
        var samples: [Kind: [Double]] = [:]
        // Warm-up.
        for serial in 0..<30 {
            try await write(Kind.allCases[serial % 3], user: userIDs.randomElement(using: &generator) ?? "", serial: serial)
        }
        // One at a time, the kinds interleaved so they see the same conditions.
        for serial in 0..<count {
            for kind in Kind.allCases.shuffled(using: &generator) {
                let user = userIDs.randomElement(using: &generator) ?? ""
                let start = ContinuousClock.now
                try await write(kind, user: user, serial: 1_000 + serial)
                samples[kind, default: []].append(Timing.milliseconds(ContinuousClock.now - start))
            }
        }
        // Batched: rounds of each kind in turn, `inFlight` writes at a time.
        var batched: [Kind: Double] = [:]
        let rounds = 4
        let perRound = max(count / rounds, 1)
        for round in 0..<rounds {
            for kind in Kind.allCases {
                let users = (0..<perRound).map { _ in userIDs.randomElement(using: &generator) ?? "" }
                let base = 1_000_000 + round * perRound
                let start = ContinuousClock.now
                try await withThrowingTaskGroup(of: Void.self) { group in
                    var next = 0
                    func add() {
                        let index = next
                        next += 1
                        group.addTask { try await write(kind, user: users[index], serial: base + index) }
                    }
                    while next < min(perRound, Self.inFlight) { add() }
                    while try await group.next() != nil {
                        if next < perRound { add() }
                    }
                }
                batched[kind, default: 0] += Timing.milliseconds(ContinuousClock.now - start)
            }
        }
        let total = Double(rounds * perRound)
        result.emptySequential50 = Timing.percentile(samples[.empty] ?? [], 50)
        result.emptySequential99 = Timing.percentile(samples[.empty] ?? [], 99)
        result.auditSequential50 = Timing.percentile(samples[.audit] ?? [], 50)
        result.auditSequential99 = Timing.percentile(samples[.audit] ?? [], 99)
        result.patchSequential50 = Timing.percentile(samples[.patch] ?? [], 50)
        result.patchSequential99 = Timing.percentile(samples[.patch] ?? [], 99)
        result.emptyBatched = (batched[.empty] ?? 0) / total
        result.auditBatched = (batched[.audit] ?? 0) / total
        result.patchBatched = (batched[.patch] ?? 0) / total
        return result
    }
}
