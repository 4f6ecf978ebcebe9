import CSQLite
import Dispatch
import Synchronization

/// The SQLite database file with one writer connection and a small pool of reader connections.
///
/// WAL mode lets readers run while a write commits. Writes run on a Dispatch queue rather than on the
/// Swift concurrency pool, so a commit waiting for the disk does not hold up request handling.
final class Database: Sendable {
    let path: String
    private let writer: Mutex<SQLiteConnection>
    private let readers: Mutex<[SQLiteConnection]>
    /// Only asks `data_version`, to learn cheaply that someone committed.
    private let monitor: Mutex<SQLiteConnection>
    private let writeQueue = DispatchQueue(label: "portcullis.store.write")

    init(path: String) throws(StoreError) {
        self.path = path
        let connection = try SQLiteConnection(path: path)
        try Self.configure(connection)
        try Migrations.apply(to: connection)
        writer = Mutex(connection)
        readers = Mutex([])
        let monitorConnection = try SQLiteConnection(path: path)
        try monitorConnection.execute("PRAGMA busy_timeout = 5000")
        monitor = Mutex(monitorConnection)
    }

    private static func configure(_ connection: SQLiteConnection) throws(StoreError) {
        try connection.execute("PRAGMA busy_timeout = 5000")
        try connection.execute("PRAGMA journal_mode = WAL")
        // FULL: a commit reaches the disk before the SCIM response is sent, so an acknowledged
        // deprovisioning survives a crash or power loss.
        try connection.execute("PRAGMA synchronous = FULL")
        try connection.execute("PRAGMA foreign_keys = ON")
        try connection.execute("PRAGMA mmap_size = 268435456")
    }

    /// Changes whenever any other connection (this process's writer included) commits.
    func dataVersion() throws -> Int {
        try monitor.withLock { try $0.pragmaInteger("data_version") }
    }

    /// Runs `body` in a write transaction, synchronously.
    func writeNow<T: Sendable>(_ body: (SQLiteConnection) throws -> T) throws -> T {
        try writer.withLock { connection in
            try connection.transaction { try body(connection) }
        }
    }

    /// Runs `body` on the writer connection outside a transaction (pragmas that must see this
    /// connection's view, such as `data_version`).
    func writeNowWithoutTransaction<T: Sendable>(_ body: (SQLiteConnection) throws -> T) throws -> T {
        try writer.withLock { connection in try body(connection) }
    }

    /// Runs `body` on a reader connection, synchronously.
    func readNow<T: Sendable>(_ body: (SQLiteConnection) throws -> T) throws -> T {
        let connection = try checkOutReader()
        defer { readers.withLock { $0.append(connection) } }
        return try connection.transaction(immediate: false) { try body(connection) }
    }

    /// Runs `body` in a write transaction on the writer's queue.
    func write<T: Sendable>(_ body: @escaping @Sendable (SQLiteConnection) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            writeQueue.async {
                continuation.resume(with: Result { try self.writeNow(body) })
            }
        }
    }

    /// Runs `body` on a reader connection. Reads take microseconds, so they run on the calling
    /// thread: a hop to another queue would cost more than the query.
    func read<T: Sendable>(_ body: @escaping @Sendable (SQLiteConnection) throws -> T) async throws -> T {
        try readNow(body)
    }

    private func checkOutReader() throws(StoreError) -> SQLiteConnection {
        if let connection = readers.withLock({ $0.popLast() }) {
            return connection
        }
        let connection = try SQLiteConnection(path: path)
        try connection.execute("PRAGMA busy_timeout = 5000")
        try connection.execute("PRAGMA foreign_keys = ON")
        try connection.execute("PRAGMA query_only = ON")
        // Reads from memory-mapped pages instead of a pread per page.
        try connection.execute("PRAGMA mmap_size = 268435456")
        return connection
    }
}

extension SQLiteConnection: @unchecked Sendable {}
