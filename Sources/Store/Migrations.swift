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
        // 3: one-time enrollment links, and the webhook deliveries still to make.
        """
        CREATE TABLE enrollments (
            id TEXT PRIMARY KEY,
            token_hash BLOB NOT NULL UNIQUE,
            user_id TEXT NOT NULL REFERENCES scim_users (id) ON DELETE CASCADE,
            created INTEGER NOT NULL,
            expires INTEGER NOT NULL,
            used INTEGER,
            device_id TEXT
        );
        CREATE INDEX enrollments_user ON enrollments (user_id);

        CREATE TABLE webhook_deliveries (
            id TEXT PRIMARY KEY,
            event TEXT NOT NULL,
            payload TEXT NOT NULL,
            created INTEGER NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt INTEGER NOT NULL,
            last_error TEXT
        );
        CREATE INDEX webhook_deliveries_next ON webhook_deliveries (next_attempt);
        """,
        // 4: the audit log (append-only, hash-chained) and the access history.
        """
        CREATE TABLE audit_log (
            seq INTEGER PRIMARY KEY,
            at INTEGER NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            target TEXT NOT NULL,
            user_id TEXT,
            details TEXT NOT NULL,
            prev_hash TEXT NOT NULL,
            hash TEXT NOT NULL
        );
        CREATE INDEX audit_log_at ON audit_log (at);
        CREATE INDEX audit_log_user ON audit_log (user_id, seq) WHERE user_id IS NOT NULL;
        CREATE INDEX audit_log_action ON audit_log (action, seq);

        -- Where the kept part of the chain starts once retention pruned older records, and the switch
        -- that lets only pruning delete.
        CREATE TABLE audit_state (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            pruning INTEGER NOT NULL DEFAULT 0,
            anchor_seq INTEGER,
            anchor_hash TEXT,
            pruned_at INTEGER
        );
        INSERT INTO audit_state (id) VALUES (1);

        CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
        CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log WHEN (SELECT pruning FROM audit_state) = 0
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only; records leave only by retention'); END;

        -- Each version of a policy rule as the gateway enforced it: its grants as JSON.
        CREATE TABLE access_rules (
            version TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            verdict TEXT NOT NULL,
            grants TEXT NOT NULL,
            first_applied INTEGER NOT NULL
        );

        -- A device's tunnel address in a rule's source set on the gateway, from when it was applied
        -- until it was removed (NULL while it is there).
        CREATE TABLE access_intervals (
            id INTEGER PRIMARY KEY,
            user_id TEXT NOT NULL,
            device_id TEXT NOT NULL,
            address TEXT NOT NULL,
            rule_version TEXT NOT NULL REFERENCES access_rules (version),
            since INTEGER NOT NULL,
            until INTEGER
        );
        -- "Who could reach X at T": intervals of the rule versions that reach X, started by T. It holds
        -- every column that question reads, so it is answered from the index alone: those that ended
        -- before T are skipped, and those that last are read, without a lookup of the row each.
        CREATE INDEX access_intervals_rule ON access_intervals (rule_version, since, until, user_id, device_id, address);
        CREATE INDEX access_intervals_rule_until ON access_intervals (rule_version, until);
        CREATE INDEX access_intervals_user ON access_intervals (user_id, since);
        CREATE UNIQUE INDEX access_intervals_open ON access_intervals (device_id, address, rule_version) WHERE until IS NULL;
        """,
        // 5: every user's userName in order, without reading the rows: an audit answer names and sorts
        // thousands of users, and a pass over this index reads a tenth of what a pass over the table does.
        """
        CREATE INDEX scim_users_name_id ON scim_users (user_name, id);
        """,
        // 6: a count of changes to the tokens, kept by triggers. A server checks the tokens it holds
        // against this one row when the database changed (a token may be created or revoked by the CLI,
        // another process), instead of reading every token after every write.
        // The count only grows, so above 0 it also says a token once existed (`anyTokenEverExisted`).
        """
        CREATE TABLE token_changes (id INTEGER PRIMARY KEY CHECK (id = 1), count INTEGER NOT NULL);
        INSERT INTO token_changes (id, count) VALUES (1, 0);
        CREATE TRIGGER tokens_inserted AFTER INSERT ON tokens BEGIN UPDATE token_changes SET count = count + 1; END;
        CREATE TRIGGER tokens_updated AFTER UPDATE ON tokens BEGIN UPDATE token_changes SET count = count + 1; END;
        CREATE TRIGGER tokens_deleted AFTER DELETE ON tokens BEGIN UPDATE token_changes SET count = count + 1; END;
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
