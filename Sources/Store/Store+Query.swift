public import SCIM

// Listing and filtering. Equality on an indexed attribute (id, userName, externalId, a group's
// displayName, members.value) narrows the candidates in SQL; the whole filter is then evaluated on
// them, so every filter is answered correctly and the common IdP lookups stay O(log n).

extension Store {
    /// One page of a list or search.
    public struct Page: Sendable {
        public var totalResults: Int
        public var resources: [Resource]
    }

    /// The resources of `kind` that match `filter`, sorted by `sorter` (else in creation order),
    /// from the 1-based `startIndex`, at most `count` of them. `baseURL` is the one responses use,
    /// so that filters on `meta.location` see what clients see.
    public func list(
        _ kind: ResourceType.Kind, filter: ResourceFilter?, sorter: ResourceSorter?, startIndex: Int, count: Int, baseURL: String
    ) async throws -> Page {
        try await database.read { connection in
            if filter == nil, sorter == nil {
                return try Self.page(kind, startIndex: startIndex, count: count, connection: connection)
            }
            // Derived attributes (a user's groups, a group's members) cost a query per resource: load
            // them before evaluating only when the filter or the sort reads them, else only for the page.
            let derivedKey = kind == .user ? "groups" : "members"
            let needsDerived = filter?.references(topLevelKey: derivedKey) == true || sorter?.references(topLevelKey: derivedKey) == true
            var matches: [Resource] = []
            let (sql, parameter) = Self.candidateQuery(kind, filter: filter)
            // A filter that is one indexed equality is answered by the query alone: the stored key equals
            // the filter's operand byte for byte (see `candidateQuery`), so evaluating it again is waste.
            let queryAnswersFilter = parameter != nil && filter?.isSingleEquality == true
            try Self.forEachRow(kind, sql: sql, parameter: parameter, connection: connection) { row in
                let resource = needsDerived ? try Self.withDerived(row, connection: connection) : row
                if queryAnswersFilter || filter?.matches(resource.representation(baseURL: baseURL)) ?? true {
                    matches.append(resource)
                }
            }
            if let sorter {
                matches = Self.sorted(matches, by: sorter, baseURL: baseURL)
            }
            let first = min(startIndex - 1, matches.count)
            let last = min(first + count, matches.count)
            var page = Array(matches[first..<last])
            if !needsDerived {
                page = try page.map { try Self.withDerived($0, connection: connection) }
            }
            return Page(totalResults: matches.count, resources: page)
        }
    }

    /// Fails unless the database answers a query; for readiness checks.
    public func ping() async throws {
        try await database.read { connection in
            _ = try connection.prepare("SELECT 1").step()
        }
    }

    /// How many resources of `kind` exist.
    public func count(_ kind: ResourceType.Kind) async throws -> Int {
        try await database.read { connection in
            try Self.total(kind, connection: connection)
        }
    }

    private static func page(_ kind: ResourceType.Kind, startIndex: Int, count: Int, connection: SQLiteConnection) throws -> Page {
        let total = try total(kind, connection: connection)
        guard count > 0 else { return Page(totalResults: total, resources: []) }
        let statement = try connection.prepare(
            kind == .user
                ? "SELECT id, attributes, created, last_modified, version FROM scim_users ORDER BY rowid LIMIT ? OFFSET ?"
                : "SELECT id, attributes, created, last_modified, version FROM scim_groups ORDER BY rowid LIMIT ? OFFSET ?")
        try statement.bind(.integer(count), .integer(startIndex - 1))
        var resources: [Resource] = []
        while try statement.step() {
            resources.append(try resource(kind, row: statement))
        }
        return Page(totalResults: total, resources: try resources.map { try withDerived($0, connection: connection) })
    }

    private static func total(_ kind: ResourceType.Kind, connection: SQLiteConnection) throws -> Int {
        let statement = try connection.prepare(kind == .user ? "SELECT count(*) FROM scim_users" : "SELECT count(*) FROM scim_groups")
        _ = try statement.step()
        return statement.int(0)
    }

    /// Calls `body` with every row a `candidateQuery` selects (without derived attributes), streamed so
    /// that a scan does not hold every row at once.
    private static func forEachRow(
        _ kind: ResourceType.Kind, sql: String, parameter: String?, connection: SQLiteConnection, _ body: (Resource) throws -> Void
    ) throws {
        let statement = try connection.prepare(sql)
        if let parameter { try statement.bind(.text(parameter)) }
        while try statement.step() {
            try body(try resource(kind, row: statement))
        }
    }

    /// The SQL that selects candidate rows, using the first indexed equality the filter requires, and
    /// its parameter (nil when it selects every row). The operand of a case-insensitive attribute comes
    /// lowercased, as `foldCase` keeps its key column, so every row selected is one whose attribute the
    /// filter finds equal.
    static func candidateQuery(_ kind: ResourceType.Kind, filter: ResourceFilter?) -> (String, String?) {
        let columns = "id, attributes, created, last_modified, version"
        for term in filter?.requiredEqualities ?? [] {
            switch (kind, term.path) {
            case (.user, "id"): return ("SELECT \(columns) FROM scim_users WHERE id = ?", term.value)
            case (.user, "userName"): return ("SELECT \(columns) FROM scim_users WHERE user_name_key = ?", term.value)
            case (.user, "externalId"): return ("SELECT \(columns) FROM scim_users WHERE external_id = ? ORDER BY rowid", term.value)
            case (.group, "id"): return ("SELECT \(columns) FROM scim_groups WHERE id = ?", term.value)
            case (.group, "displayName"): return ("SELECT \(columns) FROM scim_groups WHERE display_name_key = ?", term.value)
            case (.group, "externalId"): return ("SELECT \(columns) FROM scim_groups WHERE external_id = ? ORDER BY rowid", term.value)
            case (.group, "members.value"):
                return (
                    """
                    SELECT \(columns) FROM scim_groups WHERE id IN (
                        SELECT group_id FROM group_user_members WHERE user_id = ?1
                        UNION SELECT group_id FROM group_group_members WHERE member_group_id = ?1)
                    ORDER BY rowid
                    """, term.value
                )
            default: continue
            }
        }
        let table = kind == .user ? "scim_users" : "scim_groups"
        return ("SELECT \(columns) FROM \(table) ORDER BY rowid", nil)
    }

    private static func sorted(_ resources: [Resource], by sorter: ResourceSorter, baseURL: String) -> [Resource] {
        let keyed = resources.map { (key: sorter.key(for: $0.representation(baseURL: baseURL)), resource: $0) }
        // Stable: equal keys keep creation order.
        return keyed.enumerated().sorted { lhs, rhs in
            if sorter.precedes(lhs.element.key, rhs.element.key) { return true }
            if sorter.precedes(rhs.element.key, lhs.element.key) { return false }
            return lhs.offset < rhs.offset
        }.map(\.element.resource)
    }
}
