public import SCIM

// The whole directory at once, for compiling access: every user with the displayNames of all the
// groups they belong to, directly or through nested groups. Three queries and an in-memory closure,
// instead of one recursive query per user.

extension Store {
    /// A user and the names of every group they are in.
    public struct DirectoryEntry: Sendable {
        public let user: Resource
        public let groupNames: [String]
    }

    /// Every user (in creation order) with their groups' displayNames.
    public func directory() async throws -> [DirectoryEntry] {
        try await database.read { connection in
            let (groupNames, ancestors) = try Self.groupClosure(connection: connection)
            var directGroups: [String: [String]] = [:]
            let memberships = try connection.prepare("SELECT user_id, group_id FROM group_user_members")
            while try memberships.step() {
                directGroups[memberships.text(0), default: []].append(memberships.text(1))
            }
            var entries: [DirectoryEntry] = []
            let users = try connection.prepare("SELECT id, attributes, created, last_modified, version FROM scim_users ORDER BY rowid")
            while try users.step() {
                let user = try Self.resource(.user, row: users)
                var ids = Set<String>()
                for group in directGroups[user.id] ?? [] {
                    ids.insert(group)
                    ids.formUnion(ancestors[group] ?? [])
                }
                entries.append(DirectoryEntry(user: user, groupNames: ids.compactMap { groupNames[$0] }.sorted()))
            }
            return entries
        }
    }

    /// The entries of the given users (those that exist), for recomputing a few users' access.
    public func directory(userIDs: some Collection<String> & Sendable) async throws -> [DirectoryEntry] {
        try await database.read { connection in
            try userIDs.compactMap { id in
                guard let user = try Self.load(.user, id: id, connection: connection) else { return nil }
                return DirectoryEntry(user: user, groupNames: user.groups.map(\.displayName).sorted())
            }
        }
    }

    /// Every user in the group or in groups nested in it: whose access a change to the group can change.
    public func usersUnder(group id: String) async throws -> Set<String> {
        try await database.read { connection in
            try Self.usersUnder(groups: [id], connection: connection)
        }
    }

    /// The displayName of every group.
    public func groupNames() async throws -> [String] {
        try await database.read { connection in
            try Array(Self.groupClosure(connection: connection).names.values).sorted()
        }
    }

    /// The names of every group, and for each group every group it is nested in (cycles tolerated).
    static func groupClosure(connection: SQLiteConnection) throws -> (names: [String: String], ancestors: [String: Set<String>]) {
        var names: [String: String] = [:]
        let groups = try connection.prepare("SELECT id, display_name FROM scim_groups")
        while try groups.step() { names[groups.text(0)] = groups.text(1) }
        var parents: [String: [String]] = [:]
        let edges = try connection.prepare("SELECT group_id, member_group_id FROM group_group_members")
        while try edges.step() { parents[edges.text(1), default: []].append(edges.text(0)) }
        var ancestors: [String: Set<String>] = [:]
        for id in names.keys {
            var seen = Set<String>()
            var stack = parents[id] ?? []
            while let next = stack.popLast() {
                guard seen.insert(next).inserted else { continue }
                stack += parents[next] ?? []
            }
            seen.remove(id)
            ancestors[id] = seen
        }
        return (names, ancestors)
    }
}
