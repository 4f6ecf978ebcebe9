public import SCIM

// Group membership: members are users or groups, kept in two tables so that foreign keys remove a
// membership when its user or group is deleted. A user's `groups` include nested (indirect) ones.

extension Store {
    /// One member of a group.
    public struct Member: Sendable, Hashable {
        public var id: String
        public var kind: ResourceType.Kind
    }

    /// The members a resource's attributes list.
    static func members(of resource: Resource) -> [Member] {
        guard resource.kind == .group, case .array(let elements)? = resource.attributes["members"] else { return [] }
        return elements.compactMap { element in
            guard case .string(let id)? = element.objectValue?["value"] else { return nil }
            let kind: ResourceType.Kind = element.objectValue?["type"] == "Group" ? .group : .user
            return Member(id: id, kind: kind)
        }
    }

    /// Checks that every member exists, is what its `type` says, and is not the group itself;
    /// returns the attributes with each member's `type` filled in.
    static func checkedMembers(of resource: Resource, connection: SQLiteConnection) throws -> JSONObject {
        guard resource.kind == .group, case .array(let elements)? = resource.attributes["members"] else {
            return resource.attributes
        }
        var checked: [JSON] = []
        var seen: Set<String> = []
        for element in elements {
            guard case .string(let id)? = element.objectValue?["value"] else { continue }
            guard seen.insert(id).inserted else { continue }
            guard id != resource.id else {
                throw SCIMError.invalidValue("A group cannot be a member of itself")
            }
            let declared = element.objectValue?["type"]?.stringValue
            let isUser = try exists("SELECT 1 FROM scim_users WHERE id = ?", id, connection: connection)
            let isGroup = try !isUser && exists("SELECT 1 FROM scim_groups WHERE id = ?", id, connection: connection)
            guard isUser || isGroup else {
                throw SCIMError.invalidValue("Member '\(id)' is neither a User nor a Group")
            }
            let actual = isUser ? "User" : "Group"
            if let declared, declared != actual {
                throw SCIMError.invalidValue("Member '\(id)' is a \(actual), not a \(declared)")
            }
            checked.append(["value": .string(id), "type": .string(actual)])
        }
        var attributes = resource.attributes
        attributes["members"] = checked.isEmpty ? nil : .array(checked)
        return attributes
    }

    /// Writes the difference between a group's previous and new members, and gives every user whose
    /// `groups` attribute changes with it (members added or removed, directly or through a nested
    /// group) a new version.
    static func writeMembers(of resource: Resource, previous: [Member], connection: SQLiteConnection) throws {
        let new = Set(members(of: resource))
        let old = Set(previous)
        let removed = old.subtracting(new)
        let added = new.subtracting(old)
        // Users under removed groups must be found before the edges go.
        var affectedUsers = Set(removed.filter { $0.kind == .user }.map(\.id))
        affectedUsers.formUnion(try usersUnder(groups: removed.filter { $0.kind == .group }.map(\.id), connection: connection))
        for member in removed {
            let sql =
                member.kind == .user
                ? "DELETE FROM group_user_members WHERE group_id = ? AND user_id = ?"
                : "DELETE FROM group_group_members WHERE group_id = ? AND member_group_id = ?"
            try connection.prepare(sql).bind(.text(resource.id), .text(member.id)).run()
        }
        for member in added {
            let sql =
                member.kind == .user
                ? "INSERT OR IGNORE INTO group_user_members (group_id, user_id) VALUES (?, ?)"
                : "INSERT OR IGNORE INTO group_group_members (group_id, member_group_id) VALUES (?, ?)"
            try connection.prepare(sql).bind(.text(resource.id), .text(member.id)).run()
        }
        affectedUsers.formUnion(added.filter { $0.kind == .user }.map(\.id))
        affectedUsers.formUnion(try usersUnder(groups: added.filter { $0.kind == .group }.map(\.id), connection: connection))
        try touchUsers(affectedUsers, connection: connection)
    }

    /// Every user in the given groups or in groups nested in them.
    static func usersUnder(groups ids: [String], connection: SQLiteConnection) throws -> Set<String> {
        var users = Set<String>()
        let statement = try connection.prepare(
            """
            WITH RECURSIVE descendants (id) AS (
                SELECT ?1
                UNION
                SELECT nested.member_group_id FROM group_group_members nested JOIN descendants ON nested.group_id = descendants.id
            )
            SELECT DISTINCT user_id FROM group_user_members WHERE group_id IN (SELECT id FROM descendants)
            """)
        for id in ids {
            statement.reset()
            try statement.bind(.text(id))
            while try statement.step() { users.insert(statement.text(0)) }
        }
        return users
    }

    /// Gives users whose derived `groups` changed a new version and modification time, so that ETags
    /// and `meta.lastModified gt` filters see the change.
    static func touchUsers(_ ids: Set<String>, connection: SQLiteConnection) throws {
        let now = now()
        for id in ids {
            try connection.prepare("UPDATE scim_users SET version = version + 1, last_modified = max(last_modified + 1, ?) WHERE id = ?")
                .bind(.integer(Int(now)), .text(id)).run()
        }
    }

    static func loadMembers(groupID: String, connection: SQLiteConnection) throws -> [Member] {
        var members: [Member] = []
        let users = try connection.prepare("SELECT user_id FROM group_user_members WHERE group_id = ?").bind(.text(groupID))
        while try users.step() { members.append(Member(id: users.text(0), kind: .user)) }
        let groups = try connection.prepare("SELECT member_group_id FROM group_group_members WHERE group_id = ?").bind(.text(groupID))
        while try groups.step() { members.append(Member(id: groups.text(0), kind: .group)) }
        return members
    }

    /// The groups a user belongs to, directly or through groups nested in groups, ordered by their
    /// folded display names.
    ///
    /// Most users are only in groups that no group contains: one indexed join answers for them, and
    /// the few rows are ordered here. Only when a direct group is itself a member of a group does the
    /// recursive query run (it builds temporary tables, costing more than the rest of a lookup).
    static func loadGroups(userID: String, connection: SQLiteConnection) throws -> [Resource.GroupMembership] {
        let statement = try connection.prepare(
            """
            SELECT g.id, g.display_name, g.display_name_key,
                EXISTS (SELECT 1 FROM group_group_members parent WHERE parent.member_group_id = g.id)
            FROM group_user_members direct JOIN scim_groups g ON g.id = direct.group_id
            WHERE direct.user_id = ?
            """)
        try statement.bind(.text(userID))
        var groups: [(key: String, membership: Resource.GroupMembership)] = []
        while try statement.step() {
            if statement.int(3) != 0 {
                statement.reset()
                return try loadGroupsThroughNesting(userID: userID, connection: connection)
            }
            groups.append((statement.text(2), Resource.GroupMembership(id: statement.text(0), displayName: statement.text(1), isDirect: true)))
        }
        // Byte order, as SQLite's BINARY collation orders the nested case (and keys are unique).
        return groups.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }.map(\.membership)
    }

    /// `loadGroups` for a user with a group nested in a group (cycles are harmless: `UNION` stops at
    /// groups already seen).
    private static func loadGroupsThroughNesting(userID: String, connection: SQLiteConnection) throws -> [Resource.GroupMembership] {
        let statement = try connection.prepare(
            """
            WITH RECURSIVE ancestors (id) AS (
                SELECT group_id FROM group_user_members WHERE user_id = ?1
                UNION
                SELECT parent.group_id FROM group_group_members parent JOIN ancestors ON parent.member_group_id = ancestors.id
            )
            SELECT g.id, g.display_name,
                EXISTS (SELECT 1 FROM group_user_members direct WHERE direct.user_id = ?1 AND direct.group_id = g.id)
            FROM ancestors JOIN scim_groups g ON g.id = ancestors.id
            ORDER BY g.display_name_key
            """)
        try statement.bind(.text(userID))
        var groups: [Resource.GroupMembership] = []
        while try statement.step() {
            groups.append(Resource.GroupMembership(id: statement.text(0), displayName: statement.text(1), isDirect: statement.int(2) != 0))
        }
        return groups
    }

    /// The groups that directly contain a user or group, before it is deleted.
    static func parentGroupIDs(of kind: ResourceType.Kind, id: String, connection: SQLiteConnection) throws -> [String] {
        let sql =
            kind == .user
            ? "SELECT group_id FROM group_user_members WHERE user_id = ?"
            : "SELECT group_id FROM group_group_members WHERE member_group_id = ?"
        let statement = try connection.prepare(sql).bind(.text(id))
        var ids: [String] = []
        while try statement.step() { ids.append(statement.text(0)) }
        return ids
    }

    /// Gives groups whose members changed a new version and modification time.
    static func touchGroups(_ ids: [String], connection: SQLiteConnection) throws {
        let now = now()
        for id in ids {
            try connection.prepare("UPDATE scim_groups SET version = version + 1, last_modified = max(last_modified + 1, ?) WHERE id = ?")
                .bind(.integer(Int(now)), .text(id)).run()
        }
    }

    static func exists(_ sql: String, _ id: String, connection: SQLiteConnection) throws -> Bool {
        try connection.prepare(sql).bind(.text(id)).step()
    }
}
