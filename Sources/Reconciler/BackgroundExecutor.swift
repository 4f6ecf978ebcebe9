import Dispatch

/// Where the controller's long-running work runs: full synchronisations, drift repair, policy
/// compilation. Swift Concurrency runs on the HTTP server's event loops (see `main.swift`), so a
/// second of computing a 100k-user desired state there would stall every connection on that loop;
/// tasks that prefer this executor run on Dispatch's worker threads instead.
public final class BackgroundExecutor: TaskExecutor, @unchecked Sendable {
    public static let shared = BackgroundExecutor()

    private let queue = DispatchQueue(label: "portcullis.background", qos: .utility, attributes: .concurrent)

    private init() {}

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let executor = asUnownedTaskExecutor()
        queue.async { job.runSynchronously(on: executor) }
    }
}
