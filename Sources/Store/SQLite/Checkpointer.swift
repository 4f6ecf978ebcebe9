import CSQLite
import Dispatch
import Synchronization

/// Copies the write-ahead log back into the database file in the background, on a connection of its
/// own, so that no write waits for it.
///
/// SQLite's automatic checkpoint runs inside the commit that crosses its threshold: every thousand
/// pages or so one write paid for copying them and two disk flushes (measured: 5-7 ms, against about
/// 1 ms for a write). The writer connection reports the log's size after each commit instead
/// (`observe(_:)`), and once it passes `threshold` pages a passive checkpoint runs here, beside the
/// writes. A passive checkpoint never blocks the writer; what it could not copy (a reader still using
/// those pages) is copied by a later one, and the writer starts the log over once all of it is copied.
final class Checkpointer: Sendable {
    /// Pages in the log that start a checkpoint (SQLite's default for its automatic one).
    static let threshold = 1000

    private let connection: Mutex<SQLiteConnection>
    /// Pages in the log after the last commit.
    private let logPages = Atomic<Int>(0)
    private let running = Atomic<Bool>(false)
    private let checkpoints = Atomic<Int>(0)
    private let queue = DispatchQueue(label: "portcullis.store.checkpoint", qos: .utility)

    init(path: String) throws(StoreError) {
        let connection = try SQLiteConnection(path: path)
        try connection.execute("PRAGMA busy_timeout = 5000")
        self.connection = Mutex(connection)
    }

    /// Checkpoints run so far (for tests and diagnostics).
    var completed: Int { checkpoints.load(ordering: .relaxed) }
    /// Pages in the log after the last commit.
    var pagesInLog: Int { logPages.load(ordering: .relaxed) }
    var isRunning: Bool { running.load(ordering: .acquiring) }

    /// Makes `writer` report its log's size here after each commit, in place of its automatic checkpoint.
    func observe(_ writer: SQLiteConnection) {
        writer.onLogCommit { [weak self] pages in self?.logPages.store(pages, ordering: .relaxed) }
    }

    /// Starts a checkpoint if the log has grown past the threshold and none is running. Called by the
    /// writer thread after each batch of writes is on disk.
    func checkpointIfNeeded() {
        guard logPages.load(ordering: .relaxed) >= Self.threshold,
            running.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged
        else { return }
        queue.async { [self] in
            defer { running.store(false, ordering: .releasing) }
            // SQLITE_BUSY (another checkpoint is running) leaves the work to the next one.
            if (try? connection.withLock({ try $0.execute("PRAGMA wal_checkpoint(PASSIVE)") })) != nil {
                checkpoints.add(1, ordering: .relaxed)
            }
        }
    }
}
