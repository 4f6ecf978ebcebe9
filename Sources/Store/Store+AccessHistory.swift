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

    /// The userName of each of these users that is in the directory (what its attributes hold, as
    /// `resource(.user, id:)` would give it) in the byte order of the userNames, and the ids without
    /// one (not in the directory, or without a text userName); for many users in one read.
    public func userNames(ids: Set<String>) async throws -> (found: [(id: String, userName: String)], missing: [String]) {
        guard !ids.isEmpty else { return ([], []) }
        return try await database.read { connection in
            // The user_name column holds the attributes' userName whenever that is a non-empty string,
            // and the index (user_name, id) holds both columns in order: the table is read only for the
            // others. Ids of a good share of the users: one pass over the index costs less than a
            // lookup each.
            let rowids = try connection.prepare("SELECT max(rowid) FROM scim_users")
            let users = try rowids.step() ? rowids.int(0) : 0
            let scan = ids.count * 6 > users
            let asked = TextKeySet(ids)
            let statement = try connection.prepare(
                scan
                    ? "SELECT id, user_name FROM scim_users INDEXED BY scim_users_name_id ORDER BY user_name"
                    : "SELECT id, user_name FROM scim_users WHERE id IN (SELECT value FROM json_each(?)) ORDER BY user_name")
            if !scan { try statement.bind(.text(JSON.array(asked.keys.map(JSON.string)).jsonText)) }
            var names: [(id: String, userName: String)] = []
            names.reserveCapacity(ids.count)
            var isFound = [Bool](repeating: false, count: asked.keys.count)
            var unnamed: [String] = []
            while try statement.step() {
                guard let index = asked.index(of: statement.unsafeTextBytes(0)) else { continue }
                isFound[index] = true
                let userName = statement.text(1)
                if userName.isEmpty { unnamed.append(asked.keys[index]) } else { names.append((asked.keys[index], userName)) }
            }
            let missing = asked.keys.indices.filter { !isFound[$0] }.map { asked.keys[$0] }
            guard !unnamed.isEmpty else { return (names, missing) }
            let fallback = try connection.prepare(
                """
                SELECT id, json_extract(attributes, '$.userName') FROM scim_users
                WHERE id IN (SELECT value FROM json_each(?)) AND json_type(attributes, '$.userName') = 'text'
                """)
            try fallback.bind(.text(JSON.array(unnamed.map(JSON.string)).jsonText))
            var named = Set<String>()
            while try fallback.step() {
                names.append((fallback.text(0), fallback.text(1)))
                named.insert(fallback.text(0))
            }
            let sorted = names.sorted { Array($0.userName.utf8).lexicographicallyPrecedes($1.userName.utf8) }
            return (sorted, missing + unnamed.filter { !named.contains($0) })
        }
    }

    /// The last userName the audit log recorded for each of these users (for users no longer in the
    /// directory), for many users in one read.
    public func lastRecordedUserNames(ids: some Collection<String>) async throws -> [String: String] {
        guard !ids.isEmpty else { return [:] }
        let list = JSON.array(ids.map(JSON.string)).jsonText
        return try await database.read { connection in
            let statement = try connection.prepare(
                """
                SELECT user_id, json_extract(details, '$.changes.userName.after') FROM audit_log
                WHERE user_id IN (SELECT value FROM json_each(?)) AND substr(action, 1, 5) = 'User.'
                    AND json_type(details, '$.changes.userName.after') = 'text'
                ORDER BY seq
                """)
            try statement.bind(.text(list))
            var names: [String: String] = [:]
            while try statement.step() { names[statement.text(0)] = statement.text(1) }
            return names
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
