public import SCIM
public import Store

/// A compliance report over a window: who joined, who left (and how long it took until the gateway
/// had revoked them, from the identity provider's request), how access to each rule's destinations
/// changed, and the drift the reconciler repaired.
public struct AuditReport: Sendable {
    public struct Joiner: Sendable, Hashable {
        public let userID: String
        public let userName: String
        public let at: Int64
        public let actor: String
    }

    public struct Leaver: Sendable, Hashable {
        public let userID: String
        public let userName: String
        /// `deactivated` or `deleted`.
        public let how: String
        public let at: Int64
        public let actor: String
        /// Whether they could reach anything when the request came.
        public let hadAccess: Bool
        /// When the gateway had revoked the last of it (nil without access, or if it was not revoked
        /// within a minute).
        public let revokedAt: Int64?
        /// From the request's arrival to that revocation, in milliseconds.
        public let delayMilliseconds: Int64?
    }

    public struct AccessChange: Sendable, Hashable {
        public let rule: String
        public let effect: String
        public let destinations: [String]
        /// Device addresses that entered and left the rule in the window.
        public let granted: Int
        public let revoked: Int
    }

    public struct DriftRepair: Sendable, Hashable {
        public let at: Int64
        public let details: String
    }

    public let from: Int64
    public let until: Int64
    public let joiners: [Joiner]
    public let leavers: [Leaver]
    public let accessChanges: [AccessChange]
    public let driftRepairs: [DriftRepair]

    /// Builds the report for `[from, until)`.
    public static func build(store: Store, from: Int64, until: Int64) async throws -> AuditReport {
        let history = AccessHistory(store: store)
        var records: [AuditRecord] = []
        var after: Int64 = 0
        while true {
            let page = try await store.auditRecords(AuditQuery(since: from, until: until, afterSeq: after, limit: 5000))
            records += page
            guard let last = page.last, page.count == 5000 else { break }
            after = last.seq
        }
        let names = try await history.userNames(Set(records.compactMap(\.userID)))
        var joiners: [Joiner] = []
        var leavers: [Leaver] = []
        var drift: [DriftRepair] = []
        for record in records {
            let details = (try? JSONParser.parse(record.details))?.objectValue ?? [:]
            let changes = details["changes"]?.objectValue ?? [:]
            switch record.action {
            case "User.create":
                guard let id = record.userID else { continue }
                joiners.append(Joiner(userID: id, userName: names[id] ?? id, at: record.at, actor: record.actor))
            case "User.delete", "User.patch", "User.replace":
                guard let id = record.userID else { continue }
                let deactivated = changes["active"]?.objectValue?["after"]?.boolValue == false
                guard record.action == "User.delete" || deactivated else { continue }
                let received = details["requestReceivedAt"]?.integerValue.map(Int64.init) ?? record.at
                let (hadAccess, revokedAt) = try await revocation(of: id, after: received, store: store)
                leavers.append(
                    Leaver(
                        userID: id, userName: names[id] ?? id, how: record.action == "User.delete" ? "deleted" : "deactivated", at: record.at,
                        actor: record.actor, hadAccess: hadAccess, revokedAt: revokedAt, delayMilliseconds: revokedAt.map { $0 - received }))
            case "gateway.apply" where details["drift"]?.boolValue == true:
                drift.append(DriftRepair(at: record.at, details: record.details))
            default:
                continue
            }
        }
        var changes: [String: (row: AccessRow, granted: Int, revoked: Int)] = [:]
        for row in try await history.intervals(from: from, until: until) {
            let key = row.rule + "\u{1}" + row.destinations.joined(separator: ",")
            var entry = changes[key] ?? (row, 0, 0)
            if row.since >= from { entry.granted += 1 }
            if let end = row.until, end < until { entry.revoked += 1 }
            changes[key] = entry
        }
        let accessChanges = changes.values
            .filter { $0.granted + $0.revoked > 0 }
            .map { AccessChange(rule: $0.row.rule, effect: $0.row.effect, destinations: $0.row.destinations, granted: $0.granted, revoked: $0.revoked) }
            .sorted { ($0.rule, $0.destinations.joined()) < ($1.rule, $1.destinations.joined()) }
        return AuditReport(from: from, until: until, joiners: joiners, leavers: leavers, accessChanges: accessChanges, driftRepairs: drift)
    }

    /// Whether the user had access open at `after`, and when the last of it closed (within a minute).
    private static func revocation(of userID: String, after: Int64, store: Store) async throws -> (Bool, Int64?) {
        let intervals = try await store.accessIntervals(userID: userID, from: after, until: after + 1)
        guard !intervals.isEmpty else { return (false, nil) }
        let ends = intervals.compactMap(\.until).filter { $0 >= after && $0 <= after + 60_000 }
        guard ends.count == intervals.count else { return (true, nil) }
        return (true, ends.max())
    }
}
