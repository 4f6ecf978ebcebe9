import Crypto
import Foundation
public import Logging
public import Policy
import Reconciler
public import ServiceLifecycle
import SCIM
public import Store
import Synchronization

/// The policy in force on the running server.
///
/// It reloads when the folder changes (polled every second) or on `reload()` (SIGHUP): a new version is
/// compiled and its tests run, and it replaces the running one only if both pass; otherwise the running
/// policy stays, and the errors are kept for `GET /api/v1/policy`. At each rule's `until` it tells its
/// listeners, so access is dropped at that moment rather than at the next reload.
public final class PolicyService: Service, Sendable {
    /// Why listeners should recompute access.
    public enum Change: Sendable, Equatable {
        /// A new policy version is in force.
        case reloaded(version: Int)
        /// Rules reached their `until`.
        case expired(rules: [String])
    }

    /// The outcome of the last attempt to load the folder.
    public struct Attempt: Sendable {
        public let at: Int64
        public let hash: String
        public let accepted: Bool
        public let errors: [PolicyDiagnostic]
        public let warnings: [PolicyDiagnostic]
        public let testFailures: [PolicyTestRunner.Outcome]
    }

    /// A policy in force.
    public struct Version: Sendable {
        public let number: Int
        public let hash: String
        public let loadedAt: Int64
        public let policy: CompiledPolicy
    }

    public let directory: String
    private let logger: Logger
    /// Where each load attempt is recorded, if anywhere.
    private let audit: Store?
    private let clock: @Sendable () -> Int64
    private let state = Mutex<State>(State())
    private let reloadRequests: AsyncStream<Void>.Continuation
    private let reloadStream: AsyncStream<Void>

    private struct State {
        var current: Version?
        var lastAttempt: Attempt?
        var fingerprint: [String] = []
        var listeners: [UUID: AsyncStream<Change>.Continuation] = [:]
    }

    /// - Parameters:
    ///   - audit: the store whose audit log records every load attempt (accepted or refused, and why).
    ///   - clock: milliseconds since 1970; tests pass their own.
    public init(directory: String, logger: Logger, audit: Store? = nil, clock: @escaping @Sendable () -> Int64 = PolicyService.systemClock) {
        self.directory = directory
        self.logger = logger
        self.audit = audit
        self.clock = clock
        (reloadStream, reloadRequests) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        reloadNow()
    }

    public static let systemClock: @Sendable () -> Int64 = {
        Int64((Date().timeIntervalSince1970 * 1000).rounded(.down))
    }

    /// The policy in force, if one ever loaded.
    public var current: Version? { state.withLock { $0.current } }

    /// The last load attempt, accepted or not.
    public var lastAttempt: Attempt? { state.withLock { $0.lastAttempt } }

    /// What a user may reach now under the policy in force (nothing without one).
    public func access(for subject: PolicySubject) -> AccessSet {
        current?.policy.access(for: subject, at: clock()) ?? .empty
    }

    /// A stream of changes, for as long as the caller keeps iterating it.
    public func changes() -> AsyncStream<Change> {
        let (stream, continuation) = AsyncStream.makeStream(of: Change.self, bufferingPolicy: .bufferingNewest(16))
        let id = UUID()
        state.withLock { $0.listeners[id] = continuation }
        continuation.onTermination = { [weak self] _ in
            _ = self?.state.withLock { $0.listeners.removeValue(forKey: id) }
        }
        return stream
    }

    /// Asks for a reload (what SIGHUP does); it happens on the service's task.
    public func requestReload() {
        reloadRequests.yield()
    }

    /// Loads the folder now: compile, run the tests, and switch only if both pass.
    @discardableResult
    public func reloadNow() -> Attempt {
        let now = clock()
        let fingerprint = Self.fingerprint(directory)
        let result = PolicyLoader.load(directory: directory)
        let hash = Self.hash(result.policy?.files ?? Self.readFiles(directory))
        var attempt = Attempt(at: now, hash: hash, accepted: false, errors: result.errors, warnings: result.warnings, testFailures: [])
        var compiled: CompiledPolicy?
        if let policy = result.policy {
            let candidate = CompiledPolicy(policy)
            let failures = PolicyTestRunner.run(candidate, at: now).filter { !$0.passed }
            attempt = Attempt(at: now, hash: hash, accepted: failures.isEmpty, errors: [], warnings: result.warnings, testFailures: failures)
            if failures.isEmpty { compiled = candidate }
        }
        let (version, unchanged) = state.withLock { state -> (Int?, Bool) in
            state.fingerprint = fingerprint
            state.lastAttempt = attempt
            guard let compiled else { return (nil, false) }
            if let current = state.current, current.hash == hash { return (current.number, true) }
            let number = (state.current?.number ?? 0) + 1
            state.current = Version(number: number, hash: hash, loadedAt: now, policy: compiled)
            return (number, false)
        }
        if !unchanged { record(attempt, version: version, rules: compiled?.rules.count ?? 0) }
        if let version {
            if !unchanged {
                logger.info("policy loaded", metadata: ["version": "\(version)", "hash": "\(hash)", "rules": "\(compiled?.rules.count ?? 0)"])
                notify(.reloaded(version: version))
            }
        } else {
            let reasons = attempt.errors.map(\.description) + attempt.testFailures.flatMap { outcome in
                outcome.failures.map { "test '\(outcome.test.name)': \($0)" }
            }
            logger.error(
                "policy refused; the previous version stays in force",
                metadata: ["hash": "\(hash)", "problems": "\(reasons.count)", "first": "\(reasons.first ?? "")"])
            for reason in reasons { logger.error("policy problem", metadata: ["detail": "\(reason)"]) }
        }
        return attempt
    }

    /// The audit record of a load attempt.
    private func record(_ attempt: Attempt, version: Int?, rules: Int) {
        guard let audit else { return }
        var details: JSONObject = ["hash": .string(attempt.hash), "accepted": .bool(attempt.accepted), "directory": .string(directory)]
        if let version {
            details["version"] = .integer(version)
            details["rules"] = .integer(rules)
        } else {
            let reasons = attempt.errors.map(\.description) + attempt.testFailures.flatMap { outcome in
                outcome.failures.map { "test '\(outcome.test.name)': \($0)" }
            }
            details["reasons"] = .array(reasons.prefix(50).map(JSON.string))
        }
        do {
            try AuditContext.$actor.withValue("policy") {
                try audit.recordAuditNow(AuditEntry(action: attempt.accepted ? "policy.reload" : "policy.refused", target: "policy", details: details))
            }
        } catch {
            logger.error("cannot record the policy load in the audit log", metadata: ["error": "\(error)"])
        }
    }

    /// Watches the folder, serves reload requests, and announces expiries, until graceful shutdown
    /// (or cancellation).
    public func run() async throws {
        // Compiling a large policy takes a while: off the HTTP server's event loops.
        await withTaskExecutorPreference(BackgroundExecutor.shared) { await runLoops() }
    }

    private func runLoops() async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { [self] in
                for await _ in reloadStream { reloadNow() }
            }
            group.addTask { [self] in
                try? await watchFolder()
            }
            group.addTask { [self] in
                try? await announceExpiries()
            }
            try? await gracefulShutdown()
            group.cancelAll()
        }
        // Finished outside the lock: finishing runs onTermination, which takes the lock itself.
        let listeners = state.withLock { state in
            defer { state.listeners.removeAll() }
            return Array(state.listeners.values)
        }
        for listener in listeners { listener.finish() }
    }

    /// Reloads when the files' names, sizes or modification times change, checked every second.
    private func watchFolder() async throws {
        while !Task.isCancelled {
            try await Task.sleep(for: .seconds(1))
            if Self.fingerprint(directory) != state.withLock({ $0.fingerprint }) { reloadNow() }
        }
    }

    /// Sleeps until the next `until` of the policy in force (checking at least every 250 ms, as the
    /// policy may change), then tells the listeners which rules expired.
    private func announceExpiries() async throws {
        var lastCheck = clock()
        while !Task.isCancelled {
            let now = clock()
            let policy = current?.policy
            let expired = policy?.rules.filter { rule in rule.until.map { $0 > lastCheck && $0 <= now } ?? false }.map(\.name) ?? []
            if !expired.isEmpty {
                logger.info("policy rules expired", metadata: ["rules": "\(expired.joined(separator: ", "))"])
                notify(.expired(rules: expired))
            }
            lastCheck = now
            let untilNext = policy?.nextExpiry(after: now).map { $0 - now } ?? 250
            try await Task.sleep(for: .milliseconds(max(1, min(250, untilNext))))
        }
    }

    private func notify(_ change: Change) {
        let listeners = state.withLock { Array($0.listeners.values) }
        for listener in listeners { listener.yield(change) }
    }

    /// Names, sizes and modification times of the policy files: cheap to poll.
    static func fingerprint(_ directory: String) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }.sorted().map { name in
            let attributes = try? FileManager.default.attributesOfItem(atPath: directory + "/" + name)
            let size = (attributes?[.size] as? NSNumber)?.intValue ?? -1
            let modified = (attributes?[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
            return "\(name):\(size):\(modified)"
        }
    }

    /// `sha256:` of the files' names and contents, in name order.
    static func hash(_ files: [(name: String, contents: String)]) -> String {
        var hasher = SHA256()
        for file in files.sorted(by: { $0.name < $1.name }) {
            hasher.update(data: Array(((file.name as NSString).lastPathComponent + "\n").utf8))
            hasher.update(data: Array(file.contents.utf8))
            hasher.update(data: [0])
        }
        return "sha256:" + hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }

    private static func readFiles(_ directory: String) -> [(name: String, contents: String)] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }.compactMap { name in
            (try? String(contentsOfFile: directory + "/" + name, encoding: .utf8)).map { (name, $0) }
        }
    }
}
