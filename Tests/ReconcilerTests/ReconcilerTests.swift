import Firewall
import Foundation
import Policy
import SCIM
import Store
import Testing

@testable import Reconciler
@testable import WireGuard

/// Alice and Carol in Engineering, Bob in Finance, one device each, synchronised once.
struct Scenario {
    let harness: Harness
    let alice: Resource
    let bob: Resource
    let carol: Resource
    let engineering: Resource
    let finance: Resource
    let aliceDevice: Device
    let bobDevice: Device
    let carolDevice: Device

    /// The firewall rules of the standard policy.
    static let engineersSSH = Harness.ruleID("engineers-ssh")
    static let financeERP = Harness.ruleID("finance-erp")
    static let everyoneDNS = Harness.ruleID("everyone-dns")

    static func make(policy: CompiledPolicy? = nil, synchronize: Bool = true) async throws -> Scenario {
        let harness = try Harness(policy: try policy ?? compilePolicy())
        let temporary = harness.temporary
        let alice = try await temporary.createUser(userName: "alice")
        let bob = try await temporary.createUser(userName: "bob")
        let carol = try await temporary.createUser(userName: "carol")
        let engineering = try await temporary.createGroup("Engineering", members: [alice, carol])
        let finance = try await temporary.createGroup("Finance", members: [bob])
        let scenario = Scenario(
            harness: harness, alice: alice, bob: bob, carol: carol, engineering: engineering, finance: finance,
            aliceDevice: try await harness.store.addDevice(for: alice, pool: harness.pool),
            bobDevice: try await harness.store.addDevice(for: bob, pool: harness.pool),
            carolDevice: try await harness.store.addDevice(for: carol, pool: harness.pool))
        if synchronize {
            try await harness.reconciler.synchronize(readingGateway: true, reason: "test start-up")
        }
        return scenario
    }

    var reconciler: Reconciler { harness.reconciler }

    func key(_ device: Device) throws -> WireGuardKey {
        try #require(device.wireGuardKey)
    }

    /// The public keys on the (dry-run) WireGuard interface.
    func gatewayKeys() async throws -> Set<WireGuardKey> {
        Set(try await harness.wireGuard.peersByKey().keys)
    }

    func pendingKeys() async throws -> Set<String> {
        Set(try await harness.store.pendingRevocations().map(\.publicKey))
    }

    /// These devices' addresses as nftables lists them.
    static func listed(_ devices: Device...) -> Set<String> {
        devices.reduce(into: Set<String>()) { $0.formUnion(Harness.listed($1)) }
    }

    /// The live sources right after start-up: every rule with the addresses of its users.
    var initialSources: [String: Set<String>] {
        [
            Self.engineersSSH: Self.listed(aliceDevice, carolDevice),
            Self.financeERP: Self.listed(bobDevice),
            Self.everyoneDNS: Self.listed(aliceDevice, bobDevice, carolDevice),
        ]
    }

    /// The element changes that put (or take) a device's addresses in (out of) a rule's sets.
    static func changes(_ device: Device, _ ruleID: String, adding: Bool) throws -> [FirewallChange] {
        try device.prefixes().map { adding ? .addSource(ruleID: ruleID, address: $0) : .removeSource(ruleID: ruleID, address: $0) }
    }
}

/// Polls `condition` until it holds or `timeout` passes.
func eventually(timeout: Duration = .seconds(10), _ condition: () async throws -> Bool) async throws -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try await Task.sleep(for: .milliseconds(50))
    }
    return try await condition()
}

/// The standard policy after a change: a new rule for Engineering, and a deny for Engineering.
let changedPolicyText =
    standardPolicyText + """

      - name: engineers-db
        groups: [Engineering]
        allow:
          - { to: 10.30.0.0/24, ports: [tcp/5432] }
      - name: no-bastions
        groups: [Engineering]
        deny:
          - { to: 10.20.99.0/24, ports: [tcp/22] }
    """

/// The standard policy with a new rule for Finance only.
let financeChangedPolicyText =
    standardPolicyText + """

      - name: finance-reports
        groups: [Finance]
        allow:
          - { to: 10.61.0.0/24, ports: [tcp/443] }
    """

/// The standard policy with two denies of the bastions, one for Contractors and one for Interns.
let bastionDeniesPolicyText =
    standardPolicyText + """

      - name: no-bastions-for-contractors
        groups: [Contractors]
        deny:
          - { to: 10.20.99.0/24, ports: [tcp/22] }
      - name: no-bastions-for-interns
        groups: [Interns]
        deny:
          - { to: 10.20.99.0/24, ports: [tcp/22] }
    """

@Suite("Reconciler")
struct ReconcilerTests {
    typealias S = Scenario

    @Test("start-up synchronisation puts every device on the gateway and every address in the sets of all its user's rules")
    func startUp() async throws {
        let scenario = try await Scenario.make()
        let harness = scenario.harness
        let peers = try await harness.wireGuard.peersByKey()
        #expect(
            Set(peers.keys) == [try scenario.key(scenario.aliceDevice), try scenario.key(scenario.bobDevice), try scenario.key(scenario.carolDevice)])
        #expect(
            peers[try scenario.key(scenario.aliceDevice)]?.allowedIPs
                == [scenario.aliceDevice.address4, scenario.aliceDevice.address6].compactMap { $0 })
        #expect(try await harness.liveSources() == scenario.initialSources)
        #expect(harness.firewall.loads == 1)
        #expect(scenario.reconciler.isReady)
        #expect(scenario.reconciler.metrics.peers == 3)
        #expect(scenario.reconciler.metrics.synchronizations == 1)
        let ruleset = try harness.ruleset()
        for id in [S.engineersSSH, S.financeERP, S.everyoneDNS] {
            #expect(ruleset.contains("    set \(id)_src4 {\n"))
            #expect(ruleset.contains("    set \(id)_src6 {\n"))
        }
    }

    @Test("usersChanged removes a deactivated user's peer and addresses before it returns, and restores them on reactivation")
    func deactivation() async throws {
        let scenario = try await Scenario.make()
        let harness = scenario.harness
        let aliceKey = try scenario.key(scenario.aliceDevice)
        try await harness.temporary.setActive(scenario.alice, false)

        let outcome = await scenario.reconciler.usersChanged([scenario.alice.id])
        #expect(outcome.applied)
        #expect(outcome.revokedPeers == 1)
        #expect(outcome.revokedSources == 4, "two addresses out of two rules' sets")
        #expect(outcome.added == 0)
        // Already gone when usersChanged returns.
        #expect(try await scenario.gatewayKeys() == [try scenario.key(scenario.bobDevice), try scenario.key(scenario.carolDevice)])
        #expect(
            try await harness.liveSources() == [
                S.engineersSSH: S.listed(scenario.carolDevice),
                S.financeERP: S.listed(scenario.bobDevice),
                S.everyoneDNS: S.listed(scenario.bobDevice, scenario.carolDevice),
            ])
        #expect(harness.wireGuard.applied.last == [.remove(aliceKey)])
        #expect(harness.firewall.loads == 1, "a revocation changes elements, it does not reload the table")
        #expect(scenario.reconciler.isReady)
        #expect(scenario.reconciler.metrics.revocations == 5)
        #expect(try await scenario.pendingKeys().isEmpty)

        try await harness.temporary.setActive(scenario.alice, true)
        let back = await scenario.reconciler.usersChanged([scenario.alice.id])
        #expect(back.applied)
        #expect(back.added == 5)  // one peer, two addresses in two rules
        #expect(try await scenario.gatewayKeys().contains(aliceKey))
        #expect(try await harness.liveSources() == scenario.initialSources)
        #expect(harness.firewall.loads == 1)
    }

    @Test(
        "a revocation does not wait behind a synchronisation's reads, and the synchronisation does not apply what they read before it",
        .timeLimit(.minutes(1)))
    func revocationDuringSynchronisationReads() async throws {
        let scenario = try await Scenario.make()
        let harness = scenario.harness
        let aliceKey = try scenario.key(scenario.aliceDevice)
        let synchronizations = scenario.reconciler.metrics.synchronizations
        let entered = harness.wireGuard.closeGate()
        let reconciler = scenario.reconciler
        let synchronization = Task { try await reconciler.synchronize(readingGateway: true, reason: "drift check") }
        for await _ in entered { break }
        // The synchronisation has read the directory (Alice still active) and waits on the gateway's peers.
        try await harness.temporary.setActive(scenario.alice, false)
        let outcome = await scenario.reconciler.usersChanged([scenario.alice.id])
        #expect(outcome.applied)
        #expect(outcome.revokedPeers == 1, "revoked while the synchronisation was still reading")
        #expect(!(try await scenario.gatewayKeys().contains(aliceKey)))

        harness.wireGuard.openGate()
        try await synchronization.value
        #expect(!(try await scenario.gatewayKeys().contains(aliceKey)), "the stale read did not put Alice's peer back")
        #expect(try await harness.liveSources()[S.engineersSSH] == S.listed(scenario.carolDevice))
        #expect(scenario.reconciler.metrics.synchronizations == synchronizations + 1, "read again, applied once")
    }

    @Test("a group change moves the user's addresses between rules' sets without reloading the table")
    func groupChangeMovesAddresses() async throws {
        let scenario = try await Scenario.make()
        let harness = scenario.harness
        try await harness.temporary.setMembers(scenario.engineering, "Engineering", [scenario.carol])
        try await harness.temporary.setMembers(scenario.finance, "Finance", [scenario.bob, scenario.alice])

        let outcome = await scenario.reconciler.usersChanged([scenario.alice.id])
        #expect(outcome.applied)
        #expect(outcome.revokedPeers == 0)
        #expect(outcome.revokedSources == 2)
        #expect(outcome.added == 2)
        #expect(
            try await harness.liveSources() == [
                S.engineersSSH: S.listed(scenario.carolDevice),
                S.financeERP: S.listed(scenario.bobDevice, scenario.aliceDevice),
                S.everyoneDNS: S.listed(scenario.aliceDevice, scenario.bobDevice, scenario.carolDevice),
            ], "alice stays in everyone-dns, which both groups get")
        #expect(try await scenario.gatewayKeys().contains(try scenario.key(scenario.aliceDevice)), "the peer stays; only its rules changed")
        #expect(harness.firewall.loads == 1)
        // The revocation first, then the addition: two element batches.
        #expect(
            harness.firewall.batches.suffix(2) == [
                try S.changes(scenario.aliceDevice, S.engineersSSH, adding: false), try S.changes(scenario.aliceDevice, S.financeERP, adding: true),
            ])
    }

    @Test("joining a second group adds the user's addresses to that rule's set too, without reloading the table")
    func secondGroupIsElements() async throws {
        let scenario = try await Scenario.make()
        let harness = scenario.harness
        try await harness.temporary.setMembers(scenario.finance, "Finance", [scenario.bob, scenario.carol])

        let outcome = await scenario.reconciler.usersChanged([scenario.carol.id])
        #expect(outcome.applied)
        #expect(outcome.revokedSources == 0)
        #expect(outcome.added == 2)
        #expect(harness.firewall.loads == 1, "every rule is already in the table: a group change is element changes only")
        #expect(harness.firewall.batches.last == (try S.changes(scenario.carolDevice, S.financeERP, adding: true)))
        #expect(
            try await harness.liveSources() == [
                S.engineersSSH: S.listed(scenario.aliceDevice, scenario.carolDevice),
                S.financeERP: S.listed(scenario.bobDevice, scenario.carolDevice),
                S.everyoneDNS: S.listed(scenario.aliceDevice, scenario.bobDevice, scenario.carolDevice),
            ])
        #expect(scenario.reconciler.isReady)
    }

    @Test("the first member of a rule no one was in is an element change: the rule's sets are already in the table")
    func firstMemberIsElements() async throws {
        let scenario = try await Scenario.make(policy: try compilePolicy(financeChangedPolicyText))
        let harness = scenario.harness
        let reports = Harness.ruleID("finance-reports")
        #expect(try await harness.liveSources()[reports] == S.listed(scenario.bobDevice))
        try await harness.temporary.setMembers(scenario.finance, "Finance", [])
        #expect((await scenario.reconciler.usersChanged([scenario.bob.id])).applied)
        #expect(try await harness.liveSources()[reports] == [], "the rule stays, empty")
        #expect(try harness.ruleset().contains("    set \(reports)_src4 {\n        type ipv4_addr\n    }\n"))

        try await harness.temporary.setMembers(scenario.finance, "Finance", [scenario.alice])
        let outcome = await scenario.reconciler.usersChanged([scenario.alice.id])
        #expect(outcome.applied)
        #expect(outcome.added == 4)  // two addresses in finance-erp and finance-reports
        #expect(try await harness.liveSources()[reports] == S.listed(scenario.aliceDevice))
        #expect(harness.firewall.loads == 1)
    }

    @Test("a policy change reloads the table with the new rules; the group changes after it are elements again")
    func policyChangeReloads() async throws {
        let scenario = try await Scenario.make()
        let harness = scenario.harness
        harness.policies.set(try compilePolicy(changedPolicyText), notify: false)
        try await scenario.reconciler.synchronize(readingGateway: false, reason: "policy change")
        #expect(harness.firewall.loads == 2)
        let database = Harness.ruleID("engineers-db")
        let noBastions = Harness.ruleID("no-bastions", .drop)
        var expected = scenario.initialSources
        expected[database] = S.listed(scenario.aliceDevice, scenario.carolDevice)
        expected[noBastions] = S.listed(scenario.aliceDevice, scenario.carolDevice)
        #expect(try await harness.liveSources() == expected)
        let chain = try Self.chain(try harness.ruleset())
        #expect(chain.first == "ip saddr @\(noBastions)_src4 ip daddr . meta l4proto . th dport @\(noBastions)_ports4 drop")
        #expect(chain.dropFirst().allSatisfy { !$0.hasSuffix(" drop") || $0 == "drop" }, "the deny comes before every accept")
        #expect(chain.last == "drop")

        // Alice moves to Finance: out of three Engineering rules, into finance-erp, all by elements.
        try await harness.temporary.setMembers(scenario.engineering, "Engineering", [scenario.carol])
        try await harness.temporary.setMembers(scenario.finance, "Finance", [scenario.bob, scenario.alice])
        let outcome = await scenario.reconciler.usersChanged([scenario.alice.id])
        #expect(outcome.applied)
        #expect(outcome.revokedSources == 4, "out of engineers-ssh and engineers-db")
        #expect(outcome.added == 4, "into finance-erp, and out of the deny")
        #expect(harness.firewall.loads == 2)
        expected[S.engineersSSH] = S.listed(scenario.carolDevice)
        expected[database] = S.listed(scenario.carolDevice)
        expected[noBastions] = S.listed(scenario.carolDevice)
        expected[S.financeERP] = S.listed(scenario.aliceDevice, scenario.bobDevice)
        #expect(try await harness.liveSources() == expected)
    }

    @Test("a policy change first seen by usersChanged reloads the table, but only for a user in a new or changed rule")
    func policyChangeOnTheInstantPath() async throws {
        let scenario = try await Scenario.make()
        let harness = scenario.harness
        harness.policies.set(try compilePolicy(financeChangedPolicyText), notify: false)
        let reports = Harness.ruleID("finance-reports")

        // Alice's rules did not change: nothing to do, no reload.
        let alice = await scenario.reconciler.usersChanged([scenario.alice.id])
        #expect(alice.applied)
        #expect(alice.added == 0 && alice.revokedSources == 0)
        #expect(harness.firewall.loads == 1)
        #expect(try await harness.liveSources()[reports] == nil)

        // Bob is in a rule the table lacks: the whole table is reloaded from the new policy.
        let bob = await scenario.reconciler.usersChanged([scenario.bob.id])
        #expect(bob.applied)
        #expect(harness.firewall.loads == 2)
        var expected = scenario.initialSources
        expected[reports] = S.listed(scenario.bobDevice)
        #expect(try await harness.liveSources() == expected)
        #expect(scenario.reconciler.isReady)
    }

    @Test("run() reloads the table when the policy provider reports a change", .timeLimit(.minutes(1)))
    func runFollowsPolicyChanges() async throws {
        let scenario = try await Scenario.make(synchronize: false)
        let harness = scenario.harness
        let reconciler = scenario.reconciler
        let runner = Task { try await reconciler.run() }
        let started = try await eventually { reconciler.isReady && harness.firewall.loads == 1 && harness.policies.listenerCount > 0 }
        #expect(started, "the start-up synchronisation did not happen")

        harness.policies.set(try compilePolicy(changedPolicyText))
        let database = Harness.ruleID("engineers-db")
        let reloaded = try await eventually {
            guard harness.firewall.loads == 2 else { return false }
            return try await harness.liveSources()[database] == S.listed(scenario.aliceDevice, scenario.carolDevice)
        }
        runner.cancel()
        _ = try? await runner.value
        #expect(reloaded, "the policy change did not reload the table")
        #expect(try await harness.liveSources()[Harness.ruleID("no-bastions", .drop)] == S.listed(scenario.aliceDevice, scenario.carolDevice))
    }

    @Test("a deny rule's set holds the addresses of the users it applies to; joining it is a revocation, without a reload")
    func denyRule() async throws {
        let scenario = try await Scenario.make(policy: try compilePolicy(bastionDeniesPolicyText))
        let harness = scenario.harness
        let contractors = Harness.ruleID("no-bastions-for-contractors", .drop)
        let interns = Harness.ruleID("no-bastions-for-interns", .drop)
        var expected = scenario.initialSources
        expected[contractors] = []
        expected[interns] = []
        #expect(try await harness.liveSources() == expected, "deny rules no one is in are in the table")
        let chain = try Self.chain(try harness.ruleset())
        #expect(chain.prefix(2).allSatisfy { $0.hasSuffix(" drop") && $0.hasPrefix("ip saddr @d") })
        #expect(chain.dropFirst(2).dropLast().allSatisfy { $0.hasSuffix(" accept") })

        // Carol becomes a contractor: her addresses join the deny's set, counted as a revocation.
        let group = try await harness.temporary.createGroup("Contractors", members: [scenario.carol])
        let outcome = await scenario.reconciler.usersChanged([scenario.carol.id])
        #expect(outcome.applied)
        #expect(outcome.revokedSources == 2)
        #expect(outcome.added == 0)
        #expect(harness.firewall.loads == 1)
        expected[contractors] = S.listed(scenario.carolDevice)
        #expect(try await harness.liveSources() == expected)
        #expect(harness.firewall.batches.last == (try S.changes(scenario.carolDevice, contractors, adding: true)))

        // From Contractors to Interns: the new deny applies before the old one is lifted, so Carol
        // never reaches the bastions in between.
        try await harness.temporary.setMembers(group, "Contractors", [])
        _ = try await harness.temporary.createGroup("Interns", members: [scenario.carol])
        let moved = await scenario.reconciler.usersChanged([scenario.carol.id])
        #expect(moved.applied)
        #expect(moved.revokedSources == 2)
        #expect(moved.added == 2)
        #expect(
            harness.firewall.batches.suffix(2) == [
                try S.changes(scenario.carolDevice, interns, adding: true), try S.changes(scenario.carolDevice, contractors, adding: false),
            ])
        expected[contractors] = []
        expected[interns] = S.listed(scenario.carolDevice)
        #expect(try await harness.liveSources() == expected)
        #expect(harness.firewall.loads == 1)
    }

    @Test("a new device and a deleted device reach the gateway through usersChanged")
    func deviceChanges() async throws {
        let scenario = try await Scenario.make()
        let harness = scenario.harness
        let phone = try await harness.store.addDevice(for: scenario.alice, name: "phone", pool: harness.pool)
        let added = await scenario.reconciler.usersChanged([scenario.alice.id])
        #expect(added.added == 5)  // one peer, two addresses in two rules
        #expect(try await scenario.gatewayKeys().contains(try scenario.key(phone)))
        var expected = scenario.initialSources
        expected[S.engineersSSH]?.formUnion(Harness.listed(phone))
        expected[S.everyoneDNS]?.formUnion(Harness.listed(phone))
        #expect(try await harness.liveSources() == expected)

        try await harness.store.deleteDevice(id: scenario.aliceDevice.id)
        let removed = await scenario.reconciler.usersChanged([scenario.alice.id])
        #expect(removed.revokedPeers == 1)
        #expect(removed.revokedSources == 4)
        #expect(!(try await scenario.gatewayKeys().contains(try scenario.key(scenario.aliceDevice))))
        expected[S.engineersSSH]?.subtract(Harness.listed(scenario.aliceDevice))
        expected[S.everyoneDNS]?.subtract(Harness.listed(scenario.aliceDevice))
        #expect(try await harness.liveSources() == expected)
        #expect(harness.firewall.loads == 1)
    }

    @Test("when WireGuard fails, the revocation lands in the durable queue and readiness drops; a later synchronisation applies it")
    func wireGuardFailureQueues() async throws {
        let scenario = try await Scenario.make()
        let harness = scenario.harness
        let aliceKey = try scenario.key(scenario.aliceDevice)
        harness.wireGuard.failing = true
        try await harness.temporary.setActive(scenario.alice, false)

        let outcome = await scenario.reconciler.usersChanged([scenario.alice.id])
        #expect(!outcome.applied)
        #expect(try await scenario.pendingKeys() == [aliceKey.base64])
        #expect(try await harness.store.pendingRevocations().first?.reason.contains("simulated") == true)
        #expect(!scenario.reconciler.isReady)
        #expect(scenario.reconciler.metrics.revocationFailures == 1)
        #expect(scenario.reconciler.metrics.pendingRevocations == 1)
        #expect(try await harness.wireGuard.inner.peers().contains { $0.publicKey == aliceKey }, "the gateway could not be changed")

        // The gateway is back: a synchronisation that reads it applies the revocation.
        harness.wireGuard.failing = false
        try await scenario.reconciler.synchronize(readingGateway: true, reason: "test retry")
        #expect(!(try await scenario.gatewayKeys().contains(aliceKey)))
        #expect(try await harness.liveSources()[S.engineersSSH] == S.listed(scenario.carolDevice))
        #expect(try await harness.liveSources()[S.everyoneDNS] == S.listed(scenario.bobDevice, scenario.carolDevice))
        // The queue is cleared as the retry loop clears it once the synchronisation succeeded.
        try await harness.store.clearRevocations(publicKeys: try await harness.store.pendingRevocations().map(\.publicKey))
        #expect(try await scenario.pendingKeys().isEmpty)
    }

    @Test("when nftables fails, the peer is removed anyway and the key queued; a synchronisation reloads the table", .timeLimit(.minutes(1)))
    func firewallFailureQueues() async throws {
        let scenario = try await Scenario.make()
        let harness = scenario.harness
        let aliceKey = try scenario.key(scenario.aliceDevice)
        harness.firewall.failing = true
        try await harness.temporary.setActive(scenario.alice, false)

        let outcome = await scenario.reconciler.usersChanged([scenario.alice.id])
        #expect(!outcome.applied)
        #expect(!(try await scenario.gatewayKeys().contains(aliceKey)), "WireGuard is changed first")
        #expect(try await scenario.pendingKeys() == [aliceKey.base64])
        #expect(!scenario.reconciler.isReady)

        harness.firewall.failing = false
        try await scenario.reconciler.synchronize(readingGateway: true, reason: "test retry")
        #expect(harness.firewall.loads == 2, "what the table holds is unknown after a failure: it is reloaded")
        #expect(
            try await harness.liveSources() == [
                S.engineersSSH: S.listed(scenario.carolDevice),
                S.financeERP: S.listed(scenario.bobDevice),
                S.everyoneDNS: S.listed(scenario.bobDevice, scenario.carolDevice),
            ])
    }

    @Test("run() keeps queued revocations while the gateway is down, then applies them, clears the queue and is ready again", .timeLimit(.minutes(1)))
    func retryLoop() async throws {
        let scenario = try await Scenario.make()
        let harness = scenario.harness
        let aliceKey = try scenario.key(scenario.aliceDevice)
        harness.wireGuard.failing = true
        try await harness.temporary.setActive(scenario.alice, false)
        #expect(!(await scenario.reconciler.usersChanged([scenario.alice.id])).applied)

        let reconciler = scenario.reconciler
        let runner = Task { try await reconciler.run() }
        // Still down: the revocation stays queued through at least one retry.
        try await Task.sleep(for: .milliseconds(1500))
        #expect(try await scenario.pendingKeys() == [aliceKey.base64])
        #expect(!scenario.reconciler.isReady)

        harness.wireGuard.failing = false
        let recovered = try await eventually {
            guard scenario.reconciler.isReady else { return false }
            return try await scenario.pendingKeys().isEmpty
        }
        runner.cancel()
        _ = try? await runner.value
        #expect(recovered, "the retry loop did not apply the queued revocation")
        #expect(!(try await scenario.gatewayKeys().contains(aliceKey)))
        #expect(scenario.reconciler.metrics.pendingRevocations == 0)
        #expect(try await harness.liveSources()[S.engineersSSH] == S.listed(scenario.carolDevice))
        #expect(try await harness.liveSources()[S.everyoneDNS] == S.listed(scenario.bobDevice, scenario.carolDevice))
    }

    @Test("usersChanged before any synchronisation synchronises everything")
    func firstCallSynchronises() async throws {
        let scenario = try await Scenario.make(synchronize: false)
        let outcome = await scenario.reconciler.usersChanged([scenario.alice.id])
        #expect(outcome.applied)
        #expect(try await scenario.gatewayKeys().count == 3)
        #expect(scenario.harness.firewall.loads == 1)
        #expect(try await scenario.harness.liveSources() == scenario.initialSources)
        #expect(scenario.reconciler.isReady)
    }

    @Test("drift repair removes stray peers, restores missing ones and fixes source elements, element by element")
    func driftRepair() async throws {
        let scenario = try await Scenario.make()
        let harness = scenario.harness
        let stray = WireGuardPeer(publicKey: key(0x55), allowedIPs: ["10.100.0.200/32"])
        try await harness.wireGuard.inner.apply([.upsert(stray), .remove(try scenario.key(scenario.bobDevice))])
        let strayAddress = try prefix("10.100.0.201/32")
        let desired = DesiredState.compute(
            entries: try await harness.store.directory(), devices: try await harness.store.devices(), policy: harness.policy, at: nowMilliseconds())
        var tampered = FirewallState(interfaceName: harness.configuration.interfaceName, rules: Array(desired.rules.values))
        tampered.rules[S.financeERP]?.sources.insert(strayAddress)
        tampered.rules[S.everyoneDNS]?.sources.subtract(try scenario.carolDevice.prefixes())
        try await harness.firewall.inner.apply(
            [.addSource(ruleID: S.financeERP, address: strayAddress)] + (try S.changes(scenario.carolDevice, S.everyoneDNS, adding: false)),
            resulting: tampered)
        #expect(try await harness.liveSources() != scenario.initialSources)

        try await scenario.reconciler.synchronize(readingGateway: true, reason: "drift check")
        #expect(
            try await scenario.gatewayKeys() == [
                try scenario.key(scenario.aliceDevice), try scenario.key(scenario.bobDevice), try scenario.key(scenario.carolDevice),
            ])
        #expect(try await harness.liveSources() == scenario.initialSources)
        #expect(harness.firewall.loads == 1)
        #expect(scenario.reconciler.metrics.driftRepairs == 1)

        try await scenario.reconciler.synchronize(readingGateway: true, reason: "drift check")
        #expect(scenario.reconciler.metrics.driftRepairs == 1, "no drift the second time")
    }

    @Test("a device that expires leaves the gateway at the next synchronisation")
    func expiry() async throws {
        let scenario = try await Scenario.make()
        let harness = scenario.harness
        let expires = nowMilliseconds() + 1500
        let temporaryDevice = try await harness.store.addDevice(for: scenario.bob, name: "temporary", pool: harness.pool, expires: expires)
        await scenario.reconciler.usersChanged([scenario.bob.id])
        #expect(try await scenario.gatewayKeys().contains(try scenario.key(temporaryDevice)))
        #expect(try await harness.liveSources()[S.financeERP] == S.listed(scenario.bobDevice, temporaryDevice))
        try await Task.sleep(for: .milliseconds(max(0, expires - nowMilliseconds()) + 100))
        try await scenario.reconciler.synchronize(readingGateway: false, reason: "expiry")
        #expect(!(try await scenario.gatewayKeys().contains(try scenario.key(temporaryDevice))))
        #expect(try await harness.liveSources() == scenario.initialSources)
    }

    /// The rules of chain `from_tunnel` in a ruleset, in order, without indentation.
    static func chain(_ ruleset: String) throws -> [String] {
        let lines = ruleset.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let start = try #require(lines.firstIndex(of: "    chain from_tunnel {"))
        return lines[(start + 1)...].prefix { $0 != "    }" }.map { $0.trimmingCharacters(in: .whitespaces) }
    }
}

@Suite("Device issuer")
struct DeviceIssuerTests {
    static func issuer(_ harness: Harness, mode: DeviceIssuer.AllowedIPsMode = .resources) -> DeviceIssuer {
        var configuration = harness.configuration
        configuration.endpoint = "vpn.example.com:51820"
        configuration.dns = ["10.0.0.53"]
        var issuer = DeviceIssuer(store: harness.store, configuration: configuration, gatewayPublicKey: key(9))
        issuer.allowedIPsMode = mode
        return issuer
    }

    @Test("a generated key's private half is in the config, once, and matches the stored public key")
    func generatedKey() async throws {
        let harness = try Harness(policy: try compilePolicy())
        let alice = try await harness.temporary.createUser(userName: "alice")
        let (device, config) = try await Self.issuer(harness).issue(
            userID: alice.id, name: "laptop", policy: harness.policy, subject: PolicySubject(userName: "alice"))
        let line = try #require(config.split(separator: "\n").first { $0.hasPrefix("PrivateKey = ") })
        let privateKey = try #require(WireGuardKey(base64: String(line.dropFirst("PrivateKey = ".count))))
        #expect(try WireGuardKeyPair(privateKey: privateKey).publicKey.base64 == device.publicKey)
        #expect(device.addressIndex == 2)
        #expect(device.presharedKey == nil)
        #expect(config.contains("\nAddress = 10.100.0.2/32, fd00:100::2/128\nDNS = 10.0.0.53\n"))
        #expect(config.contains("\nPublicKey = \(key(9).base64)\nEndpoint = vpn.example.com:51820\n"))
        #expect(config.contains("\nAllowedIPs = 10.0.0.53/32, 10.20.0.0/16, 10.60.0.0/24, 2001:db8:20::/48\n"))
        // The config rendered again later cannot contain the private key.
        let later = Self.issuer(harness).config(for: device, privateKey: nil, policy: harness.policy, subject: nil)
        #expect(!later.contains(privateKey.base64))
    }

    @Test("a brought key is stored as given, with a preshared key when asked")
    func broughtKey() async throws {
        let harness = try Harness(policy: try compilePolicy())
        let alice = try await harness.temporary.createUser(userName: "alice")
        let own = WireGuardKeyPair.generate().publicKey
        let (device, config) = try await Self.issuer(harness).issue(
            userID: alice.id, name: "laptop", publicKey: own, withPresharedKey: true, policy: harness.policy, subject: nil)
        #expect(device.publicKey == own.base64)
        #expect(config.contains("# PrivateKey = "))
        let presharedKey = try #require(device.presharedKey)
        #expect(config.contains("\nPresharedKey = \(presharedKey)\n"))
    }

    @Test(
        "AllowedIPs follow the mode",
        arguments: [
            (DeviceIssuer.AllowedIPsMode.resources, "10.0.0.53/32, 10.20.0.0/16, 10.60.0.0/24, 2001:db8:20::/48"),
            (.user, "10.0.0.53/32, 10.20.0.0/16, 2001:db8:20::/48"),
            (.full, "0.0.0.0/0, ::/0"),
        ])
    func allowedIPs(mode: DeviceIssuer.AllowedIPsMode, expected: String) async throws {
        let harness = try Harness(policy: try compilePolicy())
        let alice = try await harness.temporary.createUser(userName: "alice")
        let (_, config) = try await Self.issuer(harness, mode: mode).issue(
            userID: alice.id, name: "laptop", policy: harness.policy, subject: PolicySubject(userName: "alice", groups: ["Engineering"]))
        #expect(config.contains("\nAllowedIPs = \(expected)\n"))
    }
}
