import CSQLite
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The SQLite database file with one writer connection and a small pool of reader connections.
///
/// WAL mode lets readers run while a write commits. Writes run on one writer thread rather than on
/// the threads that serve requests, so a commit waiting for the disk does not hold them up.
///
/// Durability: every write is its own transaction, and is acknowledged only once the write-ahead log
/// holding it has been flushed to disk (fsync). SQLite commits with `synchronous = NORMAL`, which
/// survives a crash of the process; the writer thread then flushes the log once for all the writes
/// that were waiting together (group commit), which makes them survive power loss too, for one disk
/// flush instead of one per write.
final class Database: Sendable {
    let path: String
    private let writer: Mutex<SQLiteConnection>
    private let readers: Mutex<[SQLiteConnection]>
    /// Only asks `data_version`, to learn cheaply that someone committed.
    private let monitor: Mutex<SQLiteConnection>
    private let writerThread: WriterThread
    let checkpointer: Checkpointer

    init(path: String) throws(StoreError) {
        self.path = path
        let logPath = path + "-wal"
        let connection = try SQLiteConnection(path: path)
        try Self.configure(connection)
        try Migrations.apply(to: connection)
        let checkpointer = try Checkpointer(path: path)
        checkpointer.observe(connection)
        self.checkpointer = checkpointer
        writerThread = WriterThread(name: "portcullis.store.writer") {
            let error = Self.flushLog(at: logPath)
            checkpointer.checkpointIfNeeded()
            return error
        }
        writer = Mutex(connection)
        readers = Mutex([])
        let monitorConnection = try SQLiteConnection(path: path)
        try monitorConnection.execute("PRAGMA busy_timeout = 5000")
        monitor = Mutex(monitorConnection)
    }

    private static func configure(_ connection: SQLiteConnection) throws(StoreError) {
        try connection.execute("PRAGMA busy_timeout = 5000")
        try connection.execute("PRAGMA journal_mode = WAL")
        // NORMAL: commits survive a crash of the process; `flushLog` makes them survive power loss
        // before they are acknowledged (see the type's comment).
        try connection.execute("PRAGMA synchronous = NORMAL")
        try connection.execute("PRAGMA foreign_keys = ON")
    }

    deinit {
        writerThread.stop()
    }

    /// Changes whenever any other connection (this process's writer included) commits.
    func dataVersion() throws -> Int {
        try monitor.withLock { try $0.pragmaInteger("data_version") }
    }

    /// Runs `body` in a write transaction and flushes it to disk, synchronously.
    func writeNow<T: Sendable>(_ body: (SQLiteConnection) throws -> T) throws -> T {
        let result = try writeWithoutFlush(body)
        if let error = Self.flushLog(at: path + "-wal") { throw error }
        checkpointer.checkpointIfNeeded()
        return result
    }

    private func writeWithoutFlush<T: Sendable>(_ body: (SQLiteConnection) throws -> T) throws -> T {
        try writer.withLock { connection in
            try connection.transaction { try body(connection) }
        }
    }

    /// Flushes the write-ahead log to disk, with every commit in it.
    static func flushLog(at path: String) -> (any Error)? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            // No log file: nothing was written since the last checkpoint, which synced the database.
            return errno == ENOENT ? nil : StoreError.sqlite(code: 10, message: "cannot open \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        guard fdatasync(descriptor) == 0 else {
            return StoreError.sqlite(code: 10, message: "flushing \(path) to disk failed: \(String(cString: strerror(errno)))")
        }
        return nil
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

    /// Runs `body` in a write transaction on the writer thread; returns once it is on disk.
    func write<T: Sendable>(_ body: @escaping @Sendable (SQLiteConnection) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            writerThread.submit {
                let result = Result { try self.writeWithoutFlush(body) }
                return { flushError in
                    if let flushError, case .success = result {
                        continuation.resume(throwing: flushError)
                    } else {
                        continuation.resume(with: result)
                    }
                }
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
