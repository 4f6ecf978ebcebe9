import Firewall
import Foundation
import Logging
import Policy
import SCIM
import Store
import Synchronization
import Testing

@testable import Reconciler
@testable import WireGuard

/// A store in a fresh temporary folder, removed when the test ends (the pattern of StoreTests).
final class TemporaryStore {
    let directory: String
    let store: Store

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("portcullis-reconciler-\(UUID().uuidString)").path
        store = try Store(directory: directory)
    }

    deinit {
        try? FileManager.default.removeItem(atPath: directory)
    }

    func createUser(userName: String, active: Bool = true) async throws -> Resource {
        try await store.create(.user, attributes: ResourceNormalizer(.user).normalize(JSONParser.parse(Self.userJSON(userName, active))))
    }

    /// Replaces the user (SCIM PUT) with the given `active`.
    @discardableResult
    func setActive(_ user: Resource, _ active: Bool) async throws -> Resource {
        let userName = user.attributes["userName"]?.stringValue ?? user.id
        return try await store.replace(
            .user, id: user.id, attributes: ResourceNormalizer(.user).normalize(JSONParser.parse(Self.userJSON(userName, active))))
    }

    func createGroup(_ displayName: String, members: [Resource] = []) async throws -> Resource {
        try await store.create(.group, attributes: ResourceNormalizer(.group).normalize(JSONParser.parse(Self.groupJSON(displayName, members))))
    }

    /// Replaces the group's members (SCIM PUT).
    @discardableResult
    func setMembers(_ group: Resource, _ displayName: String, _ members: [Resource]) async throws -> Resource {
        try await store.replace(
            .group, id: group.id, attributes: ResourceNormalizer(.group).normalize(JSONParser.parse(Self.groupJSON(displayName, members))))
    }

    static func userJSON(_ userName: String, _ active: Bool) -> String {
        #"{"userName": "\#(userName)", "active": \#(active)}"#
    }

    static func groupJSON(_ displayName: String, _ members: [Resource]) -> String {
        let memberList = members.map { #"{"value": "\#($0.id)"}"# }.joined(separator: ",")
        return #"{"displayName": "\#(displayName)", "members": [\#(memberList)]}"#
    }
}

/// Milliseconds since 1970, as the store and the reconciler count.
func nowMilliseconds() -> Int64 {
    Int64((Date().timeIntervalSince1970 * 1000).rounded(.down))
}

func prefix(_ text: String) throws -> IPPrefix {
    try IPPrefix.parse(text)
}

/// A key written byte by byte.
func key(_ byte: UInt8) -> WireGuardKey {
    WireGuardKey(bytes: Array(repeating: byte, count: 32))
}

/// The policy most tests use: Engineering and Finance get different rules, both get DNS.
let standardPolicyText = """
    rules:
      - name: engineers-ssh
        groups: [Engineering]
        allow:
          - { to: 10.20.0.0/16, ports: [tcp/22] }
          - { to: "2001:db8:20::/48", ports: [tcp/22] }
      - name: finance-erp
        groups: [Finance]
        allow:
          - { to: 10.60.0.0/24, ports: [tcp/443] }
      - name: everyone-dns
        groups: [Engineering, Finance]
        allow:
          - { to: 10.0.0.53/32, ports: [udp/53] }
    """

func compilePolicy(_ text: String = standardPolicyText, sourceLocation: Testing.SourceLocation = #_sourceLocation) throws -> CompiledPolicy {
    let result = PolicyLoader.parse(files: [(name: "test.yaml", contents: text)])
    let policy = try #require(
        result.policy, "the policy has errors: \(result.diagnostics.map(\.description).joined(separator: "\n"))", sourceLocation: sourceLocation)
    return CompiledPolicy(policy)
}

/// The pool most tests use: small, with IPv6.
func testPool() throws -> AddressPool {
    try AddressPool.parse("10.100.0.0/24,fd00:100::/64")
}

extension Store {
    /// A device with a fresh key in `pool`.
    func addDevice(
        for user: Resource, name: String = "laptop", pool: AddressPool, expires: Int64? = nil, quarantine: Int64 = 3_600_000,
        presharedKey: WireGuardKey? = nil
    ) async throws -> Device {
        try await createDevice(
            Store.NewDevice(
                userID: user.id, name: name, publicKey: WireGuardKeyPair.generate().publicKey.base64, presharedKey: presharedKey?.base64,
                expires: expires),
            firstIndex: pool.firstDeviceIndex, capacity: pool.capacity, quarantine: quarantine
        ) { index in
            let (address4, address6) = pool.addresses(at: index)
            return (address4.description, address6?.description)
        }
    }
}

extension Device {
    var wireGuardKey: WireGuardKey? { WireGuardKey(base64: publicKey) }

    /// The device's tunnel addresses as prefixes.
    func prefixes() throws -> [IPPrefix] {
        try [address4, address6].compactMap { $0 }.map { try IPPrefix.parse($0) }
    }
}

/// A policy provider whose policy a test replaces, telling every listener, as a reload does.
final class SwitchablePolicy: PolicyProvider {
    private let state: Mutex<(policy: CompiledPolicy?, listeners: [AsyncStream<Void>.Continuation])>

    init(_ policy: CompiledPolicy?) {
        state = Mutex((policy, []))
    }

    var compiledPolicy: CompiledPolicy? { state.withLock { $0.policy } }

    /// Replaces the policy; with `notify`, tells the listeners (the reconciler's `run()`).
    func set(_ policy: CompiledPolicy?, notify: Bool = true) {
        let listeners = state.withLock { state in
            state.policy = policy
            return state.listeners
        }
        if notify {
            for listener in listeners { listener.yield() }
        }
    }

    var listenerCount: Int { state.withLock { $0.listeners.count } }

    func policyChanges() -> AsyncStream<Void> {
        let (stream, continuation) = AsyncStream.makeStream(of: Void.self)
        state.withLock { $0.listeners.append(continuation) }
        return stream
    }
}

/// The dry-run WireGuard control, with a switch that makes every call fail (an unreachable gateway).
final class FlakyWireGuard: WireGuardControl {
    let inner: FileControl
    private let state = Mutex<(failing: Bool, applied: [[WireGuardPeerChange]], gate: Gate?)>((false, [], nil))

    init(path: String) {
        inner = FileControl(interfaceName: "wg0", path: path)
    }

    var interfaceName: String { inner.interfaceName }

    var failing: Bool {
        get { state.withLock { $0.failing } }
        set { state.withLock { $0.failing = newValue } }
    }

    /// Every successful `apply`, in order.
    var applied: [[WireGuardPeerChange]] { state.withLock { $0.applied } }

    func configure(privateKey: WireGuardKey, listenPort: Int) async throws {
        try check()
        try await inner.configure(privateKey: privateKey, listenPort: listenPort)
    }

    func peers() async throws -> [WireGuardPeer] {
        try check()
        if let gate = state.withLock({ $0.gate }) {
            gate.entered.yield()
            for await _ in gate.release { break }
        }
        return try await inner.peers()
    }

    /// Makes the next reads of the peers wait: `entered` yields when one is waiting, and each waits
    /// until `openGate()`.
    func closeGate() -> AsyncStream<Void> {
        let (entered, enteredContinuation) = AsyncStream.makeStream(of: Void.self)
        let (release, releaseContinuation) = AsyncStream.makeStream(of: Void.self)
        state.withLock { $0.gate = Gate(entered: enteredContinuation, release: release, opener: releaseContinuation) }
        return entered
    }

    func openGate() {
        let gate = state.withLock { state in
            defer { state.gate = nil }
            return state.gate
        }
        gate?.opener.finish()
    }

    private struct Gate {
        let entered: AsyncStream<Void>.Continuation
        let release: AsyncStream<Void>
        let opener: AsyncStream<Void>.Continuation
    }

    func apply(_ changes: [WireGuardPeerChange]) async throws {
        try check()
        try await inner.apply(changes)
        state.withLock { $0.applied.append(changes) }
    }

    /// The peers by public key.
    func peersByKey() async throws -> [WireGuardKey: WireGuardPeer] {
        Dictionary(try await inner.peers().map { ($0.publicKey, $0) }, uniquingKeysWith: { first, _ in first })
    }

    private func check() throws {
        if failing { throw WireGuardError("simulated: the WireGuard interface is unreachable") }
    }
}

/// The dry-run firewall, with a switch that makes changes fail, counters of full loads, and the
/// element batches applied, in order.
final class FlakyFirewall: FirewallControl {
    let inner: DryRunFirewall
    private let state = Mutex<(failing: Bool, loads: Int, applies: Int, batches: [[FirewallChange]])>((false, 0, 0, []))

    init(path: String) {
        inner = DryRunFirewall(path: path)
    }

    var failing: Bool {
        get { state.withLock { $0.failing } }
        set { state.withLock { $0.failing = newValue } }
    }

    var loads: Int { state.withLock { $0.loads } }
    var applies: Int { state.withLock { $0.applies } }
    /// Every successful `apply`, in order.
    var batches: [[FirewallChange]] { state.withLock { $0.batches } }

    func load(_ firewallState: FirewallState) async throws {
        try check()
        try await inner.load(firewallState)
        state.withLock { $0.loads += 1 }
    }

    func apply(_ changes: [FirewallChange], resulting firewallState: FirewallState) async throws {
        try check()
        try await inner.apply(changes, resulting: firewallState)
        state.withLock { state in
            state.applies += 1
            state.batches.append(changes)
        }
    }

    func liveSources() async throws -> [String: Set<String>]? {
        try check()
        return try await inner.liveSources()
    }

    func liveStructure() async throws -> String? {
        try check()
        return try await inner.liveStructure()
    }

    private func check() throws {
        if failing { throw FirewallError("simulated: nftables refused the change") }
    }
}

/// A reconciler over a real store, the dry-run controls (with failure switches), and a policy.
final class Harness {
    let temporary: TemporaryStore
    let pool: AddressPool
    let policies: SwitchablePolicy
    let wireGuard: FlakyWireGuard
    let firewall: FlakyFirewall
    let reconciler: Reconciler
    var configuration: GatewayConfiguration

    var store: Store { temporary.store }
    /// The policy in force now.
    var policy: CompiledPolicy? { policies.compiledPolicy }

    init(policy: CompiledPolicy?) throws {
        temporary = try TemporaryStore()
        pool = try testPool()
        policies = SwitchablePolicy(policy)
        configuration = GatewayConfiguration(pool: pool)
        configuration.dryRun = true
        configuration.driftInterval = 3600
        wireGuard = FlakyWireGuard(path: temporary.directory + "/wg0.conf")
        firewall = FlakyFirewall(path: temporary.directory + "/nftables.conf")
        reconciler = Reconciler(
            configuration: configuration, store: temporary.store, policies: policies, wireGuard: wireGuard,
            firewall: firewall, logger: Logger(label: "portcullis.tests.reconciler", factory: { _ in SwiftLogNoOpLogHandler() }))
    }

    /// The source addresses of the live firewall, by rule id.
    func liveSources() async throws -> [String: Set<String>] {
        try #require(try await firewall.inner.liveSources())
    }

    /// The ruleset the (dry-run) firewall holds now.
    func ruleset() throws -> String {
        try String(contentsOfFile: temporary.directory + "/nftables.conf", encoding: .utf8)
    }

    /// The firewall rule id of a policy rule's allow (or deny) part.
    static func ruleID(_ rule: String, _ verdict: FirewallRule.Verdict = .accept) -> String {
        FirewallRule.id(forRule: rule, verdict: verdict)
    }

    /// A device's addresses as nftables lists them.
    static func listed(_ device: Device) -> Set<String> {
        Set([device.address4, device.address6].compactMap { $0 }.map { String($0.split(separator: "/")[0]) })
    }
}

/// What traffic from these tunnel addresses may reach under a firewall's rules, as nftables decides
/// it: per address, what the accept rules whose source sets hold it allow in its family, minus what
/// the drop rules whose source sets hold it deny (drop rules come first in the chain).
func firewallAccess(of addresses: [IPPrefix], in rules: [String: FirewallRule]) -> AccessSet {
    var result = AccessSet.empty
    for address in addresses {
        let holding = rules.values.filter { $0.sources.contains(address) }
        func grants(_ verdict: FirewallRule.Verdict) -> [AccessGrant] {
            holding.filter { $0.verdict == verdict }.flatMap(\.access.grants).filter { $0.prefix.family == address.family }
        }
        result = result.union(AccessSet(grants(.accept)).subtracting(AccessSet(grants(.drop))))
    }
    return result
}

/// Whether everything `access` lets through, `other` lets through too.
func isSubset(_ access: AccessSet, of other: AccessSet) -> Bool {
    access.subtracting(other).isEmpty
}

/// Whether two access sets let the same packets through.
func sameAccess(_ one: AccessSet, _ other: AccessSet) -> Bool {
    isSubset(one, of: other) && isSubset(other, of: one)
}
