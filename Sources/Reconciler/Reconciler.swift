public import Firewall
import Foundation
public import Logging
public import Policy
import SCIM
public import ServiceLifecycle
public import Store
import Synchronization
public import WireGuard

/// Where the reconciler gets the policy in force, and hears that it changed (reload or expiry).
public protocol PolicyProvider: Sendable {
    var compiledPolicy: CompiledPolicy? { get }
    func policyChanges() -> AsyncStream<Void>
}

/// Keeps the gateway equal to the desired state.
///
/// - Instant path: `usersChanged(_:)`, called by a SCIM write after it commits; it removes revoked
///   peers and firewall elements before returning, so the identity provider's answer comes after the
///   access is gone. If the gateway cannot be changed, the revocation is kept in a durable queue,
///   retried every second, and the reconciler reports not ready.
/// - Full synchronisation at start-up, on policy change or expiry, when another process changed the
///   database, and periodically against the live gateway (drift repair, each repair logged and counted).
///   Bulk adds go in chunks, and a revocation never waits behind more than one chunk.
public final class Reconciler: Service, Sendable {
    /// Counters for `/metrics` and logs.
    public struct Metrics: Sendable {
        public var revocations = 0
        public var revocationFailures = 0
        public var driftRepairs = 0
        public var synchronizations = 0
        /// Failures of background work (start-up, policy changes, database watch, retries, watchdog,
        /// drift checks, key expiry); each also makes the reconciler not ready until a later success.
        public var backgroundFailures = 0
        /// Peers applied to the gateway.
        public var peers = 0
        public var pendingRevocations = 0
        public var lastSynchronizationMilliseconds = 0.0
    }

    /// What an instant-path call did.
    public struct Outcome: Sendable {
        public var revokedPeers = 0
        public var revokedSources = 0
        public var added = 0
        /// False when something could not be applied (and was queued).
        public var applied = true
    }

    /// Peers per WireGuard call when adding many.
    public static let chunkSize = 256

    public let configuration: GatewayConfiguration
    private let store: Store
    private let policies: any PolicyProvider
    private let wireGuard: any WireGuardControl
    private let firewall: any FirewallControl
    private let logger: Logger
    private let lock = AsyncLock()
    private let state = Mutex<State>(State())

    private struct State {
        var appliedPeers = AppliedPeers()
        var appliedFirewall: FirewallState?
        var loadedStructure: String?
        /// Increases with every instant-path change, so a bulk add can skip users changed since it planned.
        var epoch = 0
        var userEpochs: [String: Int] = [:]
        var healthy = false
        var pending = 0
        var metrics = Metrics()
        /// The access history's open memberships, by user; nil until read from the store.
        var recordedAccess: [String: Set<AccessMembership>]?
    }

    public init(
        configuration: GatewayConfiguration, store: Store, policies: any PolicyProvider, wireGuard: any WireGuardControl,
        firewall: any FirewallControl, logger: Logger
    ) {
        self.configuration = configuration
        self.store = store
        self.policies = policies
        self.wireGuard = wireGuard
        self.firewall = firewall
        self.logger = logger
    }

    /// Whether the gateway is in the desired state as far as the reconciler knows: the last change
    /// applied and no revocation waiting.
    public var isReady: Bool { state.withLock { $0.healthy && $0.pending == 0 } }

    public var metrics: Metrics {
        state.withLock { state in
            var metrics = state.metrics
            metrics.peers = state.appliedPeers.count
            return metrics
        }
    }

    // MARK: Instant path

    /// Applies the desired state of these users now; revocations first. Never throws: what cannot be
    /// applied is queued durably and retried.
    @discardableResult
    public func usersChanged(_ userIDs: Set<String>) async -> Outcome {
        guard !userIDs.isEmpty else { return Outcome() }
        return await lock.withLock {
            await applyUsers(userIDs)
        }
    }

    private func applyUsers(_ userIDs: Set<String>) async -> Outcome {
        var outcome = Outcome()
        // Before any read: a synchronisation that read before this point does not apply what it read.
        state.withLock { state in
            state.epoch += 1
            for id in userIDs { state.userEpochs[id] = state.epoch }
        }
        do {
            let devices = try await store.devices(ofUsers: userIDs)
            // Most identity changes concern users without a device on the gateway: nothing to do.
            let hasApplied = state.withLock { state in state.appliedPeers.containsPeers(ofAny: userIDs) }
            if devices.isEmpty, !hasApplied, state.withLock({ $0.appliedFirewall != nil }) {
                return outcome
            }
            let entries = try await store.directory(userIDs: userIDs)
            let desired = DesiredState.compute(entries: entries, devices: devices, policy: policies.compiledPolicy, at: Self.now())
            let (appliedPeers, appliedFirewall) = state.withLock { state in
                (state.appliedPeers.subset(users: userIDs, keys: desired.peers.keys), state.appliedFirewall)
            }
            guard let appliedFirewall else {
                // Nothing loaded yet (start-up failed): only a full synchronisation can help.
                try await synchronizeLocked(readingGateway: true, reason: "first load")
                return outcome
            }
            let plan = ReconcilePlan.forUsers(userIDs, desired: desired, appliedPeers: appliedPeers, appliedFirewall: appliedFirewall)
            outcome.revokedPeers = plan.peerRemovals.count
            outcome.revokedSources = plan.sourceRemovals.count
            outcome.added = plan.peerUpserts.count + plan.sourceAdditions.count
            outcome.applied = await applyRevocations(plan, userIDs: userIDs)
            guard outcome.applied else { return outcome }
            let revokedAt = Self.now()
            if plan.needsFirewallLoad {
                try await synchronizeLocked(readingGateway: false, reason: "policy changed since the last load")
            } else {
                try await applyAdditions(plan.peerUpserts, plan.sourceAdditions, desired: desired)
                await recordAccess(desired, users: userIDs, plan: plan, closedAt: revokedAt, reason: "instant", drift: false)
            }
            markHealthy()
        } catch {
            outcome.applied = false
            logger.error("could not apply a change to the gateway", metadata: ["users": "\(userIDs.count)", "error": "\(error)"])
            markUnhealthy()
        }
        return outcome
    }

    /// Removes peers and source addresses; on failure queues the users' keys durably.
    private func applyRevocations(_ plan: ReconcilePlan, userIDs: Set<String>) async -> Bool {
        guard plan.hasRevocations else { return true }
        let started = ContinuousClock.now
        do {
            if !plan.peerRemovals.isEmpty {
                try await wireGuard.apply(plan.peerRemovals.map { .remove($0) })
                state.withLock { state in
                    for key in plan.peerRemovals { state.appliedPeers[key] = nil }
                }
            }
            if !plan.sourceRemovals.isEmpty {
                let resulting = state.withLock { state -> FirewallState? in
                    state.appliedFirewall = state.appliedFirewall.map { $0.applying(plan.sourceRemovals) }
                    return state.appliedFirewall
                }
                if let resulting { try await firewall.apply(plan.sourceRemovals, resulting: resulting) }
            }
            let elapsed = ContinuousClock.now - started
            state.withLock { $0.metrics.revocations += plan.peerRemovals.count + plan.sourceRemovals.count }
            logger.info(
                "revoked",
                metadata: [
                    "peers": "\(plan.peerRemovals.count)", "addresses": "\(plan.sourceRemovals.count)",
                    "duration_ms": "\(Self.milliseconds(elapsed))",
                ])
            return true
        } catch {
            let keys = plan.peerRemovals.map(\.base64) + state.withLock { state in
                state.appliedPeers.subset(users: userIDs, keys: []).values.map(\.peer.publicKey.base64)
            }
            logger.error("revocation failed; queued for retry", metadata: ["keys": "\(keys.count)", "error": "\(error)"])
            state.withLock { state in
                state.metrics.revocationFailures += 1
                state.healthy = false
                // What is on the gateway is now unknown: the next synchronisation reads it.
                state.appliedFirewall = nil
            }
            do {
                try await store.enqueueRevocations(publicKeys: Array(Set(keys)), reason: "\(error)")
                try await refreshPendingCount()
            } catch {
                // Not ready already; the retry loop's synchronisation compares with the live gateway anyway.
                logger.critical("could not queue the revocation durably", metadata: ["keys": "\(keys.count)", "error": "\(error)"])
            }
            return false
        }
    }

    private func applyAdditions(_ upserts: [WireGuardPeer], _ additions: [FirewallChange], desired: DesiredState) async throws {
        if !upserts.isEmpty {
            try await wireGuard.apply(upserts.map { .upsert($0) })
            state.withLock { state in
                for peer in upserts {
                    if let owner = desired.peers[peer.publicKey] { state.appliedPeers[peer.publicKey] = owner }
                }
            }
        }
        if !additions.isEmpty {
            let resulting = state.withLock { state -> FirewallState? in
                state.appliedFirewall = state.appliedFirewall.map { $0.applying(additions) }
                return state.appliedFirewall
            }
            if let resulting { try await firewall.apply(additions, resulting: resulting) }
        }
    }

    // MARK: Full synchronisation

    /// Makes the whole gateway match the desired state. With `readingGateway` it compares with what the
    /// gateway really has (drift repair); otherwise with what was last applied.
    ///
    /// The reads (the whole directory, and the live gateway) are most of a synchronisation's time, so
    /// they run without the lock and an instant-path change does not wait behind them (at 100,000 users
    /// they take about a second). The plan is made and applied under the lock, and only if no
    /// instant-path change began since the reads did, since one would have made them stale; otherwise
    /// the reads run again, and the third attempt holds the lock throughout.
    public func synchronize(readingGateway: Bool, reason: String) async throws {
        let started = ContinuousClock.now
        for _ in 0..<2 {
            // Read under the lock: no instant-path change is half-applied at this point.
            let epoch = await lock.withLock { state.withLock { $0.epoch } }
            let snapshot = try await readSnapshot(readingGateway: readingGateway)
            let applied = try await lock.withLock { () async throws -> Bool in
                guard state.withLock({ $0.epoch }) == epoch else { return false }
                try await apply(snapshot, reason: reason, started: started)
                return true
            }
            if applied { return }
        }
        try await lock.withLock {
            try await synchronizeLocked(readingGateway: readingGateway, reason: reason)
        }
    }

    /// What a synchronisation compares: the desired state, and what the live gateway had when read.
    private struct Snapshot: Sendable {
        let desired: DesiredState
        let live: LiveGateway?
    }

    private struct LiveGateway: Sendable {
        let peers: [WireGuardPeer]
        let firewall: FirewallState?
    }

    private func readSnapshot(readingGateway: Bool) async throws -> Snapshot {
        let desired = DesiredState.compute(
            entries: try await store.directory(), devices: try await store.devices(), policy: policies.compiledPolicy, at: Self.now())
        guard readingGateway else { return Snapshot(desired: desired, live: nil) }
        return Snapshot(desired: desired, live: LiveGateway(peers: try await wireGuard.peers(), firewall: try await liveFirewall()))
    }

    private func synchronizeLocked(readingGateway: Bool, reason: String) async throws {
        let started = ContinuousClock.now
        try await apply(try await readSnapshot(readingGateway: readingGateway), reason: reason, started: started)
    }

    /// Plans and applies a synchronisation, holding the lock.
    private func apply(_ snapshot: Snapshot, reason: String, started: ContinuousClock.Instant) async throws {
        let desired = snapshot.desired
        let readingGateway = snapshot.live != nil
        let actualPeers: [WireGuardPeer]
        let actualFirewall: FirewallState?
        if let live = snapshot.live {
            (actualPeers, actualFirewall) = (live.peers, live.firewall)
        } else {
            (actualPeers, actualFirewall) = state.withLock { (Array($0.appliedPeers.values.map(\.peer)), $0.appliedFirewall) }
        }
        let plan = ReconcilePlan.full(desired: desired, actualPeers: actualPeers, actualFirewall: actualFirewall)
        if readingGateway, !plan.isEmpty, state.withLock({ $0.appliedFirewall != nil }) {
            logDrift(plan, actualFirewall: actualFirewall)
        }
        let snapshotEpoch = state.withLock { $0.epoch }
        if !plan.peerRemovals.isEmpty {
            try await wireGuard.apply(plan.peerRemovals.map { .remove($0) })
        }
        let firewallState = FirewallState(interfaceName: configuration.interfaceName, rules: Array(desired.rules.values))
        if plan.needsFirewallLoad {
            try await firewall.load(firewallState)
            let structure = try await firewall.liveStructure()
            state.withLock { $0.loadedStructure = structure }
        } else if !(plan.sourceRemovals + plan.sourceAdditions).isEmpty {
            try await firewall.apply(plan.sourceRemovals + plan.sourceAdditions, resulting: firewallState)
        }
        state.withLock { state in
            state.appliedFirewall = firewallState
            for key in plan.peerRemovals { state.appliedPeers[key] = nil }
            // Peers the gateway already has as desired count as applied.
            let upserting = Set(plan.peerUpserts.map(\.publicKey))
            for (key, peer) in desired.peers where !upserting.contains(key) { state.appliedPeers[key] = peer }
        }
        try await addInChunks(plan.peerUpserts, desired: desired, snapshotEpoch: snapshotEpoch)
        let isDrift = readingGateway && !plan.isEmpty && state.withLock { $0.metrics.synchronizations > 0 }
        await recordAccess(desired, users: nil, plan: plan, closedAt: Self.now(), reason: reason, drift: isDrift)
        let elapsed = Self.milliseconds(ContinuousClock.now - started)
        state.withLock { state in
            state.metrics.synchronizations += 1
            state.metrics.lastSynchronizationMilliseconds = elapsed
        }
        if readingGateway {
            // The live gateway now equals the desired state: nothing queued is still to revoke.
            let pending = try await store.pendingRevocations()
            try await store.clearRevocations(publicKeys: pending.map(\.publicKey))
            try await refreshPendingCount()
        }
        logger.info(
            "synchronized gateway",
            metadata: [
                "reason": "\(reason)", "peers": "\(desired.peers.count)", "rules": "\(desired.rules.count)",
                "removed": "\(plan.peerRemovals.count)", "added": "\(plan.peerUpserts.count)",
                "firewall_reloaded": "\(plan.needsFirewallLoad)", "duration_ms": "\(elapsed)",
            ])
        markHealthy()
    }

    // MARK: Access history

    /// Records in the access history which memberships the change ended and started (of `users`, or
    /// of everyone), with an audit record of what was applied. A failure to record is logged and the
    /// next change records the difference again: the gateway change itself stands.
    private func recordAccess(
        _ desired: DesiredState, users: Set<String>?, plan: ReconcilePlan, closedAt: Int64, reason: String, drift: Bool
    ) async {
        let versions = AccessLedger.ruleVersions(desired)
        let current = AccessLedger.memberships(desired, versions: versions)
        var recorded: [String: Set<AccessMembership>]
        if let cached = state.withLock({ $0.recordedAccess }) {
            recorded = cached
        } else {
            do {
                recorded = Dictionary(grouping: try await store.openAccessMemberships(), by: \.userID).mapValues(Set.init)
            } catch {
                logger.error("cannot read the access history", metadata: ["error": "\(error)"])
                return
            }
        }
        var opened: [AccessMembership] = []
        var closed: [AccessMembership] = []
        let affected = users ?? Set(recorded.keys).union(current.keys)
        for user in affected {
            let now = current[user] ?? []
            let before = recorded[user] ?? []
            closed += before.subtracting(now)
            opened += now.subtracting(before)
        }
        let audit = plan.isEmpty ? nil : Self.auditEntry(plan, reason: reason, drift: drift, interface: configuration.interfaceName)
        guard !opened.isEmpty || !closed.isEmpty || audit != nil else { return }
        do {
            try await AuditContext.$actor.withValue("reconciler") {
                try await store.recordGatewayChange(
                    rules: Array(versions.values), opened: opened, closed: closed, closedAt: closedAt, openedAt: Self.now(), audit: audit)
            }
            for user in affected { recorded[user] = current[user] }
            state.withLock { $0.recordedAccess = recorded }
        } catch {
            logger.error("cannot record the access history", metadata: ["error": "\(error)"])
            state.withLock { $0.recordedAccess = nil }
        }
    }

    /// The audit record of a gateway change: counts, and the keys when there are few.
    static func auditEntry(_ plan: ReconcilePlan, reason: String, drift: Bool, interface: String) -> AuditEntry {
        var details: JSONObject = [
            "reason": .string(reason),
            "drift": .bool(drift),
            "peersAdded": .integer(plan.peerUpserts.count),
            "peersRemoved": .integer(plan.peerRemovals.count),
            "sourcesAdded": .integer(plan.sourceAdditions.count),
            "sourcesRemoved": .integer(plan.sourceRemovals.count),
            "firewallReloaded": .bool(plan.needsFirewallLoad),
        ]
        if plan.peerUpserts.count <= 50 { details["addedKeys"] = .array(plan.peerUpserts.map { .string($0.publicKey.base64) }) }
        if plan.peerRemovals.count <= 50 { details["removedKeys"] = .array(plan.peerRemovals.map { .string($0.base64) }) }
        return AuditEntry(action: "gateway.apply", target: "gateway/" + interface, details: details)
    }

    /// Adds peers a chunk at a time, skipping users the instant path changed since the plan was made.
    private func addInChunks(_ upserts: [WireGuardPeer], desired: DesiredState, snapshotEpoch: Int) async throws {
        var remaining = upserts[...]
        while !remaining.isEmpty {
            let chunk = Array(remaining.prefix(Self.chunkSize))
            remaining = remaining.dropFirst(chunk.count)
            let current = state.withLock { state in
                chunk.filter { peer in
                    guard let owner = desired.peers[peer.publicKey] else { return false }
                    return (state.userEpochs[owner.userID] ?? 0) <= snapshotEpoch
                }
            }
            if !current.isEmpty {
                try await wireGuard.apply(current.map { .upsert($0) })
                state.withLock { state in
                    for peer in current { state.appliedPeers[peer.publicKey] = desired.peers[peer.publicKey] }
                }
            }
            if !remaining.isEmpty {
                // Let a waiting revocation go first.
                await lock.unlock()
                await Task.yield()
                await lock.lock()
            }
        }
    }

    /// The live firewall as a `FirewallState` of the applied rules with their live sources; nil if the
    /// table is missing or its structure was changed behind Portcullis's back.
    private func liveFirewall() async throws -> FirewallState? {
        let (applied, loaded) = state.withLock { ($0.appliedFirewall, $0.loadedStructure) }
        guard let applied, let loaded, try await firewall.liveStructure() == loaded, let sources = try await firewall.liveSources() else {
            return nil
        }
        var live = applied
        for id in live.rules.keys {
            live.rules[id]?.sources = Set((sources[id] ?? []).compactMap { try? IPPrefix.parse($0) })
        }
        return live
    }

    private func logDrift(_ plan: ReconcilePlan, actualFirewall: FirewallState?) {
        state.withLock { $0.metrics.driftRepairs += 1 }
        for key in plan.peerRemovals {
            logger.warning("drift repaired: removed a peer the gateway should not have", metadata: ["public_key": "\(key.base64)"])
        }
        for peer in plan.peerUpserts {
            logger.warning("drift repaired: added or corrected a peer", metadata: ["public_key": "\(peer.publicKey.base64)"])
        }
        if plan.needsFirewallLoad {
            logger.warning("drift repaired: reloaded the nftables table", metadata: ["was_present": "\(actualFirewall != nil)"])
        }
        for change in plan.sourceRemovals + plan.sourceAdditions {
            logger.warning("drift repaired: restored a firewall set element", metadata: ["change": "\(change)"])
        }
    }

    // MARK: Service

    /// Start-up synchronisation, then: policy changes, database changes by other processes, the
    /// retry of queued revocations, and periodic drift repair, until shutdown. All of it off the
    /// HTTP server's event loops (``BackgroundExecutor``).
    public func run() async throws {
        await withTaskExecutorPreference(BackgroundExecutor.shared) {
            await runLoops()
        }
    }

    private func runLoops() async {
        await synchronizeInBackground(readingGateway: true, reason: "start-up")
        await backgroundStep("reading the revocation queue") { try await refreshPendingCount() }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { [self] in
                for await _ in policies.policyChanges() {
                    await synchronizeInBackground(readingGateway: false, reason: "policy change")
                }
            }
            group.addTask { [self] in await watchDatabase() }
            group.addTask { [self] in await retryLoop() }
            group.addTask { [self] in await driftLoop() }
            group.addTask { [self] in await firewallWatchdog() }
            group.addTask { [self] in await revokeExpiredKeys() }
            try? await gracefulShutdown()
            group.cancelAll()
        }
    }

    /// Called when a crashed `wireguard-go` came back empty: put every peer back.
    public func restorePeers() async {
        await synchronizeInBackground(readingGateway: true, reason: "wireguard-go restarted")
    }

    private func watchDatabase() async {
        var last: Int?
        while !Task.isCancelled {
            let changed = await backgroundStep("watching the database for changes by other processes") { () -> Bool in
                let counter = try store.externalChangeCounter()
                defer { last = counter }
                return last.map { $0 != counter } ?? false
            }
            if changed == true {
                await synchronizeInBackground(readingGateway: false, reason: "database changed by another process")
            }
            try? await Task.sleep(for: .milliseconds(500))
        }
    }

    private func retryLoop() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(1))
            guard await backgroundStep("reading the revocation queue", { try await refreshPendingCount() }) != nil, !isReady else { continue }
            let pending = state.withLock { $0.pending }
            if await synchronizeInBackground(readingGateway: true, reason: "retrying queued revocations"), pending > 0 {
                logger.info("queued revocations applied", metadata: ["count": "\(pending)"])
            }
        }
    }

    /// Every second, revokes the devices whose key lifetime ended since the last check.
    private func revokeExpiredKeys() async {
        var lastCheck = Self.now()
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(1))
            let now = Self.now()
            let checked = lastCheck
            guard let users = await backgroundStep("reading expired device keys", { try await store.usersWithDevicesExpiring(after: checked, upTo: now) })
            else { continue }
            lastCheck = now
            if !users.isEmpty {
                logger.info("device keys expired; revoking them", metadata: ["users": "\(users.count)"])
                await usersChanged(users)
            }
        }
    }

    /// Every second, checks that the nftables table is as it was loaded (a flushed ruleset or a
    /// firewall restart removes it, and tunnel traffic would go unfiltered); restores it at once.
    private func firewallWatchdog() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(1))
            guard let loaded = state.withLock({ $0.loadedStructure }) else { continue }
            let live = await backgroundStep("reading the nftables table") { try await firewall.liveStructure() }
            // nil: the read failed; .some(nil): the table is gone.
            guard case .some(.some(let current)) = live, current == loaded else {
                logger.warning("the nftables table was changed or removed; restoring it")
                await synchronizeInBackground(readingGateway: true, reason: "firewall table changed")
                continue
            }
        }
    }

    private func driftLoop() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(configuration.driftInterval))
            guard !Task.isCancelled else { return }
            await synchronizeInBackground(readingGateway: true, reason: "drift check")
        }
    }

    // MARK: Background failures

    /// A synchronisation started by background work (not by a request, which gets its own answer).
    /// - Returns: whether it succeeded.
    @discardableResult
    private func synchronizeInBackground(readingGateway: Bool, reason: String) async -> Bool {
        await backgroundStep("synchronizing the gateway (\(reason))") {
            try await synchronize(readingGateway: readingGateway, reason: reason)
        } != nil
    }

    /// The one path every background loop's work goes through: a failure is logged with what was
    /// being done, counted in ``Metrics/backgroundFailures``, and makes the reconciler not ready
    /// (`/readyz` fails) until a synchronisation succeeds again; the retry loop tries every second.
    /// - Returns: the work's result, or nil when it failed.
    private func backgroundStep<Result>(_ work: String, _ body: () async throws -> Result) async -> Result? {
        do {
            return try await body()
        } catch {
            logger.error("background work failed; the gateway may differ from the desired state", metadata: ["work": "\(work)", "error": "\(error)"])
            state.withLock { state in
                state.metrics.backgroundFailures += 1
                state.healthy = false
            }
            return nil
        }
    }

    // MARK: Helpers

    private func refreshPendingCount() async throws {
        let count = try await store.pendingRevocations().count
        state.withLock { state in
            state.pending = count
            state.metrics.pendingRevocations = count
        }
    }

    private func markHealthy() {
        state.withLock { $0.healthy = true }
    }

    private func markUnhealthy() {
        state.withLock { $0.healthy = false }
    }

    /// Milliseconds since 1970, rounded down (never early for an expiry).
    public static func now() -> Int64 {
        Int64((Date().timeIntervalSince1970 * 1000).rounded(.down))
    }

    static func milliseconds(_ duration: Duration) -> Double {
        let components = duration.components
        return ((Double(components.seconds) * 1000 + Double(components.attoseconds) / 1e15) * 100).rounded() / 100
    }
}
