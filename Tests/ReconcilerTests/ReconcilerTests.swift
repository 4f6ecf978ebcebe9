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

    static let engineeringClass = Harness.classID("engineers-ssh", "everyone-dns")
    static let financeClass = Harness.classID("finance-erp", "everyone-dns")
    static let bothClass = Harness.classID("engineers-ssh", "finance-erp", "everyone-dns")

    static func make(synchronize: Bool = true) async throws -> Scenario {
        let harness = try Harness(policy: try compilePolicy())
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

@Suite("Reconciler")
struct ReconcilerTests {
    typealias S = Scenario

    @Test("start-up synchronisation puts every device on the gateway and every address in its class")
    func startUp() async throws {
        let scenario = try await Scenario.make()
        let harness = scenario.harness
        let peers = try await harness.wireGuard.peersByKey()
        #expect(
            Set(peers.keys) == [try scenario.key(scenario.aliceDevice), try scenario.key(scenario.bobDevice), try scenario.key(scenario.carolDevice)])
        #expect(
            peers[try scenario.key(scenario.aliceDevice)]?.allowedIPs
                == [scenario.aliceDevice.address4, scenario.aliceDevice.address6].compactMap { $0 })
        #expect(
            try await harness.liveSources() == [
                S.engineeringClass: Harness.listed(scenario.aliceDevice).union(Harness.listed(scenario.carolDevice)),
                S.financeClass: Harness.listed(scenario.bobDevice),
            ])
        #expect(harness.firewall.loads == 1)
        #expect(scenario.reconciler.isReady)
        #expect(scenario.reconciler.metrics.peers == 3)
        #expect(scenario.reconciler.metrics.synchronizations == 1)
        #expect(
            try String(contentsOfFile: harness.temporary.directory + "/nftables.conf", encoding: .utf8).contains("set \(S.engineeringClass)_src4"))
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
        #expect(outcome.revokedSources == 2)
        #expect(outcome.added == 0)
        // Already gone when usersChanged returns.
        #expect(try await scenario.gatewayKeys() == [try scenario.key(scenario.bobDevice), try scenario.key(scenario.carolDevice)])
        #expect(try await harness.liveSources()[S.engineeringClass] == Harness.listed(scenario.carolDevice))
        #expect(try await harness.liveSources()[S.financeClass] == Harness.listed(scenario.bobDevice))
        #expect(harness.wireGuard.applied.last == [.remove(aliceKey)])
        #expect(harness.firewall.loads == 1, "a revocation changes elements, it does not reload the table")
        #expect(scenario.reconciler.isReady)
        #expect(scenario.reconciler.metrics.revocations == 3)
        #expect(try await scenario.pendingKeys().isEmpty)

        try await harness.temporary.setActive(scenario.alice, true)
        let back = await scenario.reconciler.usersChanged([scenario.alice.id])
        #expect(back.applied)
        #expect(back.added == 3)
        #expect(try await scenario.gatewayKeys().contains(aliceKey))
        #expect(
            try await harness.liveSources()[S.engineeringClass] == Harness.listed(scenario.aliceDevice).union(Harness.listed(scenario.carolDevice)))
    }

    @Test("a group change moves the user's addresses to the other class without reloading the table")
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
                S.engineeringClass: Harness.listed(scenario.carolDevice),
                S.financeClass: Harness.listed(scenario.bobDevice).union(Harness.listed(scenario.aliceDevice)),
            ])
        #expect(try await scenario.gatewayKeys().contains(try scenario.key(scenario.aliceDevice)), "the peer stays; only its class changed")
        #expect(harness.firewall.loads == 1)
    }

    @Test("a combination of rules no one had yet reloads the table with the new class")
    func newCombinationReloads() async throws {
        let scenario = try await Scenario.make()
        let harness = scenario.harness
        try await harness.temporary.setMembers(scenario.finance, "Finance", [scenario.bob, scenario.carol])

        let outcome = await scenario.reconciler.usersChanged([scenario.carol.id])
        #expect(outcome.applied)
        #expect(harness.firewall.loads == 2)
        #expect(
            try await harness.liveSources() == [
                S.engineeringClass: Harness.listed(scenario.aliceDevice),
                S.financeClass: Harness.listed(scenario.bobDevice),
                S.bothClass: Harness.listed(scenario.carolDevice),
            ])
        #expect(scenario.reconciler.isReady)
    }

    @Test("a new device and a deleted device reach the gateway through usersChanged")
    func deviceChanges() async throws {
        let scenario = try await Scenario.make()
        let harness = scenario.harness
        let phone = try await harness.store.addDevice(for: scenario.alice, name: "phone", pool: harness.pool)
        let added = await scenario.reconciler.usersChanged([scenario.alice.id])
        #expect(added.added == 3)  // one peer, two addresses
        #expect(try await scenario.gatewayKeys().contains(try scenario.key(phone)))
        #expect(try await harness.liveSources()[S.engineeringClass]?.isSuperset(of: Harness.listed(phone)) == true)

        try await harness.store.deleteDevice(id: scenario.aliceDevice.id)
        let removed = await scenario.reconciler.usersChanged([scenario.alice.id])
        #expect(removed.revokedPeers == 1)
        #expect(!(try await scenario.gatewayKeys().contains(try scenario.key(scenario.aliceDevice))))
        #expect(try await harness.liveSources()[S.engineeringClass]?.isDisjoint(with: Harness.listed(scenario.aliceDevice)) == true)
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
        #expect(try await harness.liveSources()[S.engineeringClass] == Harness.listed(scenario.carolDevice))
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
        #expect(try await harness.liveSources()[S.engineeringClass] == Harness.listed(scenario.carolDevice))
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
        #expect(try await harness.liveSources()[S.engineeringClass] == Harness.listed(scenario.carolDevice))
    }

    @Test("usersChanged before any synchronisation synchronises everything")
    func firstCallSynchronises() async throws {
        let scenario = try await Scenario.make(synchronize: false)
        let outcome = await scenario.reconciler.usersChanged([scenario.alice.id])
        #expect(outcome.applied)
        #expect(try await scenario.gatewayKeys().count == 3)
        #expect(scenario.harness.firewall.loads == 1)
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
        var tampered = FirewallState(interfaceName: harness.configuration.interfaceName, classes: Array(desired.classes.values))
        tampered.classes[S.financeClass]?.sources.insert(strayAddress)
        try await harness.firewall.inner.apply([.addSource(classID: S.financeClass, address: strayAddress)], resulting: tampered)

        try await scenario.reconciler.synchronize(readingGateway: true, reason: "drift check")
        #expect(
            try await scenario.gatewayKeys() == [
                try scenario.key(scenario.aliceDevice), try scenario.key(scenario.bobDevice), try scenario.key(scenario.carolDevice),
            ])
        #expect(try await harness.liveSources()[S.financeClass] == Harness.listed(scenario.bobDevice))
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
        try await Task.sleep(for: .milliseconds(max(0, expires - nowMilliseconds()) + 100))
        try await scenario.reconciler.synchronize(readingGateway: false, reason: "expiry")
        #expect(!(try await scenario.gatewayKeys().contains(try scenario.key(temporaryDevice))))
        #expect(try await harness.liveSources()[S.financeClass] == Harness.listed(scenario.bobDevice))
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
