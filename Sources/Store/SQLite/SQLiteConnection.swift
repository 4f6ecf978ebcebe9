import CSQLite

/// One connection to a SQLite database file. Not thread-safe: `Database` owns connections and
/// hands each to one caller at a time.
final class SQLiteConnection {
    private let handle: OpaquePointer
    private var statements: [String: SQLiteStatement] = [:]
    /// Statements used since the transaction began, to reset at its end.
    private var used: [SQLiteStatement] = []
    private var inTransaction = false
    /// The `sqlite3_wal_hook` callback's context, released with the connection.
    private var logCommitHook: Unmanaged<LogCommitHook>?

    /// Process-wide settings, made once before the first connection opens (SQLite accepts them only
    /// before it initializes).
    private static let configured: Void = {
        _ = portcullis_sqlite3_disable_memory_statistics()
    }()

    init(path: String, readOnly: Bool = false) throws(StoreError) {
        Self.configured
        var handle: OpaquePointer?
        let flags = (readOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) | SQLITE_OPEN_NOMUTEX
        let code = sqlite3_open_v2(path, &handle, flags, nil)
        guard code == SQLITE_OK, let handle else {
            let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close_v2(handle)
            throw StoreError.sqlite(code: code, message: "cannot open \(path): \(message)")
        }
        self.handle = handle
        sqlite3_extended_result_codes(handle, 1)
    }

    deinit {
        statements.removeAll()
        sqlite3_close_v2(handle)
        logCommitHook?.release()
    }

    /// Calls `body` with the number of pages in the write-ahead log after each commit of this
    /// connection. This replaces SQLite's automatic checkpoint for this connection (both use the same
    /// hook), so the caller takes over checkpointing.
    func onLogCommit(_ body: @escaping @Sendable (Int) -> Void) {
        let box = Unmanaged.passRetained(LogCommitHook(body))
        logCommitHook?.release()
        logCommitHook = box
        sqlite3_wal_hook(
            handle,
            { context, _, _, pages in
                if let context { Unmanaged<LogCommitHook>.fromOpaque(context).takeUnretainedValue().body(Int(pages)) }
                return SQLITE_OK
            }, box.toOpaque())
    }

    /// Copies what it can of the write-ahead log into the database file without waiting for readers
    /// or writers (a passive checkpoint); returns the frames in the log and how many of them are
    /// copied now (all of them: the next write starts the log over).
    func checkpointPassively() throws(StoreError) -> (logFrames: Int, copiedFrames: Int) {
        // The pragma rather than `sqlite3_wal_checkpoint_v2`: on a connection that has not read the
        // database yet (the checkpointer's), the function finds no log and does nothing, where the
        // pragma opens the database first.
        let statement = try prepare("PRAGMA wal_checkpoint(PASSIVE)")
        defer { statement.reset() }
        guard try statement.step() else { return (0, 0) }
        guard statement.int(0) == 0 else { throw StoreError.sqlite(code: SQLITE_BUSY, message: "another checkpoint is running") }
        return (statement.int(1), statement.int(2))
    }

    /// Runs one or more SQL statements that return no rows.
    func execute(_ sql: String) throws(StoreError) {
        var errorMessage: UnsafeMutablePointer<CChar>?
        let code = sqlite3_exec(handle, sql, nil, nil, &errorMessage)
        guard code == SQLITE_OK else {
            let message = errorMessage.map { String(cString: $0) } ?? lastErrorMessage
            sqlite3_free(errorMessage)
            throw StoreError.sqlite(code: code, message: message)
        }
    }

    /// A prepared statement for `sql`, cached for the life of the connection and reset for reuse.
    func prepare(_ sql: String) throws(StoreError) -> SQLiteStatement {
        if let cached = statements[sql] {
            cached.reset()
            if inTransaction { used.append(cached) }
            return cached
        }
        var statement: OpaquePointer?
        let code = sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil)
        guard code == SQLITE_OK, let statement else {
            throw StoreError.sqlite(code: code, message: "\(lastErrorMessage) in: \(sql)")
        }
        let prepared = SQLiteStatement(statement, connection: self)
        statements[sql] = prepared
        if inTransaction { used.append(prepared) }
        return prepared
    }

    /// Runs `body` in a transaction, committing if it returns and rolling back if it throws.
    /// `immediate` takes the write lock at once, so a writer never fails half-way on a lock upgrade.
    func transaction<T>(immediate: Bool = true, _ body: () throws -> T) throws -> T {
        try begin(immediate: immediate)
        let result: T
        do {
            result = try body()
        } catch {
            rollback()
            throw error
        }
        try commit()
        return result
    }

    /// Opens a transaction (for a batch of `savepoint`s, or for `transaction`); `commit()` or
    /// `rollback()` ends it.
    func begin(immediate: Bool = true) throws {
        try prepare(immediate ? "BEGIN IMMEDIATE" : "BEGIN").run()
        inTransaction = true
    }

    /// Commits the transaction `begin()` opened; rolls it back if the commit fails.
    func commit() throws {
        resetStatements()
        do {
            try prepare("COMMIT").run()
        } catch {
            rollback()
            throw error
        }
        endTransaction()
    }

    /// Undoes the transaction `begin()` opened.
    func rollback() {
        resetStatements()
        try? execute("ROLLBACK")
        endTransaction()
    }

    private func endTransaction() {
        inTransaction = false
        used.removeAll(keepingCapacity: true)
    }

    /// Runs `body` in a savepoint of the open transaction: its changes stay if it returns and are undone
    /// if it throws, and the transaction goes on either way (one write of a batch).
    func savepoint<T>(_ body: () throws -> T) throws -> T {
        try prepare("SAVEPOINT write").run()
        defer { used.removeAll(keepingCapacity: true) }
        do {
            let result = try body()
            resetStatements()
            try prepare("RELEASE write").run()
            return result
        } catch {
            resetStatements()
            if !isAutocommit {
                try? execute("ROLLBACK TO write")
                try? execute("RELEASE write")
            }
            throw error
        }
    }

    /// Whether no transaction is open: after `commit()`, or when SQLite rolled one back on an error.
    var isAutocommit: Bool { sqlite3_get_autocommit(handle) != 0 }

    /// Resets the statements used in this transaction: a statement left mid-way keeps its read
    /// snapshot (and the transaction) open, and later reads would not see newer commits.
    func resetStatements() {
        for statement in used {
            statement.reset()
        }
    }

    /// The value of a pragma that returns one integer. The statement is reset at once, so that it
    /// holds no read snapshot (which would stop checkpoints) between calls.
    func pragmaInteger(_ name: String) throws(StoreError) -> Int {
        let statement = try prepare("PRAGMA \(name)")
        defer { statement.reset() }
        guard try statement.step() else { return 0 }
        return statement.int(0)
    }

    /// Rows changed by the last INSERT, UPDATE or DELETE.
    var changes: Int { Int(sqlite3_changes(handle)) }

    var lastErrorMessage: String { String(cString: sqlite3_errmsg(handle)) }

    func error(code: Int32) -> StoreError {
        StoreError.sqlite(code: code, message: lastErrorMessage)
    }
}

/// A prepared statement: bind parameters (1-based), step through rows, read columns (0-based).
final class SQLiteStatement {
    private let handle: OpaquePointer
    private unowned let connection: SQLiteConnection

    init(_ handle: OpaquePointer, connection: SQLiteConnection) {
        self.handle = handle
        self.connection = connection
    }

    deinit {
        sqlite3_finalize(handle)
    }

    func reset() {
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
    }

    /// Binds `values` to parameters 1, 2, …
    @discardableResult
    func bind(_ values: SQLiteValue...) throws(StoreError) -> SQLiteStatement {
        try bind(values)
    }

    @discardableResult
    func bind(_ values: [SQLiteValue]) throws(StoreError) -> SQLiteStatement {
        for (offset, value) in values.enumerated() {
            let index = Int32(offset + 1)
            let code: Int32
            switch value {
            case .null: code = sqlite3_bind_null(handle, index)
            case .integer(let integer): code = sqlite3_bind_int64(handle, index, Int64(integer))
            case .text(let text): code = sqlite3_bind_text(handle, index, text, -1, sqliteTransient)
            case .blob(let bytes):
                code = bytes.withUnsafeBytes { buffer in
                    sqlite3_bind_blob(handle, index, buffer.baseAddress, Int32(buffer.count), sqliteTransient)
                }
            }
            guard code == SQLITE_OK else { throw connection.error(code: code) }
        }
        return self
    }

    /// Advances to the next row; false when there are no more.
    func step() throws(StoreError) -> Bool {
        let code = sqlite3_step(handle)
        switch code {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default: throw connection.error(code: code)
        }
    }

    /// Runs a statement that returns no rows.
    func run() throws(StoreError) {
        while try step() {}
    }

    func int(_ column: Int32) -> Int { Int(sqlite3_column_int64(handle, column)) }

    func optionalInt(_ column: Int32) -> Int? {
        sqlite3_column_type(handle, column) == SQLITE_NULL ? nil : int(column)
    }

    func text(_ column: Int32) -> String {
        guard let pointer = sqlite3_column_text(handle, column) else { return "" }
        return String(cString: pointer)
    }

    func optionalText(_ column: Int32) -> String? {
        sqlite3_column_type(handle, column) == SQLITE_NULL ? nil : text(column)
    }

    func blob(_ column: Int32) -> [UInt8] {
        let count = Int(sqlite3_column_bytes(handle, column))
        guard count > 0, let pointer = sqlite3_column_blob(handle, column) else { return [] }
        return Array(UnsafeRawBufferPointer(start: pointer, count: count))
    }

    /// The column as UTF-8 bytes, without building a String (for JSON documents).
    /// The column's text as UTF-8 bytes, without a copy: valid only until the statement steps again
    /// or is reset.
    func unsafeTextBytes(_ column: Int32) -> UnsafeRawBufferPointer {
        let count = Int(sqlite3_column_bytes(handle, column))
        guard count > 0, let pointer = sqlite3_column_text(handle, column) else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        return UnsafeRawBufferPointer(start: pointer, count: count)
    }

    func textBytes(_ column: Int32) -> [UInt8] {
        let count = Int(sqlite3_column_bytes(handle, column))
        guard count > 0, let pointer = sqlite3_column_text(handle, column) else { return [] }
        return Array(UnsafeRawBufferPointer(start: pointer, count: count))
    }
}

/// A value bound to a statement parameter.
enum SQLiteValue {
    case null
    case integer(Int)
    case text(String)
    case blob([UInt8])

    static func optionalText(_ text: String?) -> SQLiteValue {
        text.map(SQLiteValue.text) ?? .null
    }
}

// SQLITE_TRANSIENT: SQLite copies the bound bytes before the call returns.
private let sqliteTransient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

/// Holds the closure `SQLiteConnection.onLogCommit` passes to SQLite as a context pointer.
private final class LogCommitHook {
    let body: @Sendable (Int) -> Void
    init(_ body: @escaping @Sendable (Int) -> Void) { self.body = body }
}
