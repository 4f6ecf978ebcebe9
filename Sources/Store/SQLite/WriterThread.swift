import Foundation

/// One long-lived thread that runs the store's writes in order, in batches.
///
/// Writes wait for the disk, so they stay off the threads that serve requests. A Dispatch queue would do
/// that too, but under load its worker threads come and go, and every new thread maps a stack and every
/// exiting one unmaps it (page faults, TLB shootdowns): measured as a large share of a write's cost.
///
/// Whatever jobs are waiting when the thread comes round form one batch, handed to `runBatch` together
/// (the database commits and flushes them at once: see `Database.write`).
final class WriterThread: @unchecked Sendable {
    /// One write: `run` does it inside the batch and returns how to finish it once the batch is on disk
    /// (given the batch's error, if any); `fail` finishes it without running it.
    struct Job: Sendable {
        let run: @Sendable (SQLiteConnection) -> @Sendable ((any Error)?) -> Void
        let fail: @Sendable (any Error) -> Void
    }

    // `jobs`, `stopped` and `runBatch` are guarded by `condition`.
    private let condition = NSCondition()
    private var jobs: [Job] = []
    private var stopped = false
    private var runBatch: (@Sendable ([Job]) -> Void)?

    init(name: String) {
        let thread = Thread { [self] in run() }
        thread.name = name
        thread.start()
    }

    /// Sets what runs each batch; jobs wait until it is set.
    func start(_ runBatch: @escaping @Sendable ([Job]) -> Void) {
        condition.lock()
        self.runBatch = runBatch
        condition.signal()
        condition.unlock()
    }

    /// Runs `job` on the thread, after the jobs submitted before it.
    func submit(_ job: Job) {
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
            while jobs.isEmpty || runBatch == nil, !stopped { condition.wait() }
            if jobs.isEmpty || runBatch == nil, stopped {
                condition.unlock()
                return
            }
            let batch = jobs
            let runBatch = runBatch
            jobs.removeAll(keepingCapacity: true)
            condition.unlock()
            runBatch?(batch)
        }
    }
}
