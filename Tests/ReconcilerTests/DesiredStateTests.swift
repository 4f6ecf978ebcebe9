import Firewall
import Foundation
import Policy
import SCIM
import Store
import Testing

@testable import Reconciler
@testable import WireGuard

/// The standard policy with denies: Engineering may not reach the production bastions (10.20.99.0/24)
/// over SSH although engineers-ssh allows 10.20.0.0/16, and Finance may not SSH anywhere in 10.20/16.
let denyPolicyText =
    standardPolicyText + """

      - name: engineers-not-production
        groups: [Engineering]
        allow:
          - { to: 10.30.0.0/16, ports: [tcp/443] }
        deny:
          - { to: 10.20.99.0/24, ports: [tcp/22] }
      - name: no-finance-on-ssh
        groups: [Finance]
        deny:
          - { to: 10.20.0.0/16, ports: [tcp/22] }
          - { to: "2001:db8:20::/48", ports: [tcp/22] }
    """

@Suite("Desired state")
struct DesiredStateTests {
    /// Engineering: alice and carol; Finance: dan; both: erin; Sales (no rules): frank; bob is inactive.
    struct Directory {
        let temporary: TemporaryStore
        let pool: AddressPool
        let policy: CompiledPolicy
        let devices: [String: Device]
        let users: [String: String]

        static func make(policy: CompiledPolicy? = nil) async throws -> Directory {
            let temporary = try TemporaryStore()
            let pool = try testPool()
            var users: [String: String] = [:]
            var resources: [String: Resource] = [:]
            for (name, active) in [("alice", true), ("bob", false), ("carol", true), ("dan", true), ("erin", true), ("frank", true)] {
                let user = try await temporary.createUser(userName: name, active: active)
                users[name] = user.id
                resources[name] = user
            }
            let known = resources
            func members(_ names: String...) -> [Resource] { names.compactMap { known[$0] } }
            _ = try await temporary.createGroup("Engineering", members: members("alice", "bob", "carol", "erin"))
            _ = try await temporary.createGroup("Finance", members: members("dan", "erin"))
            _ = try await temporary.createGroup("Sales", members: members("frank"))
            var devices: [String: Device] = [:]
            for name in ["alice", "bob", "carol", "dan", "erin", "frank"] {
                let user = try #require(resources[name])
                devices[name] = try await temporary.store.addDevice(for: user, pool: pool)
            }
            return Directory(temporary: temporary, pool: pool, policy: try policy ?? compilePolicy(), devices: devices, users: users)
        }

        func compute(policy: CompiledPolicy?? = nil, at now: Int64 = nowMilliseconds()) async throws -> DesiredState {
            DesiredState.compute(
                entries: try await temporary.store.directory(), devices: try await temporary.store.devices(), policy: policy ?? self.policy, at: now)
        }

        func device(_ name: String) throws -> Device {
            try #require(devices[name])
        }

        func id(_ name: String) throws -> String {
            try #require(users[name])
        }

        /// The addresses of these users' devices.
        func addresses(_ names: String...) throws -> Set<IPPrefix> {
            Set(try names.flatMap { try device($0).prefixes() })
        }
    }

    static let ssh = Harness.ruleID("engineers-ssh")
    static let erp = Harness.ruleID("finance-erp")
    static let dns = Harness.ruleID("everyone-dns")

    @Test("active users get a peer per device with the device's addresses as allowed IPs; inactive users get none")
    func peers() async throws {
        let directory = try await Directory.make()
        let state = try await directory.compute()
        let keys = Set(state.peers.keys)
        for name in ["alice", "carol", "dan", "erin", "frank"] {
            let device = try directory.device(name)
            let deviceKey = try #require(device.wireGuardKey)
            let peer = try #require(state.peers[deviceKey], "\(name) has no peer")
            #expect(peer.userID == (try directory.id(name)))
            #expect(peer.deviceID == device.id)
            #expect(peer.peer.allowedIPs == [device.address4, try #require(device.address6)])
            #expect(peer.addresses == (try device.prefixes()))
        }
        let bobKey = try #require(try directory.device("bob").wireGuardKey)
        #expect(!keys.contains(bobKey))
        #expect(state.peers.count == 5)
        #expect(state.rulesOfUser[try directory.id("bob")] == nil)
        let bob = try directory.addresses("bob")
        #expect(state.rules.values.allSatisfy { $0.sources.isDisjoint(with: bob) }, "an inactive user's addresses are in no rule's set")
    }

    @Test("every rule is a firewall rule with the addresses of every user it applies to; a user in several rules is in each set")
    func rules() async throws {
        let directory = try await Directory.make()
        let state = try await directory.compute()
        #expect(Set(state.rules.keys) == [Self.ssh, Self.erp, Self.dns])
        #expect(state.rules.values.allSatisfy { $0.verdict == .accept })
        #expect(state.rules.allSatisfy { id, rule in rule.id == id })
        #expect(state.rules[Self.ssh]?.sources == (try directory.addresses("alice", "carol", "erin")))
        #expect(state.rules[Self.erp]?.sources == (try directory.addresses("dan", "erin")))
        #expect(state.rules[Self.dns]?.sources == (try directory.addresses("alice", "carol", "dan", "erin")))
        #expect(state.rules[Self.ssh]?.access == directory.policy.rules[0].allow)
        #expect(state.rules[Self.erp]?.access == directory.policy.rules[1].allow)
        #expect(state.rules[Self.dns]?.access == directory.policy.rules[2].allow)
        // In policy order.
        #expect(state.rulesOfUser[try directory.id("alice")] == [Self.ssh, Self.dns])
        #expect(state.rulesOfUser[try directory.id("carol")] == [Self.ssh, Self.dns])
        #expect(state.rulesOfUser[try directory.id("dan")] == [Self.erp, Self.dns])
        #expect(state.rulesOfUser[try directory.id("erin")] == [Self.ssh, Self.erp, Self.dns])
        #expect(state.rulesOfUser[try directory.id("frank")] == nil, "Sales has no rules: a peer, but no rule")
        #expect(state.rulesOfUser.count == 4)
        let erin = try directory.addresses("erin")
        #expect(state.rules.values.filter { !$0.sources.isDisjoint(with: erin) }.count == 3)
        let frank = try directory.addresses("frank")
        #expect(state.rules.values.allSatisfy { $0.sources.isDisjoint(with: frank) })
    }

    @Test("rule sources hold both address families of every device")
    func bothFamilies() async throws {
        let directory = try await Directory.make()
        let state = try await directory.compute()
        let finance = try #require(state.rules[Self.erp])
        #expect(Set(finance.sources.map(\.family)) == [.v4, .v6])
        let dan = try directory.device("dan")
        let erin = try directory.device("erin")
        #expect(
            finance.sources.map(\.description).sorted()
                == [dan.address4, try #require(dan.address6), erin.address4, try #require(erin.address6)].sorted())
    }

    @Test("without a policy there are peers but no rules")
    func noPolicy() async throws {
        let directory = try await Directory.make()
        let state = try await directory.compute(policy: .some(nil))
        #expect(state.peers.count == 5)
        #expect(state.rules.isEmpty)
        #expect(state.rulesOfUser.isEmpty)
    }

    @Test("rules no one is in are firewall rules too, with empty source sets, so a first member is an element change")
    func rulesWithoutMembers() async throws {
        let policy = try compilePolicy(
            standardPolicyText + """

                  - name: legal-documents
                    groups: [Legal]
                    allow:
                      - { to: 10.70.0.0/24, ports: [tcp/443] }
                  - name: bob-only
                    users: [bob]
                    deny:
                      - { to: 10.0.0.53/32, ports: [udp/53] }
                """)
        let directory = try await Directory.make(policy: policy)
        let state = try await directory.compute()
        let legal = Harness.ruleID("legal-documents")
        let bobOnly = Harness.ruleID("bob-only", .drop)
        #expect(Set(state.rules.keys) == [Self.ssh, Self.erp, Self.dns, legal, bobOnly])
        #expect(state.rules[legal]?.sources == [], "no one is in Legal")
        #expect(state.rules[legal]?.access == policy.rules[3].allow)
        #expect(state.rules[bobOnly]?.sources == [], "the only user it names is inactive")
        #expect(state.rules[bobOnly]?.verdict == .drop)
        #expect(state.rulesOfUser.values.allSatisfy { !$0.contains(legal) && !$0.contains(bobOnly) })

        // Without any device, every rule is still there.
        let empty = DesiredState.compute(entries: try await directory.temporary.store.directory(), devices: [], policy: policy, at: nowMilliseconds())
        #expect(Set(empty.rules.keys) == Set(state.rules.keys))
        #expect(empty.rules.values.allSatisfy { $0.sources.isEmpty })
        #expect(empty.peers.isEmpty)
        #expect(empty.rulesOfUser.isEmpty, "a user without a device is in no rule's set")
    }

    @Test("a rule's deny is a drop rule holding the addresses of the users it applies to; a deny-only rule has no accept rule")
    func denies() async throws {
        let directory = try await Directory.make(policy: try compilePolicy(denyPolicyText))
        let state = try await directory.compute()
        let notProductionDeny = Harness.ruleID("engineers-not-production", .drop)
        let notProductionAllow = Harness.ruleID("engineers-not-production")
        let noFinanceSSH = Harness.ruleID("no-finance-on-ssh", .drop)
        #expect(Set(state.rules.keys) == [Self.ssh, Self.erp, Self.dns, notProductionDeny, notProductionAllow, noFinanceSSH])
        #expect(state.rules[Harness.ruleID("no-finance-on-ssh")] == nil, "nothing to accept")
        #expect(state.rules[notProductionDeny]?.verdict == .drop)
        #expect(state.rules[notProductionAllow]?.verdict == .accept)
        #expect(state.rules[noFinanceSSH]?.verdict == .drop)
        #expect(state.rules[notProductionDeny]?.access == directory.policy.rules[3].deny)
        #expect(state.rules[notProductionAllow]?.access == directory.policy.rules[3].allow)
        #expect(state.rules[noFinanceSSH]?.access == directory.policy.rules[4].deny)
        #expect(state.rules[notProductionDeny]?.sources == (try directory.addresses("alice", "carol", "erin")))
        #expect(state.rules[notProductionAllow]?.sources == (try directory.addresses("alice", "carol", "erin")))
        #expect(state.rules[noFinanceSSH]?.sources == (try directory.addresses("dan", "erin")))
        // Policy order; within a policy rule, its deny first.
        #expect(state.rulesOfUser[try directory.id("alice")] == [Self.ssh, Self.dns, notProductionDeny, notProductionAllow])
        #expect(state.rulesOfUser[try directory.id("dan")] == [Self.erp, Self.dns, noFinanceSSH])
        #expect(state.rulesOfUser[try directory.id("erin")] == [Self.ssh, Self.erp, Self.dns, notProductionDeny, notProductionAllow, noFinanceSSH])
    }

    @Test(
        "what nftables lets each device reach is exactly what the policy gives its user",
        arguments: [("standard", standardPolicyText), ("with denies", denyPolicyText)])
    func firewallEqualsPolicy(name: String, text: String) async throws {
        let directory = try await Directory.make(policy: try compilePolicy(text))
        let state = try await directory.compute()
        let now = nowMilliseconds()
        let devices = Dictionary(uniqueKeysWithValues: directory.devices.values.map { ($0.userID, $0) })
        for entry in try await directory.temporary.store.directory() {
            let device = try #require(devices[entry.user.id])
            let subject = PolicySubject(user: entry.user, groupNames: entry.groupNames)
            let byFirewall = firewallAccess(of: try device.prefixes(), in: state.rules)
            let byPolicy = directory.policy.access(for: subject, at: now)
            #expect(sameAccess(byFirewall, byPolicy), "\(subject.userName): firewall \(byFirewall), policy \(byPolicy)")
        }
    }

    @Test("a deny wins over every allow of the user, also one from another rule, and removes only what it names")
    func deniedPackets() async throws {
        let directory = try await Directory.make(policy: try compilePolicy(denyPolicyText))
        let state = try await directory.compute()
        func reaches(_ name: String, _ address: String, port: UInt16) throws -> Bool {
            let destination = try prefix(address + "/32")
            return firewallAccess(of: try directory.device(name).prefixes(), in: state.rules)
                .permits(address: destination.address, family: .v4, networkProtocol: .tcp, port: port)
        }
        #expect(try reaches("alice", "10.20.1.10", port: 22))
        #expect(!(try reaches("alice", "10.20.99.5", port: 22)), "engineers-not-production denies the bastions")
        #expect(!(try reaches("erin", "10.20.1.10", port: 22)), "no-finance-on-ssh wins over engineers-ssh")
        #expect(try reaches("erin", "10.60.0.8", port: 443))
        #expect(!(try reaches("dan", "10.20.1.10", port: 22)))
    }

    struct ExpiryCase: Sendable, CustomTestStringConvertible {
        let offset: Int64?
        let included: Bool
        var testDescription: String { offset.map { "expires now\($0 >= 0 ? "+" : "")\($0) ms" } ?? "never expires" }
    }

    @Test(
        "a device counts until it expires: not at its expiry instant, nor after",
        arguments: [
            ExpiryCase(offset: nil, included: true), ExpiryCase(offset: 1, included: true), ExpiryCase(offset: 3_600_000, included: true),
            ExpiryCase(offset: 0, included: false), ExpiryCase(offset: -1, included: false), ExpiryCase(offset: -86_400_000, included: false),
        ])
    func expiry(testCase: ExpiryCase) async throws {
        let temporary = try TemporaryStore()
        let pool = try testPool()
        let alice = try await temporary.createUser(userName: "alice")
        _ = try await temporary.createGroup("Engineering", members: [alice])
        let now = nowMilliseconds()
        let device = try await temporary.store.addDevice(for: alice, pool: pool, expires: testCase.offset.map { now + $0 })
        let state = DesiredState.compute(
            entries: try await temporary.store.directory(), devices: try await temporary.store.devices(), policy: try compilePolicy(), at: now)
        let deviceKey = try #require(device.wireGuardKey)
        #expect((state.peers[deviceKey] != nil) == testCase.included)
        #expect(state.rules[Self.ssh]?.sources == (testCase.included ? Set(try device.prefixes()) : []))
        #expect(state.rules[Self.dns]?.sources == (testCase.included ? Set(try device.prefixes()) : []))
        let sources = state.rules.values.reduce(into: Set<IPPrefix>()) { $0.formUnion($1.sources) }
        #expect(sources.isSuperset(of: try device.prefixes()) == testCase.included)
        #expect(Set(state.rules.keys) == [Self.ssh, Self.erp, Self.dns], "the rules stay whoever is in them")
        #expect(
            state.rulesOfUser[alice.id] == (testCase.included ? [Self.ssh, Self.dns] : nil), "a user whose only device expired is in no rule")
    }

    @Test("a rule past its `until` is no longer a firewall rule, and no one is in it")
    func expiredRule() async throws {
        let temporary = try TemporaryStore()
        let pool = try testPool()
        let alice = try await temporary.createUser(userName: "alice")
        _ = try await temporary.createGroup("Engineering", members: [alice])
        let device = try await temporary.store.addDevice(for: alice, pool: pool)
        let policy = try compilePolicy(
            standardPolicyText + """

                  - name: temporary-db
                    groups: [Engineering]
                    allow:
                      - { to: 10.30.0.0/24, ports: [tcp/5432] }
                    until: 2030-01-01T00:00:00Z
                  - name: temporary-freeze
                    groups: [Sales]
                    deny:
                      - { to: 10.60.0.0/24 }
                    until: 2030-01-01T00:00:00Z
                """)
        let entries = try await temporary.store.directory()
        let devices = try await temporary.store.devices()
        let before = DesiredState.compute(entries: entries, devices: devices, policy: policy, at: 1_893_455_999_000)
        let after = DesiredState.compute(entries: entries, devices: devices, policy: policy, at: 1_893_456_000_000)
        let temporaryDB = Harness.ruleID("temporary-db")
        let freeze = Harness.ruleID("temporary-freeze", .drop)
        #expect(before.rulesOfUser[alice.id] == [Self.ssh, Self.dns, temporaryDB])
        #expect(before.rules[temporaryDB]?.sources == Set(try device.prefixes()))
        #expect(before.rules[freeze]?.sources == [], "in force, though no one is in it")
        #expect(after.rulesOfUser[alice.id] == [Self.ssh, Self.dns])
        #expect(Set(after.rules.keys) == [Self.ssh, Self.erp, Self.dns])
    }

    @Test("members of nested groups are in the outer group's rules")
    func nestedGroups() async throws {
        let temporary = try TemporaryStore()
        let pool = try testPool()
        let alice = try await temporary.createUser(userName: "alice")
        let backend = try await temporary.createGroup("Backend", members: [alice])
        _ = try await temporary.createGroup("Engineering", members: [backend])
        _ = try await temporary.store.addDevice(for: alice, pool: pool)
        let policy = try compilePolicy()
        let full = DesiredState.compute(
            entries: try await temporary.store.directory(), devices: try await temporary.store.devices(), policy: policy, at: nowMilliseconds())
        let partial = DesiredState.compute(
            entries: try await temporary.store.directory(userIDs: [alice.id]), devices: try await temporary.store.devices(ofUser: alice.id),
            policy: policy,
            at: nowMilliseconds())
        #expect(full.rulesOfUser[alice.id] == [Self.ssh, Self.dns])
        #expect(partial == full, "the instant path's view of a user equals the full synchronisation's")
    }

    @Test("computed for some users, every rule is there with only their addresses, and their memberships are the full computation's")
    func someUsers() async throws {
        let directory = try await Directory.make(policy: try compilePolicy(denyPolicyText))
        let full = try await directory.compute()
        let erin = try directory.id("erin")
        let partial = DesiredState.compute(
            entries: try await directory.temporary.store.directory(userIDs: [erin]),
            devices: try await directory.temporary.store.devices(ofUser: erin), policy: directory.policy, at: nowMilliseconds())
        #expect(Set(partial.rules.keys) == Set(full.rules.keys))
        #expect(partial.rules.allSatisfy { id, rule in rule.access == full.rules[id]?.access && rule.verdict == full.rules[id]?.verdict })
        #expect(partial.rulesOfUser == [erin: try #require(full.rulesOfUser[erin])])
        let addresses = try directory.addresses("erin")
        for (id, rule) in partial.rules {
            #expect(rule.sources == (full.rules[id]?.sources.intersection(addresses) ?? []))
        }
    }
}
