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
/// Durability and batching: writes submitted while the writer thread is busy run together, each in a
/// savepoint of one transaction (a write that fails is undone alone), which commits once, and each is
/// acknowledged only once the write-ahead log holding that commit has been flushed to disk (fsync).
/// Each write is still atomic and seen whole or not at all; a batch costs one commit and one disk
/// flush instead of one per write, and a page that several writes change (an index's last leaf, the
/// audit log's) is written to the log once. SQLite commits with `synchronous = NORMAL`, which
/// survives a crash of the process; the flush makes the batch survive power loss too.
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
        let connection = try SQLiteConnection(path: path)
        try Self.configure(connection)
        try Migrations.apply(to: connection)
        let checkpointer = try Checkpointer(path: path)
        checkpointer.observe(connection)
        self.checkpointer = checkpointer
        writerThread = WriterThread(name: "portcullis.store.writer")
        writer = Mutex(connection)
        readers = Mutex([])
        let monitorConnection = try SQLiteConnection(path: path)
        try monitorConnection.execute("PRAGMA busy_timeout = 5000")
        monitor = Mutex(monitorConnection)
        writerThread.start { [unowned self] jobs in runBatch(jobs) }
    }

    private static func configure(_ connection: SQLiteConnection) throws(StoreError) {
        try connection.execute("PRAGMA busy_timeout = 5000")
        try connection.execute("PRAGMA journal_mode = WAL")
        // NORMAL: commits survive a crash of the process; `flushLog` makes them survive power loss
        // before they are acknowledged (see the type's comment).
        try connection.execute("PRAGMA synchronous = NORMAL")
        try connection.execute("PRAGMA foreign_keys = ON")
        // A log that grew while a long read held back checkpoints is cut back to this when it starts over.
        try connection.execute("PRAGMA journal_size_limit = \(2 * Checkpointer.catchUpThreshold * 4096)")
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
        checkpointAfterWrites()
        return result
    }

    private func writeWithoutFlush<T: Sendable>(_ body: (SQLiteConnection) throws -> T) throws -> T {
        try writer.withLock { connection in
            try connection.transaction { try body(connection) }
        }
    }

    /// After writes are on disk and acknowledged: the writer finishes a checkpoint itself if the log
    /// has grown too long, else one starts in the background if the log is past its threshold.
    private func checkpointAfterWrites() {
        writer.withLock { checkpointer.catchUp(on: $0) }
        checkpointer.checkpointIfNeeded()
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

    /// Runs `body` as one write on the writer thread (atomic: all of it or, if it throws, none of it);
    /// returns once it is on disk.
    func write<T: Sendable>(_ body: @escaping @Sendable (SQLiteConnection) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            writerThread.submit(
                WriterThread.Job(
                    run: { connection in
                        let result = Result { try connection.savepoint { try body(connection) } }
                        return { batchError in
                            if let batchError, case .success = result {
                                continuation.resume(throwing: batchError)
                            } else {
                                continuation.resume(with: result)
                            }
                        }
                    },
                    fail: { continuation.resume(throwing: $0) }))
        }
    }

    /// Runs a batch of writes in one transaction, each in a savepoint, then commits and flushes once
    /// and finishes them. If SQLite rolls the whole transaction back (it does after a full disk, for
    /// instance), the writes before in it are lost: they fail, and the rest go on in a new transaction.
    private func runBatch(_ jobs: [WriterThread.Job]) {
        // Each write's finisher, with the error of the commit that ended its transaction, if any.
        var finishers: [(finish: @Sendable ((any Error)?) -> Void, commitError: (any Error)?)] = []
        writer.withLock { connection in
            var remaining = jobs[...]
            while !remaining.isEmpty {
                do {
                    try connection.begin()
                } catch {
                    for job in remaining { job.fail(error) }
                    return
                }
                var inTransaction: [@Sendable ((any Error)?) -> Void] = []
                while let job = remaining.popFirst() {
                    let finish = job.run(connection)
                    if connection.isAutocommit {
                        let lost = StoreError.sqlite(code: 1, message: "a write in the same transaction failed and SQLite rolled it back; retry")
                        for earlier in inTransaction { earlier(lost) }
                        finish(lost)
                        inTransaction = []
                        break
                    }
                    inTransaction.append(finish)
                }
                guard !inTransaction.isEmpty else { continue }
                var commitError: (any Error)?
                do {
                    try connection.commit()
                } catch {
                    commitError = error
                }
                finishers += inTransaction.map { ($0, commitError) }
            }
        }
        let flushError = Self.flushLog(at: path + "-wal")
        for (finish, commitError) in finishers { finish(commitError ?? flushError) }
        checkpointAfterWrites()
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
