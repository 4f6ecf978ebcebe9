import Firewall
import Policy
import Testing

@testable import Reconciler
@testable import WireGuard

/// Plans from hand-made desired and actual states: users `u1`…, devices numbered by pool index.
enum PlanFixtures {
    static let pool = AddressPool(
        v4: IPPrefix(family: .v4, address: 0x0A64_0000, length: 24), v6: IPPrefix(family: .v6, address: 0xFD00_0100 << 96, length: 64))

    /// Access of rules X (tcp/22 to 10.20/16), Y (tcp/443 to 10.60.0/24) and Z (udp/53 to 10.0.0.53), and
    /// of the deny rules D and E (tcp/22 to 10.20.99/24: the bastions).
    static let accessX = AccessSet([
        AccessGrant(prefix: IPPrefix(family: .v4, address: 0x0A14_0000, length: 16), networkProtocol: .tcp, ports: PortRange(22, 22))
    ])
    static let accessY = AccessSet([
        AccessGrant(prefix: IPPrefix(family: .v4, address: 0x0A3C_0000, length: 24), networkProtocol: .tcp, ports: PortRange(443, 443))
    ])
    static let accessZ = AccessSet([
        AccessGrant(prefix: IPPrefix(family: .v4, address: 0x0A00_0035, length: 32), networkProtocol: .udp, ports: PortRange(53, 53))
    ])
    static let accessD = AccessSet([
        AccessGrant(prefix: IPPrefix(family: .v4, address: 0x0A14_6300, length: 24), networkProtocol: .tcp, ports: PortRange(22, 22))
    ])

    /// A rule of a hand-made state, with its members: users (desired) or device indices (firewall).
    struct Rule<Member> {
        let id: String
        let verdict: FirewallRule.Verdict
        let access: AccessSet
        let members: [Member]
    }

    static func allow<Member>(_ id: String, _ access: AccessSet, _ members: [Member]) -> Rule<Member> {
        Rule(id: id, verdict: .accept, access: access, members: members)
    }

    static func deny<Member>(_ id: String, _ access: AccessSet, _ members: [Member]) -> Rule<Member> {
        Rule(id: id, verdict: .drop, access: access, members: members)
    }

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

    /// A desired state: peers, and every rule with its access and the users in it (the addresses of
    /// their peers in its sources), as `DesiredState.compute` makes it.
    static func desired(_ peers: [DesiredState.Peer], rules: [Rule<String>] = []) -> DesiredState {
        var state = DesiredState()
        for peer in peers { state.peers[peer.peer.publicKey] = peer }
        for rule in rules {
            let sources = peers.filter { rule.members.contains($0.userID) }.flatMap(\.addresses)
            state.rules[rule.id] = FirewallRule(id: rule.id, verdict: rule.verdict, sources: Set(sources), access: rule.access)
            for user in rule.members { state.rulesOfUser[user, default: []].append(rule.id) }
        }
        return state
    }

    /// A firewall state: per rule, its access and the device indices in its source sets.
    static func firewall(_ rules: [Rule<Int>]) -> FirewallState {
        FirewallState(
            interfaceName: "wg0",
            rules: rules.map { FirewallRule(id: $0.id, verdict: $0.verdict, sources: Set($0.members.flatMap(addresses)), access: $0.access) })
    }

    static func add(_ id: String, _ index: Int) -> Set<FirewallChange> {
        Set(addresses(index).map { .addSource(ruleID: id, address: $0) })
    }

    static func remove(_ id: String, _ index: Int) -> Set<FirewallChange> {
        Set(addresses(index).map { .removeSource(ruleID: id, address: $0) })
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
        /// Changes that take access away (revocations), and changes that give it.
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
        let inSync = F.desired([a, b], rules: [F.allow("X", F.accessX, ["u1"]), F.allow("Y", F.accessY, ["u2"])])
        let firewallInSync = F.firewall([F.allow("X", F.accessX, [2]), F.allow("Y", F.accessY, [3])])
        let withDeny = F.firewall([F.allow("X", F.accessX, [2]), F.allow("Y", F.accessY, [3]), F.deny("D", F.accessD, [2])])
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
                actualFirewall: F.firewall([F.allow("X", F.accessX, [2, 9]), F.allow("Y", F.accessY, [])]), removals: [], upserts: [],
                sourceRemovals: F.remove("X", 9), sourceAdditions: F.add("Y", 3), needsLoad: false),
            Case(
                name: "a group change moves the address from one rule's set to the other's",
                desired: F.desired([a, b], rules: [F.allow("X", F.accessX, []), F.allow("Y", F.accessY, ["u1", "u2"])]),
                actualPeers: [a.peer, b.peer], actualFirewall: firewallInSync, removals: [], upserts: [], sourceRemovals: F.remove("X", 2),
                sourceAdditions: F.add("Y", 2), needsLoad: false),
            Case(
                name: "a user in a second rule is added to that rule's set too",
                desired: F.desired([a, b], rules: [F.allow("X", F.accessX, ["u1"]), F.allow("Y", F.accessY, ["u1", "u2"])]),
                actualPeers: [a.peer, b.peer], actualFirewall: firewallInSync, removals: [], upserts: [], sourceRemovals: [],
                sourceAdditions: F.add("Y", 2), needsLoad: false),
            Case(
                name: "a rule that lost its last member stays: an element change, not a load",
                desired: F.desired([a, b], rules: [F.allow("X", F.accessX, ["u1"]), F.allow("Y", F.accessY, [])]), actualPeers: [a.peer, b.peer],
                actualFirewall: firewallInSync, removals: [], upserts: [], sourceRemovals: F.remove("Y", 3), sourceAdditions: [], needsLoad: false),
            Case(
                name: "a rule no one is in, already in the table, is nothing to do",
                desired: F.desired([a, b], rules: [F.allow("X", F.accessX, ["u1"]), F.allow("Y", F.accessY, ["u2"]), F.allow("Z", F.accessZ, [])]),
                actualPeers: [a.peer, b.peer],
                actualFirewall: F.firewall([F.allow("X", F.accessX, [2]), F.allow("Y", F.accessY, [3]), F.allow("Z", F.accessZ, [])]),
                removals: [], upserts: [], sourceRemovals: [], sourceAdditions: [], needsLoad: false),
            Case(
                name: "an address joining a deny rule's set is a revocation",
                desired: F.desired(
                    [a, b], rules: [F.allow("X", F.accessX, ["u1"]), F.allow("Y", F.accessY, ["u2"]), F.deny("D", F.accessD, ["u1", "u2"])]),
                actualPeers: [a.peer, b.peer], actualFirewall: withDeny, removals: [], upserts: [], sourceRemovals: F.add("D", 3),
                sourceAdditions: [], needsLoad: false),
            Case(
                name: "an address leaving a deny rule's set is a grant",
                desired: F.desired([a, b], rules: [F.allow("X", F.accessX, ["u1"]), F.allow("Y", F.accessY, ["u2"]), F.deny("D", F.accessD, [])]),
                actualPeers: [a.peer, b.peer], actualFirewall: withDeny, removals: [], upserts: [], sourceRemovals: [],
                sourceAdditions: F.remove("D", 2), needsLoad: false),
            Case(
                name: "a rule the table lacks (a policy change) means a full load",
                desired: F.desired([a, b], rules: [F.allow("X", F.accessX, ["u1"]), F.allow("Y", F.accessY, []), F.allow("Z", F.accessZ, ["u2"])]),
                actualPeers: [a.peer, b.peer], actualFirewall: firewallInSync, removals: [], upserts: [], sourceRemovals: [], sourceAdditions: [],
                needsLoad: true),
            Case(
                name: "a new deny rule no one is in yet means a full load too",
                desired: F.desired([a, b], rules: [F.allow("X", F.accessX, ["u1"]), F.allow("Y", F.accessY, ["u2"]), F.deny("D", F.accessD, [])]),
                actualPeers: [a.peer, b.peer], actualFirewall: firewallInSync, removals: [], upserts: [], sourceRemovals: [], sourceAdditions: [],
                needsLoad: true),
            Case(
                name: "a rule whose access changed means a full load",
                desired: F.desired([a, b], rules: [F.allow("X", F.accessZ, ["u1"]), F.allow("Y", F.accessY, ["u2"])]), actualPeers: [a.peer, b.peer],
                actualFirewall: firewallInSync, removals: [], upserts: [], sourceRemovals: [], sourceAdditions: [], needsLoad: true),
            Case(
                name: "a rule whose verdict changed means a full load",
                desired: F.desired([a, b], rules: [F.deny("X", F.accessX, ["u1"]), F.allow("Y", F.accessY, ["u2"])]), actualPeers: [a.peer, b.peer],
                actualFirewall: firewallInSync, removals: [], upserts: [], sourceRemovals: [], sourceAdditions: [], needsLoad: true),
            Case(
                name: "a rule the policy no longer has means a full load", desired: F.desired([a], rules: [F.allow("X", F.accessX, ["u1"])]),
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
        #expect(plan.sourceAdditions.count == testCase.sourceAdditions.count)
        #expect(plan.needsFirewallLoad == testCase.needsLoad)
        #expect(
            plan.isEmpty
                == (testCase.removals.isEmpty && testCase.upserts.isEmpty && testCase.sourceRemovals.isEmpty && testCase.sourceAdditions.isEmpty
                    && !testCase.needsLoad))
        #expect(plan.hasRevocations == (!testCase.removals.isEmpty || !testCase.sourceRemovals.isEmpty))
        // Element changes take the table to the desired sources.
        if let actual = testCase.actualFirewall, !plan.needsFirewallLoad {
            let result = actual.applying(plan.sourceRemovals + plan.sourceAdditions)
            #expect(result.rules == testCase.desired.rules)
        }
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
        /// Changes that take access away (revocations, applied first), and changes that give it.
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
        let appliedFirewall = F.firewall([F.allow("X", F.accessX, [2]), F.allow("Y", F.accessY, [3])])
        // u1 in X and deny D; E is another deny no one is in.
        let noOneInE: F.Rule<String> = F.deny("E", F.accessD, [])
        let appliedDenies = F.firewall([
            F.allow("X", F.accessX, [2]), F.allow("Y", F.accessY, [3]), F.deny("D", F.accessD, [2]), F.deny("E", F.accessD, []),
        ])
        return [
            Case(
                name: "nothing changed", users: ["u1"],
                desired: F.desired([a], rules: [F.allow("X", F.accessX, ["u1"]), F.allow("Y", F.accessY, [])]),
                appliedPeers: applied, appliedFirewall: appliedFirewall, removals: [], upserts: [], sourceRemovals: [], sourceAdditions: [],
                needsLoad: false),
            Case(
                name: "a deactivated user loses their peers and source addresses", users: ["u1"],
                desired: F.desired([], rules: [F.allow("X", F.accessX, []), F.allow("Y", F.accessY, [])]), appliedPeers: applied,
                appliedFirewall: appliedFirewall, removals: [a.peer.publicKey], upserts: [], sourceRemovals: F.remove("X", 2), sourceAdditions: [],
                needsLoad: false),
            Case(
                name: "other users' peers and addresses are left alone", users: ["u2"],
                desired: F.desired([b], rules: [F.allow("X", F.accessX, []), F.allow("Y", F.accessY, ["u2"])]),
                appliedPeers: applied + [F.peer("u3", 7)], appliedFirewall: appliedFirewall, removals: [], upserts: [], sourceRemovals: [],
                sourceAdditions: [], needsLoad: false),
            Case(
                name: "a group change moves the addresses from one rule's set to another's, element by element", users: ["u1"],
                desired: F.desired([a], rules: [F.allow("X", F.accessX, []), F.allow("Y", F.accessY, ["u1"])]), appliedPeers: applied,
                appliedFirewall: appliedFirewall, removals: [], upserts: [], sourceRemovals: F.remove("X", 2), sourceAdditions: F.add("Y", 2),
                needsLoad: false),
            Case(
                name: "joining a second group adds the addresses to that rule's set too, element by element", users: ["u1"],
                desired: F.desired([a], rules: [F.allow("X", F.accessX, ["u1"]), F.allow("Y", F.accessY, ["u1"])]), appliedPeers: applied,
                appliedFirewall: appliedFirewall, removals: [], upserts: [], sourceRemovals: [], sourceAdditions: F.add("Y", 2), needsLoad: false),
            Case(
                name: "a rule the table lacks (the policy changed since the load) needs a full load, after the old membership is revoked",
                users: ["u1"],
                desired: F.desired([a], rules: [F.allow("X", F.accessX, []), F.allow("Y", F.accessY, []), F.allow("Z", F.accessZ, ["u1"])]),
                appliedPeers: applied, appliedFirewall: appliedFirewall, removals: [], upserts: [], sourceRemovals: F.remove("X", 2),
                sourceAdditions: [], needsLoad: true),
            Case(
                name: "a rule of the user whose access changed needs a full load", users: ["u1"],
                desired: F.desired([a], rules: [F.allow("X", F.accessZ, ["u1"]), F.allow("Y", F.accessY, [])]), appliedPeers: applied,
                appliedFirewall: appliedFirewall, removals: [], upserts: [], sourceRemovals: [], sourceAdditions: [], needsLoad: true),
            Case(
                name: "a changed rule the user is not in is left to the policy reload", users: ["u1"],
                desired: F.desired([a], rules: [F.allow("X", F.accessX, ["u1"]), F.allow("Y", F.accessZ, [])]), appliedPeers: applied,
                appliedFirewall: appliedFirewall, removals: [], upserts: [], sourceRemovals: [], sourceAdditions: [], needsLoad: false),
            Case(
                name: "a new device is added with its addresses", users: ["u1"],
                desired: F.desired([a, a2], rules: [F.allow("X", F.accessX, ["u1"]), F.allow("Y", F.accessY, [])]), appliedPeers: applied,
                appliedFirewall: appliedFirewall, removals: [], upserts: [a2.peer], sourceRemovals: [], sourceAdditions: F.add("X", 4),
                needsLoad: false),
            Case(
                name: "a new device of a user in two rules joins both sets", users: ["u1"],
                desired: F.desired([a, a2], rules: [F.allow("X", F.accessX, ["u1"]), F.allow("Y", F.accessY, ["u1"])]),
                appliedPeers: applied, appliedFirewall: F.firewall([F.allow("X", F.accessX, [2]), F.allow("Y", F.accessY, [2, 3])]), removals: [],
                upserts: [a2.peer], sourceRemovals: [], sourceAdditions: F.add("X", 4).union(F.add("Y", 4)), needsLoad: false),
            Case(
                name: "a replaced device: revocation and addition listed separately", users: ["u1"],
                desired: F.desired([a2], rules: [F.allow("X", F.accessX, ["u1"]), F.allow("Y", F.accessY, [])]), appliedPeers: applied,
                appliedFirewall: appliedFirewall, removals: [a.peer.publicKey], upserts: [a2.peer], sourceRemovals: F.remove("X", 2),
                sourceAdditions: F.add("X", 4), needsLoad: false),
            Case(
                name: "a changed preshared key is an upsert, not a revocation", users: ["u1"],
                desired: F.desired([F.peer("u1", 2, presharedKey: key(0xEE))], rules: [F.allow("X", F.accessX, ["u1"]), F.allow("Y", F.accessY, [])]),
                appliedPeers: applied, appliedFirewall: appliedFirewall, removals: [], upserts: [F.peer("u1", 2, presharedKey: key(0xEE)).peer],
                sourceRemovals: [], sourceAdditions: [], needsLoad: false),
            Case(
                name: "a user who lost all access keeps the peer but leaves the rules", users: ["u1"],
                desired: F.desired([a], rules: [F.allow("X", F.accessX, []), F.allow("Y", F.accessY, [])]), appliedPeers: applied,
                appliedFirewall: appliedFirewall, removals: [], upserts: [], sourceRemovals: F.remove("X", 2), sourceAdditions: [], needsLoad: false),
            Case(
                name: "joining a deny rule is a revocation", users: ["u1"],
                desired: F.desired([a], rules: [F.allow("X", F.accessX, ["u1"]), F.allow("Y", F.accessY, []), F.deny("D", F.accessD, ["u1"])]),
                appliedPeers: applied,
                appliedFirewall: F.firewall([F.allow("X", F.accessX, [2]), F.allow("Y", F.accessY, [3]), F.deny("D", F.accessD, [])]),
                removals: [], upserts: [], sourceRemovals: F.add("D", 2), sourceAdditions: [], needsLoad: false),
            Case(
                name: "leaving a deny rule is a grant", users: ["u1"],
                desired: F.desired([a], rules: [F.allow("X", F.accessX, ["u1"]), F.allow("Y", F.accessY, []), F.deny("D", F.accessD, []), noOneInE]),
                appliedPeers: applied, appliedFirewall: appliedDenies, removals: [], upserts: [], sourceRemovals: [],
                sourceAdditions: F.remove("D", 2), needsLoad: false),
            Case(
                name: "moving from one deny rule to another: the new deny is a revocation, leaving the old one waits", users: ["u1"],
                desired: F.desired(
                    [a],
                    rules: [F.allow("X", F.accessX, ["u1"]), F.allow("Y", F.accessY, []), F.deny("D", F.accessD, []), F.deny("E", F.accessD, ["u1"])]),
                appliedPeers: applied, appliedFirewall: appliedDenies, removals: [], upserts: [], sourceRemovals: F.add("E", 2),
                sourceAdditions: F.remove("D", 2), needsLoad: false),
            Case(
                name: "a deactivated user leaves allow sets with the revocations and deny sets after them", users: ["u1"],
                desired: F.desired([], rules: [F.allow("X", F.accessX, []), F.allow("Y", F.accessY, []), F.deny("D", F.accessD, []), noOneInE]),
                appliedPeers: applied, appliedFirewall: appliedDenies, removals: [a.peer.publicKey], upserts: [], sourceRemovals: F.remove("X", 2),
                sourceAdditions: F.remove("D", 2), needsLoad: false),
            Case(
                name: "a new device of a user under a deny joins the deny with the revocations, before its peer is added", users: ["u1"],
                desired: F.desired(
                    [a, a2], rules: [F.allow("X", F.accessX, ["u1"]), F.allow("Y", F.accessY, []), F.deny("D", F.accessD, ["u1"]), noOneInE]),
                appliedPeers: applied, appliedFirewall: appliedDenies, removals: [], upserts: [a2.peer], sourceRemovals: F.add("D", 4),
                sourceAdditions: F.add("X", 4), needsLoad: false),
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
        #expect(plan.sourceAdditions.count == testCase.sourceAdditions.count)
        #expect(plan.needsFirewallLoad == testCase.needsLoad)
        #expect(plan.hasRevocations == (!testCase.removals.isEmpty || !testCase.sourceRemovals.isEmpty))
        // Revocations and additions never name the same peer or element.
        #expect(Set(plan.peerRemovals).isDisjoint(with: plan.peerUpserts.map(\.publicKey)))
        #expect(Set(plan.sourceRemovals).isDisjoint(with: plan.sourceAdditions))
    }

    @Test("applied in order, revocations then additions, a plan never gives anyone more access along the way", arguments: cases)
    func failsClosed(testCase: Case) {
        let applied = Dictionary(testCase.appliedPeers.map { ($0.peer.publicKey, $0) }, uniquingKeysWith: { first, _ in first })
        let plan = ReconcilePlan.forUsers(testCase.users, desired: testCase.desired, appliedPeers: applied, appliedFirewall: testCase.appliedFirewall)
        let before = testCase.appliedFirewall
        let revoked = before.applying(plan.sourceRemovals)
        let after = revoked.applying(plan.sourceAdditions)
        let addresses = Set(testCase.appliedPeers.flatMap(\.addresses) + testCase.desired.peers.values.flatMap(\.addresses))
        for address in addresses {
            let midway = firewallAccess(of: [address], in: revoked.rules)
            #expect(isSubset(midway, of: firewallAccess(of: [address], in: before.rules)), "\(address) gains access with the revocations")
            if !plan.needsFirewallLoad {
                #expect(
                    isSubset(midway, of: firewallAccess(of: [address], in: after.rules)),
                    "\(address) has access between the two steps it will not keep")
            }
        }
        // The users' addresses end up in exactly the rules they should be in (when no load is needed).
        guard !plan.needsFirewallLoad else { return }
        let wanted = testCase.desired.peers.values.filter { testCase.users.contains($0.userID) }
        for peer in wanted {
            for address in peer.addresses {
                let holding = Set(after.rules.values.filter { $0.sources.contains(address) }.map(\.id))
                #expect(holding == Set(testCase.desired.rulesOfUser[peer.userID] ?? []), "\(address)")
            }
        }
    }
}
