import Firewall
import Policy
import Testing

@testable import Reconciler
@testable import WireGuard

/// Plans from hand-made desired and actual states: users `u1`…, devices numbered by pool index.
enum PlanFixtures {
    static let pool = AddressPool(
        v4: IPPrefix(family: .v4, address: 0x0A64_0000, length: 24), v6: IPPrefix(family: .v6, address: 0xFD00_0100 << 96, length: 64))

    /// Access of class X (tcp/22), Y (tcp/443) and Z (udp/53).
    static let accessX = AccessSet([
        AccessGrant(prefix: IPPrefix(family: .v4, address: 0x0A14_0000, length: 16), networkProtocol: .tcp, ports: PortRange(22, 22))
    ])
    static let accessY = AccessSet([
        AccessGrant(prefix: IPPrefix(family: .v4, address: 0x0A3C_0000, length: 24), networkProtocol: .tcp, ports: PortRange(443, 443))
    ])
    static let accessZ = AccessSet([
        AccessGrant(prefix: IPPrefix(family: .v4, address: 0x0A00_0035, length: 32), networkProtocol: .udp, ports: PortRange(53, 53))
    ])

    static func addresses(_ index: Int) -> [IPPrefix] {
        let (v4, v6) = pool.addresses(at: index)
        return [v4] + [v6].compactMap { $0 }
    }

    /// The desired peer of device `index` of `user`, its key derived from the index.
    static func peer(_ user: String, _ index: Int, presharedKey: WireGuardKey? = nil, allowedIPs: [String]? = nil) -> DesiredState.Peer {
        let addresses = addresses(index)
        return DesiredState.Peer(
            peer: WireGuardPeer(publicKey: key(UInt8(index)), presharedKey: presharedKey, allowedIPs: allowedIPs ?? addresses.map(\.description)),
            userID: user, deviceID: "device-\(index)", addresses: addresses)
    }

    /// A desired state: peers, and for each class its access and members' device indices.
    static func desired(_ peers: [DesiredState.Peer], classes: [(String, AccessSet, [String])] = []) -> DesiredState {
        var state = DesiredState()
        for peer in peers { state.peers[peer.peer.publicKey] = peer }
        for (id, access, users) in classes {
            let sources = peers.filter { users.contains($0.userID) }.flatMap(\.addresses)
            state.classes[id] = FirewallClass(id: id, sources: Set(sources), access: access)
            for user in users { state.classOfUser[user] = id }
        }
        return state
    }

    /// A firewall state: per class, its access and the device indices in its source sets.
    static func firewall(_ classes: [(String, AccessSet, [Int])]) -> FirewallState {
        FirewallState(
            interfaceName: "wg0",
            classes: classes.map { id, access, indices in FirewallClass(id: id, sources: Set(indices.flatMap(addresses)), access: access) })
    }

    static func add(_ id: String, _ index: Int) -> Set<FirewallChange> {
        Set(addresses(index).map { .addSource(classID: id, address: $0) })
    }

    static func remove(_ id: String, _ index: Int) -> Set<FirewallChange> {
        Set(addresses(index).map { .removeSource(classID: id, address: $0) })
    }
}

@Suite("Reconcile plan: full")
struct FullPlanTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        let desired: DesiredState
        let actualPeers: [WireGuardPeer]
        let actualFirewall: FirewallState?
        let removals: [WireGuardKey]
        let upserts: [WireGuardPeer]
        let sourceRemovals: Set<FirewallChange>
        let sourceAdditions: Set<FirewallChange>
        let needsLoad: Bool
        var testDescription: String { name }
    }

    typealias F = PlanFixtures

    static let cases: [Case] = {
        let a = F.peer("u1", 2)
        let b = F.peer("u2", 3)
        let x = F.peer("u9", 9)
        let inSync = F.desired([a, b], classes: [("X", F.accessX, ["u1"]), ("Y", F.accessY, ["u2"])])
        let firewallInSync = F.firewall([("X", F.accessX, [2]), ("Y", F.accessY, [3])])
        return [
            Case(
                name: "in sync: nothing to do", desired: inSync, actualPeers: [a.peer, b.peer], actualFirewall: firewallInSync, removals: [],
                upserts: [], sourceRemovals: [], sourceAdditions: [], needsLoad: false),
            Case(
                name: "a peer the gateway should not have is removed", desired: inSync, actualPeers: [a.peer, b.peer, x.peer],
                actualFirewall: firewallInSync, removals: [x.peer.publicKey], upserts: [], sourceRemovals: [], sourceAdditions: [], needsLoad: false),
            Case(
                name: "a missing peer is added", desired: inSync, actualPeers: [a.peer], actualFirewall: firewallInSync, removals: [],
                upserts: [b.peer],
                sourceRemovals: [], sourceAdditions: [], needsLoad: false),
            Case(
                name: "wrong allowed IPs are corrected", desired: inSync,
                actualPeers: [F.peer("u1", 2, allowedIPs: ["10.100.0.99/32"]).peer, b.peer],
                actualFirewall: firewallInSync, removals: [], upserts: [a.peer], sourceRemovals: [], sourceAdditions: [], needsLoad: false),
            Case(
                name: "a wrong preshared key is corrected", desired: inSync, actualPeers: [F.peer("u1", 2, presharedKey: key(0xEE)).peer, b.peer],
                actualFirewall: firewallInSync, removals: [], upserts: [a.peer], sourceRemovals: [], sourceAdditions: [], needsLoad: false),
            Case(
                name: "an empty gateway gets everything and a full load", desired: inSync, actualPeers: [], actualFirewall: nil, removals: [],
                upserts: [a.peer, b.peer], sourceRemovals: [], sourceAdditions: [], needsLoad: true),
            Case(
                name: "stray and missing source addresses are fixed element by element", desired: inSync, actualPeers: [a.peer, b.peer],
                actualFirewall: F.firewall([("X", F.accessX, [2, 9]), ("Y", F.accessY, [])]), removals: [], upserts: [],
                sourceRemovals: F.remove("X", 9), sourceAdditions: F.add("Y", 3), needsLoad: false),
            Case(
                name: "a class change moves the address from one source set to the other",
                desired: F.desired([a, b], classes: [("X", F.accessX, []), ("Y", F.accessY, ["u1", "u2"])]), actualPeers: [a.peer, b.peer],
                actualFirewall: firewallInSync, removals: [], upserts: [], sourceRemovals: F.remove("X", 2), sourceAdditions: F.add("Y", 2),
                needsLoad: false),
            Case(
                name: "a class the table lacks means a full load",
                desired: F.desired([a, b], classes: [("X", F.accessX, ["u1"]), ("Y", F.accessY, []), ("Z", F.accessZ, ["u2"])]),
                actualPeers: [a.peer, b.peer], actualFirewall: firewallInSync, removals: [], upserts: [], sourceRemovals: [], sourceAdditions: [],
                needsLoad: true),
            Case(
                name: "a class whose access changed means a full load",
                desired: F.desired([a, b], classes: [("X", F.accessZ, ["u1"]), ("Y", F.accessY, ["u2"])]), actualPeers: [a.peer, b.peer],
                actualFirewall: firewallInSync, removals: [], upserts: [], sourceRemovals: [], sourceAdditions: [], needsLoad: true),
            Case(
                name: "a class no one has any more means a full load", desired: F.desired([a], classes: [("X", F.accessX, ["u1"])]),
                actualPeers: [a.peer, b.peer], actualFirewall: firewallInSync, removals: [b.peer.publicKey], upserts: [], sourceRemovals: [],
                sourceAdditions: [], needsLoad: true),
        ]
    }()

    @Test("full(desired:actualPeers:actualFirewall:)", arguments: cases)
    func full(testCase: Case) {
        let plan = ReconcilePlan.full(desired: testCase.desired, actualPeers: testCase.actualPeers, actualFirewall: testCase.actualFirewall)
        #expect(plan.peerRemovals == testCase.removals)
        #expect(plan.peerUpserts == testCase.upserts.sorted { $0.publicKey.base64 < $1.publicKey.base64 })
        #expect(Set(plan.sourceRemovals) == testCase.sourceRemovals)
        #expect(plan.sourceRemovals.count == testCase.sourceRemovals.count)
        #expect(Set(plan.sourceAdditions) == testCase.sourceAdditions)
        #expect(plan.needsFirewallLoad == testCase.needsLoad)
        #expect(
            plan.isEmpty
                == (testCase.removals.isEmpty && testCase.upserts.isEmpty && testCase.sourceRemovals.isEmpty && testCase.sourceAdditions.isEmpty
                    && !testCase.needsLoad))
        #expect(plan.hasRevocations == (!testCase.removals.isEmpty || !testCase.sourceRemovals.isEmpty))
    }

    @Test("removals and upserts come sorted by key, so plans are reproducible")
    func sorted() {
        let peers = (2...40).map { F.peer("u\($0)", $0) }
        let desired = F.desired(Array(peers.prefix(20)))
        let plan = ReconcilePlan.full(desired: desired, actualPeers: peers.suffix(19).map(\.peer).shuffled(), actualFirewall: nil)
        #expect(plan.peerRemovals == plan.peerRemovals.sorted { $0.base64 < $1.base64 })
        #expect(plan.peerRemovals.count == 19)
        #expect(plan.peerUpserts.map(\.publicKey) == plan.peerUpserts.map(\.publicKey).sorted { $0.base64 < $1.base64 })
        #expect(plan.peerUpserts.count == 20)
    }
}

@Suite("Reconcile plan: some users")
struct UsersPlanTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        let users: Set<String>
        let desired: DesiredState
        let appliedPeers: [DesiredState.Peer]
        let appliedFirewall: FirewallState
        let removals: [WireGuardKey]
        let upserts: [WireGuardPeer]
        let sourceRemovals: Set<FirewallChange>
        let sourceAdditions: Set<FirewallChange>
        let needsLoad: Bool
        var testDescription: String { name }
    }

    typealias F = PlanFixtures

    static let cases: [Case] = {
        let a = F.peer("u1", 2)
        let a2 = F.peer("u1", 4)
        let b = F.peer("u2", 3)
        let applied = [a, b]
        let appliedFirewall = F.firewall([("X", F.accessX, [2]), ("Y", F.accessY, [3])])
        return [
            Case(
                name: "nothing changed", users: ["u1"], desired: F.desired([a], classes: [("X", F.accessX, ["u1"])]), appliedPeers: applied,
                appliedFirewall: appliedFirewall, removals: [], upserts: [], sourceRemovals: [], sourceAdditions: [], needsLoad: false),
            Case(
                name: "a deactivated user loses their peers and source addresses", users: ["u1"], desired: F.desired([]), appliedPeers: applied,
                appliedFirewall: appliedFirewall, removals: [a.peer.publicKey], upserts: [], sourceRemovals: F.remove("X", 2), sourceAdditions: [],
                needsLoad: false),
            Case(
                name: "other users' peers are left alone", users: ["u2"], desired: F.desired([b], classes: [("Y", F.accessY, ["u2"])]),
                appliedPeers: applied + [F.peer("u3", 7)], appliedFirewall: appliedFirewall, removals: [], upserts: [], sourceRemovals: [],
                sourceAdditions: [], needsLoad: false),
            Case(
                name: "a group change to an existing class moves the addresses", users: ["u1"],
                desired: F.desired([a], classes: [("Y", F.accessY, ["u1"])]), appliedPeers: applied, appliedFirewall: appliedFirewall, removals: [],
                upserts: [], sourceRemovals: F.remove("X", 2), sourceAdditions: F.add("Y", 2), needsLoad: false),
            Case(
                name: "a new rule combination needs a full load, after the old membership is revoked", users: ["u1"],
                desired: F.desired([a], classes: [("Z", F.accessZ, ["u1"])]), appliedPeers: applied, appliedFirewall: appliedFirewall, removals: [],
                upserts: [], sourceRemovals: F.remove("X", 2), sourceAdditions: [], needsLoad: true),
            Case(
                name: "a class whose access changed needs a full load", users: ["u1"], desired: F.desired([a], classes: [("X", F.accessZ, ["u1"])]),
                appliedPeers: applied, appliedFirewall: appliedFirewall, removals: [], upserts: [], sourceRemovals: [], sourceAdditions: [],
                needsLoad: true),
            Case(
                name: "a new device is added with its addresses", users: ["u1"], desired: F.desired([a, a2], classes: [("X", F.accessX, ["u1"])]),
                appliedPeers: applied, appliedFirewall: appliedFirewall, removals: [], upserts: [a2.peer], sourceRemovals: [],
                sourceAdditions: F.add("X", 4), needsLoad: false),
            Case(
                name: "a replaced device: revocation and addition listed separately", users: ["u1"],
                desired: F.desired([a2], classes: [("X", F.accessX, ["u1"])]), appliedPeers: applied, appliedFirewall: appliedFirewall,
                removals: [a.peer.publicKey], upserts: [a2.peer], sourceRemovals: F.remove("X", 2), sourceAdditions: F.add("X", 4), needsLoad: false),
            Case(
                name: "a changed preshared key is an upsert, not a revocation", users: ["u1"],
                desired: F.desired([F.peer("u1", 2, presharedKey: key(0xEE))], classes: [("X", F.accessX, ["u1"])]), appliedPeers: applied,
                appliedFirewall: appliedFirewall, removals: [], upserts: [F.peer("u1", 2, presharedKey: key(0xEE)).peer], sourceRemovals: [],
                sourceAdditions: [], needsLoad: false),
            Case(
                name: "a user who lost all access keeps the peer but leaves the class", users: ["u1"], desired: F.desired([a]),
                appliedPeers: applied, appliedFirewall: appliedFirewall, removals: [], upserts: [], sourceRemovals: F.remove("X", 2),
                sourceAdditions: [], needsLoad: false),
        ]
    }()

    @Test("forUsers(_:desired:appliedPeers:appliedFirewall:)", arguments: cases)
    func forUsers(testCase: Case) {
        let applied = Dictionary(testCase.appliedPeers.map { ($0.peer.publicKey, $0) }, uniquingKeysWith: { first, _ in first })
        let plan = ReconcilePlan.forUsers(testCase.users, desired: testCase.desired, appliedPeers: applied, appliedFirewall: testCase.appliedFirewall)
        #expect(plan.peerRemovals == testCase.removals)
        #expect(plan.peerUpserts == testCase.upserts)
        #expect(Set(plan.sourceRemovals) == testCase.sourceRemovals)
        #expect(plan.sourceRemovals.count == testCase.sourceRemovals.count)
        #expect(Set(plan.sourceAdditions) == testCase.sourceAdditions)
        #expect(plan.needsFirewallLoad == testCase.needsLoad)
        #expect(plan.hasRevocations == (!testCase.removals.isEmpty || !testCase.sourceRemovals.isEmpty))
        // Revocations and additions never name the same peer or element.
        #expect(Set(plan.peerRemovals).isDisjoint(with: plan.peerUpserts.map(\.publicKey)))
    }
}
