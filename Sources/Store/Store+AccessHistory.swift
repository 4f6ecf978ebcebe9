public import SCIM

/// One version of a policy rule as the gateway enforced it.
public struct AccessRuleVersion: Sendable, Hashable {
    /// Changes whenever the rule's name, verdict or grants change.
    public let version: String
    public let name: String
    /// `accept` or `drop`.
    public let verdict: String
    /// `[{"prefix": "10.0.0.0/24", "protocol": "tcp", "ports": "5432"}, ...]`.
    public let grants: JSON

    public init(version: String, name: String, verdict: String, grants: JSON) {
        self.version = version
        self.name = name
        self.verdict = verdict
        self.grants = grants
    }
}

/// A device's tunnel address in a rule's source set on the gateway.
public struct AccessMembership: Sendable, Hashable {
    public let userID: String
    public let deviceID: String
    public let address: String
    public let ruleVersion: String

    public init(userID: String, deviceID: String, address: String, ruleVersion: String) {
        self.userID = userID
        self.deviceID = deviceID
        self.address = address
        self.ruleVersion = ruleVersion
    }
}

/// A membership from when it was applied until it was removed (nil while it lasts).
public struct AccessInterval: Sendable, Hashable {
    public let membership: AccessMembership
    /// Milliseconds since 1970.
    public let since: Int64
    public let until: Int64?
}

// The access history: the reconciler records each membership as an interval, opened when it was
// applied on the gateway and closed when it was removed, so "who could reach X at T" is a query.

extension Store {
    /// Records what the reconciler applied, in one transaction: rule versions not seen before,
    /// memberships that ended (at `closedAt`) and started (at `openedAt`), and the audit record.
    public func recordGatewayChange(
        rules: [AccessRuleVersion], opened: [AccessMembership], closed: [AccessMembership], closedAt: Int64, openedAt at: Int64, audit: AuditEntry?
    ) async throws {
        let actor = AuditContext.current
        try await database.write { connection in
            if !opened.isEmpty {
                let insertRule = try connection.prepare(
                    "INSERT OR IGNORE INTO access_rules (version, name, verdict, grants, first_applied) VALUES (?, ?, ?, ?, ?)")
                let used = Set(opened.map(\.ruleVersion))
                for rule in rules where used.contains(rule.version) {
                    insertRule.reset()
                    try insertRule.bind(.text(rule.version), .text(rule.name), .text(rule.verdict), .text(rule.grants.jsonText), .integer(Int(at))).run()
                }
            }
            let close = try connection.prepare(
                "UPDATE access_intervals SET until = ? WHERE device_id = ? AND address = ? AND rule_version = ? AND until IS NULL")
            for membership in closed {
                close.reset()
                try close.bind(.integer(Int(closedAt)), .text(membership.deviceID), .text(membership.address), .text(membership.ruleVersion)).run()
            }
            let open = try connection.prepare(
                "INSERT OR IGNORE INTO access_intervals (user_id, device_id, address, rule_version, since) VALUES (?, ?, ?, ?, ?)")
            for membership in opened {
                open.reset()
                try open.bind(.text(membership.userID), .text(membership.deviceID), .text(membership.address), .text(membership.ruleVersion), .integer(Int(at)))
                    .run()
            }
            if let audit {
                try Self.appendAudit(audit, actor: actor, at: at, connection: connection)
            }
        }
    }

    /// The memberships recorded as lasting now.
    public func openAccessMemberships() async throws -> Set<AccessMembership> {
        try await database.read { connection in
            let statement = try connection.prepare("SELECT user_id, device_id, address, rule_version FROM access_intervals WHERE until IS NULL")
            var memberships = Set<AccessMembership>()
            while try statement.step() {
                memberships.insert(
                    AccessMembership(userID: statement.text(0), deviceID: statement.text(1), address: statement.text(2), ruleVersion: statement.text(3)))
            }
            return memberships
        }
    }

    /// Every rule version ever applied.
    public func accessRuleVersions() async throws -> [AccessRuleVersion] {
        try await database.read { connection in
            let statement = try connection.prepare("SELECT version, name, verdict, grants FROM access_rules ORDER BY first_applied, version")
            var rules: [AccessRuleVersion] = []
            while try statement.step() {
                let grants = (try? JSONParser.parse(statement.textBytes(3))) ?? .array([])
                rules.append(AccessRuleVersion(version: statement.text(0), name: statement.text(1), verdict: statement.text(2), grants: grants))
            }
            return rules
        }
    }

    /// Intervals of these rule versions that lasted at `at`, in no particular order.
    public func accessIntervals(ruleVersions: [String], at: Int64) async throws -> [AccessInterval] {
        guard !ruleVersions.isEmpty else { return [] }
        let list = JSON.array(ruleVersions.map(JSON.string)).jsonText
        return try await database.read { connection in
            try Self.queryIntervals(
                """
                SELECT \(Self.intervalColumns) FROM access_intervals
                WHERE rule_version IN (SELECT value FROM json_each(?)) AND since <= ? AND (until IS NULL OR until > ?)
                """, [.text(list), .integer(Int(at)), .integer(Int(at))], connection: connection)
        }
    }

    /// Intervals that overlap `[from, until)`, of one user or of everyone.
    public func accessIntervals(userID: String?, from: Int64, until: Int64) async throws -> [AccessInterval] {
        try await database.read { connection in
            if let userID {
                return try Self.queryIntervals(
                    """
                    SELECT \(Self.intervalColumns) FROM access_intervals
                    WHERE user_id = ? AND since < ? AND (until IS NULL OR until > ?) ORDER BY since, id
                    """, [.text(userID), .integer(Int(until)), .integer(Int(from))], connection: connection)
            }
            return try Self.queryIntervals(
                """
                SELECT \(Self.intervalColumns) FROM access_intervals
                WHERE since < ? AND (until IS NULL OR until > ?) ORDER BY since, id
                """, [.integer(Int(until)), .integer(Int(from))], connection: connection)
        }
    }

    /// The userName of each of these users that is in the directory: what its attributes hold, as
    /// `resource(.user, id:)` would give it, for many users in one read.
    public func userNames(ids: Set<String>) async throws -> [String: String] {
        guard !ids.isEmpty else { return [:] }
        return try await database.read { connection in
            // The user_name column holds the attributes' userName whenever that is a non-empty string,
            // and the index (id, user_name) holds both columns: the table is read only for the others.
            // Ids of a good share of the users: one pass over the index costs less than a lookup each.
            let rowids = try connection.prepare("SELECT max(rowid) FROM scim_users")
            let users = try rowids.step() ? rowids.int(0) : 0
            let scan = ids.count * 6 > users
            let statement = try connection.prepare(
                scan
                    ? "SELECT id, user_name FROM scim_users INDEXED BY scim_users_id_name"
                    : "SELECT id, user_name FROM scim_users INDEXED BY scim_users_id_name WHERE id IN (SELECT value FROM json_each(?))")
            if !scan { try statement.bind(.text(JSON.array(ids.map(JSON.string)).jsonText)) }
            var names: [String: String] = [:]
            names.reserveCapacity(ids.count)
            var unnamed: [String] = []
            while try statement.step() {
                let id = statement.text(0)
                guard !scan || ids.contains(id) else { continue }
                let userName = statement.text(1)
                if userName.isEmpty { unnamed.append(id) } else { names[id] = userName }
            }
            if !unnamed.isEmpty {
                let fallback = try connection.prepare(
                    """
                    SELECT id, json_extract(attributes, '$.userName') FROM scim_users
                    WHERE id IN (SELECT value FROM json_each(?)) AND json_type(attributes, '$.userName') = 'text'
                    """)
                try fallback.bind(.text(JSON.array(unnamed.map(JSON.string)).jsonText))
                while try fallback.step() { names[fallback.text(0)] = fallback.text(1) }
            }
            return names
        }
    }

    /// The first `limit` records of each of these users whose action starts with `actionPrefix`
    /// (what `auditRecords(AuditQuery(userID:action:limit:))` lists for a `User.` prefix, for many
    /// users in one read), oldest first.
    public func auditRecords(userIDs: Set<String>, actionPrefix: String, limitPerUser limit: Int) async throws -> [AuditRecord] {
        guard !userIDs.isEmpty else { return [] }
        let list = JSON.array(userIDs.map(JSON.string)).jsonText
        return try await database.read { connection in
            let statement = try connection.prepare(
                """
                SELECT \(Self.auditColumns) FROM (
                    SELECT *, row_number() OVER (PARTITION BY user_id ORDER BY seq) AS n FROM audit_log
                    WHERE user_id IN (SELECT value FROM json_each(?)) AND substr(action, 1, ?) = ?
                ) WHERE n <= ? ORDER BY seq
                """)
            try statement.bind(.text(list), .integer(actionPrefix.utf8.count), .text(actionPrefix), .integer(max(1, min(limit, 10_000))))
            var records: [AuditRecord] = []
            while try statement.step() { records.append(Self.auditRecord(row: statement)) }
            return records
        }
    }

    static let intervalColumns = "user_id, device_id, address, rule_version, since, until"

    static func queryIntervals(_ sql: String, _ parameters: [SQLiteValue], connection: SQLiteConnection) throws -> [AccessInterval] {
        let statement = try connection.prepare(sql)
        try statement.bind(parameters)
        var intervals: [AccessInterval] = []
        while try statement.step() {
            intervals.append(
                AccessInterval(
                    membership: AccessMembership(
                        userID: statement.text(0), deviceID: statement.text(1), address: statement.text(2), ruleVersion: statement.text(3)),
                    since: Int64(statement.int(4)), until: statement.optionalInt(5).map(Int64.init)))
        }
        return intervals
    }
}
