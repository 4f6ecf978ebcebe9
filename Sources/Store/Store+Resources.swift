public import SCIM

// Users and groups: create, read, replace, modify, delete. Each write is one transaction.

extension Store {
    /// Creates a user or group from canonical attributes (see `ResourceNormalizer`).
    public func create(_ kind: ResourceType.Kind, attributes: JSONObject) async throws -> Resource {
        let actor = AuditContext.current
        // Writes run one after another on the writer thread: what needs no database (the stored JSON,
        // and a user's audit record, whose attributes no check changes) is made here, beside it.
        let stored = Self.storedAttributes(attributes)
        let userAudit = kind == .user ? Self.auditDetailsText(Self.changeDetails(before: nil, after: attributes), actor: actor) : nil
        return try await database.write { connection in
            let now = Self.now()
            let id = Self.newIdentifier(at: now)
            var resource = Resource(kind: kind, id: id, attributes: attributes, created: now, lastModified: now, version: 1)
            resource.attributes = try Self.checkedMembers(of: resource, connection: connection)
            try Self.insert(resource, stored: stored, connection: connection)
            if let userAudit {
                try Self.appendAudit(Self.changeEntry(kind, id: id, operation: "create"), detailsText: userAudit, actor: actor, at: now, connection: connection)
                // A new user is in no group yet: the resource is what was stored.
                resource.groups = []
                return resource
            }
            try Self.auditChange(kind, id: id, operation: "create", before: nil, after: resource.attributes, actor: actor, at: now, connection: connection)
            return try Self.load(kind, id: id, connection: connection) ?? resource
        }
    }

    /// The resource with this id, or nil.
    public func resource(_ kind: ResourceType.Kind, id: String) async throws -> Resource? {
        try await database.read { connection in
            try Self.load(kind, id: id, connection: connection)
        }
    }

    /// Replaces every writable attribute (PUT). `ifMatch` is the client's If-Match header, if any.
    public func replace(_ kind: ResourceType.Kind, id: String, attributes: JSONObject, ifMatch: String? = nil) async throws -> Resource {
        try await modify(kind, id: id, ifMatch: ifMatch, operation: "replace") { _ in attributes }
    }

    /// Changes a resource in one transaction: `transform` gets the current resource and returns its new
    /// attributes (PATCH). The version only moves when something changed.
    public func modify(
        _ kind: ResourceType.Kind, id: String, ifMatch: String? = nil, _ transform: @escaping @Sendable (Resource) throws -> JSONObject
    ) async throws -> Resource {
        try await modify(kind, id: id, ifMatch: ifMatch, operation: "patch", transform)
    }

    private func modify(
        _ kind: ResourceType.Kind, id: String, ifMatch: String?, operation: String, _ transform: @escaping @Sendable (Resource) throws -> JSONObject
    ) async throws -> Resource {
        let actor = AuditContext.current
        return try await database.write { connection in
            guard let current = try Self.load(kind, id: id, connection: connection) else {
                throw SCIMError.notFound("\(kind.rawValue) \(id) not found")
            }
            try Self.checkPrecondition(ifMatch, against: current)
            var updated = current
            updated.attributes = try transform(current)
            updated.attributes = try Self.checkedMembers(of: updated, connection: connection)
            guard updated.attributes != current.attributes else { return current }
            updated.version = current.version + 1
            updated.lastModified = max(Self.now(), current.lastModified + 1)
            try Self.update(updated, previous: current, connection: connection)
            try Self.auditChange(
                kind, id: id, operation: operation, before: current.attributes, after: updated.attributes, actor: actor, at: updated.lastModified,
                connection: connection)
            return try Self.load(kind, id: id, connection: connection) ?? updated
        }
    }

    /// Deletes a resource; a user's or group's memberships go with it, and the groups it was a member
    /// of get a new version.
    public func delete(_ kind: ResourceType.Kind, id: String, ifMatch: String? = nil) async throws {
        let actor = AuditContext.current
        try await database.write { connection in
            guard let current = try Self.load(kind, id: id, connection: connection) else {
                throw SCIMError.notFound("\(kind.rawValue) \(id) not found")
            }
            try Self.checkPrecondition(ifMatch, against: current)
            let parents = try Self.parentGroupIDs(of: kind, id: id, connection: connection)
            // Deleting a group changes the `groups` of every user under it.
            let affectedUsers = kind == .group ? try Self.usersUnder(groups: [id], connection: connection) : []
            let sql = kind == .user ? "DELETE FROM scim_users WHERE id = ?" : "DELETE FROM scim_groups WHERE id = ?"
            try connection.prepare(sql).bind(.text(id)).run()
            try Self.touchGroups(parents, connection: connection)
            try Self.touchUsers(affectedUsers, connection: connection)
            try Self.auditChange(kind, id: id, operation: "delete", before: current.attributes, after: nil, actor: actor, at: Self.now(), connection: connection)
        }
    }

    /// The audit record of a SCIM write: `User.patch` and the like, with the attributes that changed.
    private static func auditChange(
        _ kind: ResourceType.Kind, id: String, operation: String, before: JSONObject?, after: JSONObject?, actor: AuditContext.Current, at: Int64,
        connection: SQLiteConnection
    ) throws {
        var entry = changeEntry(kind, id: id, operation: operation)
        entry.details = changeDetails(before: before, after: after)
        try appendAudit(entry, actor: actor, at: at, connection: connection)
    }

    private static func changeEntry(_ kind: ResourceType.Kind, id: String, operation: String) -> AuditEntry {
        AuditEntry(action: kind.rawValue + "." + operation, target: kind.rawValue + "/" + id, userID: kind == .user ? id : nil)
    }

    private static func changeDetails(before: JSONObject?, after: JSONObject?) -> JSONObject {
        ["changes": .object(AuditDiff.changes(before: before, after: after))]
    }

    // MARK: Rows

    /// Inserts a resource's row; `stored` is `storedAttributes(resource.attributes)`, if made already.
    static func insert(_ resource: Resource, stored: String? = nil, connection: SQLiteConnection) throws {
        let stored = stored ?? storedAttributes(resource.attributes)
        do {
            switch resource.kind {
            case .user:
                let userName = resource.attributes["userName"]?.stringValue ?? ""
                try connection.prepare(
                    """
                    INSERT INTO scim_users (id, user_name, user_name_key, external_id, active, attributes, created, last_modified, version)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """
                ).bind(
                    .text(resource.id), .text(userName), .text(foldCase(userName)), .optionalText(resource.attributes["externalId"]?.stringValue),
                    .integer(isActive(resource) ? 1 : 0), .text(stored), .integer(Int(resource.created)), .integer(Int(resource.lastModified)),
                    .integer(resource.version)
                ).run()
            case .group:
                let displayName = resource.attributes["displayName"]?.stringValue ?? ""
                try connection.prepare(
                    """
                    INSERT INTO scim_groups (id, display_name, display_name_key, external_id, attributes, created, last_modified, version)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """
                ).bind(
                    .text(resource.id), .text(displayName), .text(foldCase(displayName)),
                    .optionalText(resource.attributes["externalId"]?.stringValue), .text(stored), .integer(Int(resource.created)),
                    .integer(Int(resource.lastModified)), .integer(resource.version)
                ).run()
                try writeMembers(of: resource, previous: [], connection: connection)
            }
        } catch let error as StoreError where error.isUniquenessViolation {
            throw uniquenessError(resource)
        }
    }

    static func update(_ resource: Resource, previous: Resource, connection: SQLiteConnection) throws {
        let stored = storedAttributes(resource.attributes)
        do {
            switch resource.kind {
            case .user:
                let userName = resource.attributes["userName"]?.stringValue ?? ""
                try connection.prepare(
                    """
                    UPDATE scim_users SET user_name = ?, user_name_key = ?, external_id = ?, active = ?, attributes = ?,
                        last_modified = ?, version = ? WHERE id = ?
                    """
                ).bind(
                    .text(userName), .text(foldCase(userName)), .optionalText(resource.attributes["externalId"]?.stringValue),
                    .integer(isActive(resource) ? 1 : 0), .text(stored), .integer(Int(resource.lastModified)), .integer(resource.version),
                    .text(resource.id)
                ).run()
            case .group:
                let displayName = resource.attributes["displayName"]?.stringValue ?? ""
                try connection.prepare(
                    """
                    UPDATE scim_groups SET display_name = ?, display_name_key = ?, external_id = ?, attributes = ?,
                        last_modified = ?, version = ? WHERE id = ?
                    """
                ).bind(
                    .text(displayName), .text(foldCase(displayName)), .optionalText(resource.attributes["externalId"]?.stringValue),
                    .text(stored), .integer(Int(resource.lastModified)), .integer(resource.version), .text(resource.id)
                ).run()
                try writeMembers(of: resource, previous: members(of: previous), connection: connection)
                if displayName != previous.attributes["displayName"]?.stringValue {
                    // A rename shows in the `groups` of every user under the group.
                    try touchUsers(usersUnder(groups: [resource.id], connection: connection), connection: connection)
                }
            }
        } catch let error as StoreError where error.isUniquenessViolation {
            throw uniquenessError(resource)
        }
    }

    /// Loads one resource with what is derived from other rows: a group's members, a user's groups.
    static func load(_ kind: ResourceType.Kind, id: String, connection: SQLiteConnection) throws -> Resource? {
        let statement = try connection.prepare(
            kind == .user
                ? "SELECT id, attributes, created, last_modified, version FROM scim_users WHERE id = ?"
                : "SELECT id, attributes, created, last_modified, version FROM scim_groups WHERE id = ?")
        try statement.bind(.text(id))
        guard try statement.step() else { return nil }
        let resource = try resource(kind, row: statement)
        return try withDerived(resource, connection: connection)
    }

    /// A resource from a row of `id, attributes, created, last_modified, version`, without derived parts.
    static func resource(_ kind: ResourceType.Kind, row: SQLiteStatement) throws -> Resource {
        let id = row.text(0)
        return Resource(
            kind: kind, id: id, attributes: try decodeAttributes(row.textBytes(1), id: id), created: Int64(row.int(2)),
            lastModified: Int64(row.int(3)), version: row.int(4))
    }

    /// Adds a group's members or a user's groups.
    static func withDerived(_ resource: Resource, connection: SQLiteConnection) throws -> Resource {
        var resource = resource
        switch resource.kind {
        case .group:
            let members = try loadMembers(groupID: resource.id, connection: connection)
            if !members.isEmpty {
                resource.attributes["members"] = .array(members.map { ["value": .string($0.id), "type": .string($0.kind.rawValue)] })
                resource.attributes = ResourceNormalizer(.group).canonicalOrder(resource.attributes)
            }
        case .user:
            resource.groups = try loadGroups(userID: resource.id, connection: connection)
        }
        return resource
    }

    /// The JSON kept in the `attributes` column: everything but a group's members, which have tables.
    static func storedAttributes(_ attributes: JSONObject) -> String {
        var attributes = attributes
        attributes["members"] = nil
        return JSON.object(attributes).jsonText
    }

    static func isActive(_ resource: Resource) -> Bool {
        resource.attributes["active"]?.boolValue ?? true
    }

    /// userName and group displayName are unique ignoring case; this is the key that makes it so. It must
    /// fold as `ResourceFilter` folds the operands of case-insensitive attributes (`lowercased()`), since
    /// filters on these attributes are answered by comparing the key (see `candidateQuery`).
    static func foldCase(_ text: String) -> String {
        text.lowercased()
    }

    private static func uniquenessError(_ resource: Resource) -> SCIMError {
        switch resource.kind {
        case .user:
            .uniqueness("userName '\(resource.attributes["userName"]?.stringValue ?? "")' is already taken")
        case .group:
            .uniqueness("A group named '\(resource.attributes["displayName"]?.stringValue ?? "")' already exists")
        }
    }
}

extension StoreError {
    var isUniquenessViolation: Bool {
        // SQLITE_CONSTRAINT_UNIQUE (2067) and SQLITE_CONSTRAINT_PRIMARYKEY (1555)
        sqliteCode == 2067 || sqliteCode == 1555
    }
}
