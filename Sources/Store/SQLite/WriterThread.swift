import Foundation

/// One long-lived thread that runs the store's writes in order, in batches that share one flush to disk.
///
/// Writes wait for the disk, so they stay off the threads that serve requests. A Dispatch queue would do
/// that too, but under load its worker threads come and go, and every new thread maps a stack and every
/// exiting one unmaps it (page faults, TLB shootdowns): measured as a large share of a write's cost.
///
/// Each job runs (one write transaction each) and hands back how to finish it; once every job that was
/// waiting has run, `flush` makes them durable at once (group commit), and only then are they finished,
/// so no write is acknowledged before it is on disk.
final class WriterThread: @unchecked Sendable {
    /// Runs one write; returns what to do once the batch is flushed (given the flush's error, if any).
    typealias Job = @Sendable () -> @Sendable ((any Error)?) -> Void

    // `jobs` and `stopped` are guarded by `condition`.
    private let condition = NSCondition()
    private var jobs: [Job] = []
    private var stopped = false
    private let flush: @Sendable () -> (any Error)?

    init(name: String, flush: @escaping @Sendable () -> (any Error)?) {
        self.flush = flush
        let thread = Thread { [self] in run() }
        thread.name = name
        thread.start()
    }

    /// Runs `job` on the thread, after the jobs submitted before it.
    func submit(_ job: @escaping Job) {
        condition.lock()
        jobs.append(job)
        condition.signal()
        condition.unlock()
    }

    /// Lets the thread end once its queue is empty.
    func stop() {
        condition.lock()
        stopped = true
        condition.signal()
        condition.unlock()
    }

    private func run() {
        while true {
            condition.lock()
            while jobs.isEmpty, !stopped { condition.wait() }
            if jobs.isEmpty, stopped {
                condition.unlock()
                return
            }
            let batch = jobs
            jobs.removeAll(keepingCapacity: true)
            condition.unlock()
            let finishers = batch.map { $0() }
            let flushError = flush()
            for finish in finishers { finish(flushError) }
        }
    }
}
