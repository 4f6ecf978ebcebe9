import CSQLite
import Foundation
import SCIM
import Testing
@testable import Store

struct MigrationTests {
    @Test func freshDatabaseIsAtLatestSchemaVersionInWALModeWithForeignKeys() throws {
        let temporary = try TemporaryStore()
        #expect(try pragma("user_version", path: temporary.databasePath) == "\(Store.schemaVersion)")
        #expect(try pragma("journal_mode", path: temporary.databasePath) == "wal")
        let foreignKeys = try temporary.store.database.readNow { try $0.pragmaInteger("foreign_keys") }
        #expect(foreignKeys == 1)
        // NORMAL: commits survive a process crash; the writer flushes the log before acknowledging.
        let synchronous = try temporary.store.database.writeNow { try $0.pragmaInteger("synchronous") }
        #expect(synchronous == 1)
    }

    @Test func reopeningKeepsDataAndDoesNotReapplyMigrations() async throws {
        let temporary = try TemporaryStore()
        let user = try await temporary.createUser(userName: "kept@example.com")
        let reopened = try Store(directory: temporary.directory)
        let found = try await reopened.resource(.user, id: user.id)
        #expect(found?.attributes["userName"] == "kept@example.com")
        #expect(try pragma("user_version", path: temporary.databasePath) == "\(Store.schemaVersion)")
    }

    @Test func databaseFromANewerPortcullisIsRefusedWithAClearError() throws {
        let temporary = try TemporaryStore()
        try execute("PRAGMA user_version = \(Store.schemaVersion + 7)", path: temporary.databasePath)
        do {
            _ = try Store(directory: temporary.directory)
            Issue.record("opening a newer database should fail")
        } catch let error as StoreError {
            #expect(error.isSchemaTooNew)
            #expect(error.description.contains("schema version \(Store.schemaVersion + 7)"))
            #expect(error.description.contains("up to \(Store.schemaVersion)"))
        }
    }

    @Test func dataFolderAndDatabaseAreReadableByTheOwnerOnly() throws {
        let temporary = try TemporaryStore()
        let folder = try FileManager.default.attributesOfItem(atPath: temporary.directory)[.posixPermissions] as? Int
        let file = try FileManager.default.attributesOfItem(atPath: temporary.databasePath)[.posixPermissions] as? Int
        #expect(folder == 0o700)
        #expect(file == 0o600)
    }

    @Test func everyLookupThatProvisioningDependsOnUsesAnIndex() throws {
        let temporary = try TemporaryStore()
        let filters: [(ResourceType, String)] = [
            (.user, #"userName eq "a@example.com""#),
            (.user, #"id eq "x""#),
            (.user, #"externalId eq "x""#),
            (.group, #"displayName eq "Engineering""#),
            (.group, #"externalId eq "x""#),
            (.group, #"members.value eq "x""#),
            (.group, #"members[value eq "x"]"#),
        ]
        for (type, text) in filters {
            let filter = try ResourceFilter(parsing: text, for: type)
            let (sql, _) = Store.candidateQuery(type.kind, filter: filter)
            let plan = try temporary.store.database.readNow { connection in
                let statement = try connection.prepare("EXPLAIN QUERY PLAN " + sql)
                try statement.bind(.text("x"))
                var details: [String] = []
                while try statement.step() { details.append(statement.text(3)) }
                return details.joined(separator: "; ")
            }
            #expect(!plan.contains("SCAN scim_"), "\(text) scans a table: \(plan)")
            #expect(plan.contains("USING"), "\(text): \(plan)")
        }
    }
}

/// Reads a pragma with the SQLite C API, outside the store.
func pragma(_ name: String, path: String) throws -> String {
    var handle: OpaquePointer?
    guard sqlite3_open(path, &handle) == SQLITE_OK else { throw TestSQLiteError() }
    defer { sqlite3_close(handle) }
    var statement: OpaquePointer?
    guard sqlite3_prepare_v2(handle, "PRAGMA \(name)", -1, &statement, nil) == SQLITE_OK else { throw TestSQLiteError() }
    defer { sqlite3_finalize(statement) }
    guard sqlite3_step(statement) == SQLITE_ROW, let text = sqlite3_column_text(statement, 0) else { throw TestSQLiteError() }
    return String(cString: text)
}

/// Runs SQL with the SQLite C API, outside the store.
func execute(_ sql: String, path: String) throws {
    var handle: OpaquePointer?
    guard sqlite3_open(path, &handle) == SQLITE_OK else { throw TestSQLiteError() }
    defer { sqlite3_close(handle) }
    guard sqlite3_exec(handle, sql, nil, nil, nil) == SQLITE_OK else { throw TestSQLiteError() }
}

struct TestSQLiteError: Error {}
