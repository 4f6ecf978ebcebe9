/// The database schema, as numbered migrations applied in order at start-up. `PRAGMA user_version`
/// records how many have been applied; a database from a newer Portcullis is refused, not guessed at.
enum Migrations {
    static let all: [String] = [
        // 1: SCIM users, groups, memberships, and API tokens.
        """
        CREATE TABLE scim_users (
            id TEXT PRIMARY KEY,
            user_name TEXT NOT NULL,
            user_name_key TEXT NOT NULL UNIQUE,
            external_id TEXT,
            active INTEGER NOT NULL DEFAULT 1,
            attributes TEXT NOT NULL,
            created INTEGER NOT NULL,
            last_modified INTEGER NOT NULL,
            version INTEGER NOT NULL
        );
        CREATE INDEX scim_users_external_id ON scim_users (external_id);

        CREATE TABLE scim_groups (
            id TEXT PRIMARY KEY,
            display_name TEXT NOT NULL,
            display_name_key TEXT NOT NULL UNIQUE,
            external_id TEXT,
            attributes TEXT NOT NULL,
            created INTEGER NOT NULL,
            last_modified INTEGER NOT NULL,
            version INTEGER NOT NULL
        );
        CREATE INDEX scim_groups_external_id ON scim_groups (external_id);

        CREATE TABLE group_user_members (
            group_id TEXT NOT NULL REFERENCES scim_groups (id) ON DELETE CASCADE,
            user_id TEXT NOT NULL REFERENCES scim_users (id) ON DELETE CASCADE,
            PRIMARY KEY (group_id, user_id)
        ) WITHOUT ROWID;
        CREATE INDEX group_user_members_user ON group_user_members (user_id);

        CREATE TABLE group_group_members (
            group_id TEXT NOT NULL REFERENCES scim_groups (id) ON DELETE CASCADE,
            member_group_id TEXT NOT NULL REFERENCES scim_groups (id) ON DELETE CASCADE,
            PRIMARY KEY (group_id, member_group_id),
            CHECK (group_id <> member_group_id)
        ) WITHOUT ROWID;
        CREATE INDEX group_group_members_member ON group_group_members (member_group_id);

        CREATE TABLE tokens (
            name TEXT PRIMARY KEY,
            scope TEXT NOT NULL CHECK (scope IN ('scim', 'admin')),
            hash BLOB NOT NULL UNIQUE,
            created INTEGER NOT NULL
        );
        """,
        // 2: devices with their tunnel addresses, the quarantine of freed addresses, and revocations
        // that could not yet be applied to the gateway.
        """
        CREATE TABLE devices (
            id TEXT PRIMARY KEY,
            user_id TEXT NOT NULL REFERENCES scim_users (id) ON DELETE CASCADE,
            name TEXT NOT NULL,
            public_key TEXT NOT NULL UNIQUE,
            preshared_key TEXT,
            address_index INTEGER NOT NULL UNIQUE,
            address4 TEXT NOT NULL,
            address6 TEXT,
            created INTEGER NOT NULL,
            expires INTEGER,
            UNIQUE (user_id, name)
        );
        CREATE INDEX devices_user ON devices (user_id);

        CREATE TABLE address_quarantine (
            address_index INTEGER PRIMARY KEY,
            released INTEGER NOT NULL
        );

        -- A freed address rests before reuse, so a new device never inherits connections meant for an
        -- old one. A trigger, so that devices removed with their user (ON DELETE CASCADE) count too.
        CREATE TRIGGER devices_quarantine_address AFTER DELETE ON devices
        BEGIN
            INSERT OR REPLACE INTO address_quarantine (address_index, released)
            VALUES (old.address_index, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER));
        END;

        CREATE TABLE pending_revocations (
            public_key TEXT PRIMARY KEY,
            reason TEXT NOT NULL,
            created INTEGER NOT NULL
        );
        """,
    ]

    /// The schema version this build writes.
    static var latestVersion: Int { all.count }

    static func apply(to connection: SQLiteConnection) throws(StoreError) {
        let current = try connection.pragmaInteger("user_version")
        guard current <= latestVersion else {
            throw StoreError.schemaTooNew(found: current, known: latestVersion)
        }
        for version in current..<latestVersion {
            do {
                try connection.transaction {
                    try connection.execute(all[version])
                    try connection.execute("PRAGMA user_version = \(version + 1)")
                }
            } catch let error as StoreError {
                throw error
            } catch {
                throw StoreError.corrupt("migration \(version + 1) failed: \(error)")
            }
        }
    }
}
