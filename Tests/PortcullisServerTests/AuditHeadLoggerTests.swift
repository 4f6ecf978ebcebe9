import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import PortcullisServer
import SCIM
import Store
import Synchronization
import Testing

/// The server keeps the audit log's head where an outside system can hold it: a log line at start-up
/// and every interval (`audit head`'s SEQ:HASH), and its sequence number in `/metrics`.
struct AuditHeadLoggerTests {
    /// Keeps every event logged through it.
    struct CapturingLogHandler: LogHandler {
        let events: Events
        var logLevel: Logger.Level = .info
        var metadata: Logger.Metadata = [:]

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            events.events.withLock { $0.append((event.message.description, event.metadata ?? [:])) }
        }
    }

    final class Events: Sendable {
        let events = Mutex<[(message: String, metadata: Logger.Metadata)]>([])

        /// The heads logged so far, as `SEQ:HASH`.
        var heads: [String] {
            events.withLock { events in
                events.filter { $0.message == "audit head" }.map { "\($0.metadata["seq"].map { "\($0)" } ?? ""):\($0.metadata["hash"].map { "\($0)" } ?? "")" }
            }
        }
    }

    static func store() throws -> (Store, String) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("portcullis-head-\(UUID().uuidString)").path
        return (try Store(directory: directory), directory)
    }

    @Test func theHeadIsLoggedAtStartAndEveryInterval() async throws {
        let (store, directory) = try Self.store()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        _ = try store.createToken(name: "okta", scope: .scim)
        let events = Events()
        let logger = Logger(label: "head") { _ in CapturingLogHandler(events: events) }
        let service = AuditHeadLogger(store: store, interval: .milliseconds(20), logger: logger)
        let running = Task { try await service.run() }
        defer { running.cancel() }

        let first = try await store.auditHead()
        try await Self.waitUntil { events.heads.contains(first.description) }
        #expect(events.heads.first == first.description, "logged at start")
        _ = try store.createToken(name: "entra", scope: .scim)
        let second = try await store.auditHead()
        #expect(second.seq == first.seq + 1)
        try await Self.waitUntil { events.heads.contains(second.description) }
        #expect(events.heads.contains(second.description), "logged again after the interval: \(events.heads)")
        running.cancel()
        try await running.value
    }

    @Test func metricsExposeTheHeadsSequenceNumber() async throws {
        let (store, directory) = try Self.store()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let app = Application(router: buildRouter(store: store), logger: PolicyServiceTests.logger)
        try await app.test(.router) { client in
            func sequence() async throws -> String? {
                let response = try await client.execute(uri: "/metrics", method: .get)
                let text = String(buffer: response.body)
                #expect(text.contains("# TYPE portcullis_audit_head_sequence gauge"))
                return text.split(separator: "\n").first { $0.hasPrefix("portcullis_audit_head_sequence ") }.map { String($0) }
            }
            #expect(try await sequence() == "portcullis_audit_head_sequence 0.0")
            for name in ["okta", "entra", "ops"] { _ = try store.createToken(name: name, scope: .scim) }
            #expect(try await store.auditHead().seq == 3)
            #expect(try await sequence() == "portcullis_audit_head_sequence 3.0")
        }
    }

    static func waitUntil(_ condition: () -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while !condition(), ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
    }
}
