import Firewall
import Foundation
import Policy
import SCIM
import Store
import Testing

@testable import Reconciler
@testable import WireGuard

@Suite("Desired state")
struct DesiredStateTests {
    /// Engineering: alice and carol; Finance: dan; both: erin; Sales (no rules): frank; bob is inactive.
    struct Directory {
        let temporary: TemporaryStore
        let pool: AddressPool
        let policy: CompiledPolicy
        let devices: [String: Device]
        let users: [String: String]

        static func make() async throws -> Directory {
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
            return Directory(temporary: temporary, pool: pool, policy: try compilePolicy(), devices: devices, users: users)
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
    }

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
        #expect(state.classOfUser[try directory.id("bob")] == nil)
    }

    @Test("users with the same matching rules share one class; other combinations get their own")
    func classes() async throws {
        let directory = try await Directory.make()
        let state = try await directory.compute()
        let engineering = FirewallClass.id(forRules: ["engineers-ssh", "everyone-dns"])
        let finance = FirewallClass.id(forRules: ["finance-erp", "everyone-dns"])
        let both = FirewallClass.id(forRules: ["engineers-ssh", "finance-erp", "everyone-dns"])
        #expect(Set(state.classes.keys) == [engineering, finance, both])
        #expect(state.classOfUser[try directory.id("alice")] == engineering)
        #expect(state.classOfUser[try directory.id("carol")] == engineering)
        #expect(state.classOfUser[try directory.id("dan")] == finance)
        #expect(state.classOfUser[try directory.id("erin")] == both)
        #expect(state.classOfUser[try directory.id("frank")] == nil, "Sales has no rules: a peer, but no class")
        let engineeringClass = try #require(state.classes[engineering])
        #expect(engineeringClass.sources == Set(try directory.device("alice").prefixes() + directory.device("carol").prefixes()))
        #expect(engineeringClass.access == directory.policy.access(ofRules: [0, 2]))
        #expect(state.classes[both]?.access == directory.policy.access(ofRules: [0, 1, 2]))
    }

    @Test("class sources hold both address families of every device")
    func bothFamilies() async throws {
        let directory = try await Directory.make()
        let state = try await directory.compute()
        let finance = try #require(state.classes[FirewallClass.id(forRules: ["finance-erp", "everyone-dns"])])
        #expect(Set(finance.sources.map(\.family)) == [.v4, .v6])
        let dan = try directory.device("dan")
        #expect(finance.sources.map(\.description).sorted() == [dan.address4, try #require(dan.address6)])
    }

    @Test("without a policy there are peers but no classes")
    func noPolicy() async throws {
        let directory = try await Directory.make()
        let state = try await directory.compute(policy: .some(nil))
        #expect(state.peers.count == 5)
        #expect(state.classes.isEmpty)
        #expect(state.classOfUser.isEmpty)
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
        let sources = state.classes.values.reduce(into: Set<IPPrefix>()) { $0.formUnion($1.sources) }
        #expect(sources.isSuperset(of: try device.prefixes()) == testCase.included)
        #expect((state.classOfUser[alice.id] != nil) == testCase.included, "a user whose only device expired has no class")
    }

    @Test("a rule past its `until` no longer counts, so the class changes")
    func expiredRule() async throws {
        let temporary = try TemporaryStore()
        let pool = try testPool()
        let alice = try await temporary.createUser(userName: "alice")
        _ = try await temporary.createGroup("Engineering", members: [alice])
        _ = try await temporary.store.addDevice(for: alice, pool: pool)
        let policy = try compilePolicy(
            standardPolicyText + """

                  - name: temporary-db
                    groups: [Engineering]
                    allow:
                      - { to: 10.30.0.0/24, ports: [tcp/5432] }
                    until: 2030-01-01T00:00:00Z
                """)
        let entries = try await temporary.store.directory()
        let devices = try await temporary.store.devices()
        let before = DesiredState.compute(entries: entries, devices: devices, policy: policy, at: 1_893_455_999_000)
        let after = DesiredState.compute(entries: entries, devices: devices, policy: policy, at: 1_893_456_000_000)
        #expect(before.classOfUser[alice.id] == FirewallClass.id(forRules: ["engineers-ssh", "everyone-dns", "temporary-db"]))
        #expect(after.classOfUser[alice.id] == FirewallClass.id(forRules: ["engineers-ssh", "everyone-dns"]))
    }

    @Test("members of nested groups are in the outer group's class")
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
        #expect(full.classOfUser[alice.id] == FirewallClass.id(forRules: ["engineers-ssh", "everyone-dns"]))
        #expect(partial == full, "the instant path's view of a user equals the full synchronisation's")
    }
}
