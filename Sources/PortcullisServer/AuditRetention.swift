public import Logging
public import ServiceLifecycle
public import Store

/// Deletes audit records and closed access intervals older than the retention period: at start-up,
/// then daily. The chain stays verifiable (see `Store.pruneAudit`).
public struct AuditRetention: Service {
    let store: Store
    /// Milliseconds of history to keep.
    let keep: Int64
    let logger: Logger

    public init(store: Store, keep: Int64, logger: Logger) {
        self.store = store
        self.keep = keep
        self.logger = logger
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                await pruneOnce()
                try? await Task.sleep(for: .seconds(86_400))
            }
        }
    }

    func pruneOnce() async {
        let cutoff = PolicyService.systemClock() - keep
        do {
            let deleted = try await AuditContext.$actor.withValue("retention") { try await store.pruneAudit(before: cutoff) }
            if deleted > 0 { logger.info("pruned the audit log", metadata: ["records": "\(deleted)", "before_ms": "\(cutoff)"]) }
        } catch {
            logger.error("cannot prune the audit log", metadata: ["error": "\(error)"])
        }
    }
}
