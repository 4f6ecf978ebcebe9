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
///
/// Under a steady stream of writes, though, the log never is all copied: each background checkpoint
/// copies what was there when it began, while the writer appends more, so the log would never start
/// over and would grow without bound (measured: 134 MB after 3,200 writes of 12 KB by 16 writers). When it reaches
/// `catchUpThreshold`, the writer thread copies the rest itself between two batches (`catchUp(on:)`),
/// where no write can come in between; the background checkpoints have copied most of it, so this costs
/// little, and the next write starts the log over. A long read (a full synchronisation of the gateway
/// reads the whole directory in one snapshot) still keeps the pages after its snapshot from being
/// copied while it lasts; the log grows by what is written meanwhile, and the writer cuts the file back
/// to `Database`'s `journal_size_limit` when it starts over.
final class Checkpointer: Sendable {
    /// Pages in the log that start a checkpoint (SQLite's default for its automatic one).
    static let threshold = 1000
    /// Pages in the log at which the writer finishes a checkpoint itself.
    static let catchUpThreshold = 4 * threshold

    private let connection: Mutex<SQLiteConnection>
    /// Pages in the log after the last commit.
    private let logPages = Atomic<Int>(0)
    private let running = Atomic<Bool>(false)
    private let checkpoints = Atomic<Int>(0)
    private let catchUps = Atomic<Int>(0)
    private let queue = DispatchQueue(label: "portcullis.store.checkpoint", qos: .utility)

    init(path: String) throws(StoreError) {
        let connection = try SQLiteConnection(path: path)
        try connection.execute("PRAGMA busy_timeout = 5000")
        self.connection = Mutex(connection)
    }

    /// Background checkpoints so far that found pages to copy (for tests and diagnostics).
    var completed: Int { checkpoints.load(ordering: .relaxed) }
    /// Checkpoints the writer ran itself that copied the whole log, so far.
    var caughtUp: Int { catchUps.load(ordering: .relaxed) }
    /// Pages in the log after the last commit.
    var pagesInLog: Int { logPages.load(ordering: .relaxed) }
    var isRunning: Bool { running.load(ordering: .acquiring) }

    /// Makes `writer` report its log's size here after each commit, in place of its automatic checkpoint.
    func observe(_ writer: SQLiteConnection) {
        writer.onLogCommit { [weak self] pages in self?.logPages.store(pages, ordering: .relaxed) }
    }

    /// Copies the whole log into the database on `writer`, the writer connection, if it has grown to
    /// `catchUpThreshold`: called after each batch of writes (or synchronous write), under the writer
    /// connection's lock so that no write comes in between, before `checkpointIfNeeded`
    /// (which starts no more background checkpoints from there on). Whatever it could not copy or
    /// restart (a background checkpoint still finishing, a reader still on older pages) the writer
    /// tries again after its next batch, until the log has started over.
    func catchUp(on writer: SQLiteConnection) {
        guard logPages.load(ordering: .relaxed) >= Self.catchUpThreshold else { return }
        if let result = try? writer.checkpointPassively(), result.logFrames == result.copiedFrames {
            catchUps.add(1, ordering: .relaxed)
        }
    }

    /// Starts a checkpoint if the log has grown past the threshold and none is running. Called by the
    /// writer thread after each batch of writes is on disk.
    func checkpointIfNeeded() {
        // From `catchUpThreshold` on, the writer's own checkpoints must not find one running here.
        let pages = logPages.load(ordering: .relaxed)
        guard pages >= Self.threshold, pages < Self.catchUpThreshold,
            running.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged
        else { return }
        queue.async { [self] in
            defer { running.store(false, ordering: .releasing) }
            // SQLITE_BUSY (another checkpoint is running) leaves the work to the next one.
            if let result = try? connection.withLock({ try $0.checkpointPassively() }), result.copiedFrames > 0 {
                checkpoints.add(1, ordering: .relaxed)
            }
        }
    }
}
