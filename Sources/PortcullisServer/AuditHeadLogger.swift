public import Logging
public import ServiceLifecycle
public import Store

/// Logs the audit log's head (`audit head`: the last record's number and hash) at start-up, then
/// every `interval` (an hour by default), so that wherever the log lines go holds an anchor outside
/// the database: `portcullis audit verify --expect-head SEQ:HASH` then shows records deleted from
/// the end, which the chain alone cannot.
public struct AuditHeadLogger: Service {
    let store: Store
    let interval: Duration
    let logger: Logger

    public init(store: Store, interval: Duration = .seconds(3600), logger: Logger) {
        self.store = store
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                await logHead()
                try? await Task.sleep(for: interval)
            }
        }
    }

    func logHead() async {
        do {
            let head = try await store.auditHead()
            logger.info("audit head", metadata: ["seq": "\(head.seq)", "hash": "\(head.hash)"])
        } catch {
            logger.error("cannot read the audit log's head", metadata: ["error": "\(error)"])
        }
    }
}
