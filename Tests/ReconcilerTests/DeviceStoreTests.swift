import Foundation
import Policy
import SCIM
import Store
import Testing
import SystemTestSupport

@testable import Reconciler
@testable import WireGuard

@Suite("Device addresses in the store")
struct DeviceStoreTests {
    @Test("the first device gets index 2 and its addresses; the gateway's index 1 is never handed out")
    func firstDevice() async throws {
        let temporary = try TemporaryStore()
        let pool = try testPool()
        let alice = try await temporary.createUser(userName: "alice")
        let device = try await temporary.store.addDevice(for: alice, pool: pool)
        #expect(device.addressIndex == 2)
        #expect(device.address4 == "10.100.0.2/32")
        #expect(device.address6 == "fd00:100::2/128")
        #expect(device.userID == alice.id)
        #expect(try await temporary.store.device(id: device.id) == device)
    }

    struct GapCase: Sendable, CustomTestStringConvertible {
        let name: String
        let created: Int
        let deleted: [Int]
        let expectedNext: Int
        var testDescription: String { name }
    }

    @Test(
        "the lowest free index is taken once a freed one has rested (quarantine 0 here)",
        arguments: [
            GapCase(name: "no gap: the next one up", created: 3, deleted: [], expectedNext: 5),
            GapCase(name: "a gap in the middle", created: 4, deleted: [3], expectedNext: 3),
            GapCase(name: "the first index freed", created: 4, deleted: [2], expectedNext: 2),
            GapCase(name: "two gaps: the lower one", created: 5, deleted: [5, 3], expectedNext: 3),
            GapCase(name: "the highest freed", created: 4, deleted: [5], expectedNext: 5),
        ])
    func lowestFreeIndex(testCase: GapCase) async throws {
        let temporary = try TemporaryStore()
        let pool = try testPool()
        let alice = try await temporary.createUser(userName: "alice")
        var devices: [Device] = []
        for number in 0..<testCase.created {
            devices.append(try await temporary.store.addDevice(for: alice, name: "device \(number)", pool: pool, quarantine: 0))
        }
        #expect(devices.map(\.addressIndex) == Array(2..<(2 + testCase.created)))
        for index in testCase.deleted {
            let device = try #require(devices.first { $0.addressIndex == index })
            #expect(try await temporary.store.deleteDevice(id: device.id) == device)
        }
        let next = try await temporary.store.addDevice(for: alice, name: "new", pool: pool, quarantine: 0)
        #expect(next.addressIndex == testCase.expectedNext)
        #expect(next.address4 == pool.addresses(at: testCase.expectedNext).0.description)
    }

    @Test("a deleted device's index is not reused while in quarantine, and is once the quarantine has passed")
    func quarantine() async throws {
        let temporary = try TemporaryStore()
        let pool = try testPool()
        let alice = try await temporary.createUser(userName: "alice")
        let first = try await temporary.store.addDevice(for: alice, name: "first", pool: pool)
        let second = try await temporary.store.addDevice(for: alice, name: "second", pool: pool)
        try await temporary.store.deleteDevice(id: first.id)
        let released = nowMilliseconds()

        // An hour's quarantine has not passed, however slow the machine.
        let during = try await temporary.store.addDevice(for: alice, name: "during", pool: pool, quarantine: 3_600_000)
        #expect(during.addressIndex != first.addressIndex)
        #expect(during.addressIndex == second.addressIndex + 1)

        // A short one has, once waited out.
        let quarantine: Int64 = 200
        try await Task.sleep(for: .milliseconds(max(0, released + quarantine - nowMilliseconds()) + 50))
        let after = try await temporary.store.addDevice(for: alice, name: "after", pool: pool, quarantine: quarantine)
        #expect(after.addressIndex == first.addressIndex)
    }

    @Test("deleting a user deletes their devices and puts their indices into quarantine")
    func userDeletionQuarantines() async throws {
        let temporary = try TemporaryStore()
        let pool = try testPool()
        let alice = try await temporary.createUser(userName: "alice")
        let bob = try await temporary.createUser(userName: "bob")
        let phone = try await temporary.store.addDevice(for: alice, name: "phone", pool: pool)
        let laptop = try await temporary.store.addDevice(for: alice, name: "laptop", pool: pool)
        try await temporary.store.delete(.user, id: alice.id)
        #expect(try await temporary.store.devices(ofUser: alice.id).isEmpty)
        #expect(try await temporary.store.device(id: phone.id) == nil)

        let bobs = try await temporary.store.addDevice(for: bob, pool: pool, quarantine: 3_600_000)
        #expect(![phone.addressIndex, laptop.addressIndex].contains(bobs.addressIndex))
        #expect(bobs.addressIndex == 4)
        // With no quarantine the freed indices are free again, lowest first.
        let another = try await temporary.store.addDevice(for: bob, name: "another", pool: pool, quarantine: 0)
        #expect(another.addressIndex == phone.addressIndex)
    }

    @Test("a full pool is reported, counting indices in quarantine as taken")
    func exhaustion() async throws {
        let temporary = try TemporaryStore()
        let pool = try AddressPool.parse("10.100.0.0/29")  // indices 2 to 6
        let alice = try await temporary.createUser(userName: "alice")
        var devices: [Device] = []
        for number in 0..<pool.capacity {
            devices.append(try await temporary.store.addDevice(for: alice, name: "device \(number)", pool: pool))
        }
        #expect(devices.map(\.addressIndex) == [2, 3, 4, 5, 6])
        await #expect(throws: DeviceError.poolExhausted) {
            try await temporary.store.addDevice(for: alice, name: "one too many", pool: pool)
        }
        try await temporary.store.deleteDevice(id: devices[1].id)
        await #expect(throws: DeviceError.poolExhausted) {
            try await temporary.store.addDevice(for: alice, name: "still too many", pool: pool, quarantine: 3_600_000)
        }
        #expect(try await temporary.store.addDevice(for: alice, name: "after quarantine", pool: pool, quarantine: 0).addressIndex == 3)
    }

    @Test("devices of unknown users and duplicate names or keys are refused without using an index")
    func refusals() async throws {
        let temporary = try TemporaryStore()
        let pool = try testPool()
        let alice = try await temporary.createUser(userName: "alice")
        let laptop = try await temporary.store.addDevice(for: alice, name: "laptop", pool: pool)
        await #expect(throws: DeviceError.unknownUser("no-such-user")) {
            try await temporary.store.createDevice(
                Store.NewDevice(userID: "no-such-user", name: "x", publicKey: WireGuardKeyPair.generate().publicKey.base64),
                firstIndex: 2, capacity: 10, quarantine: 0
            ) { _ in ("10.100.0.9/32", nil) }
        }
        await #expect(throws: DeviceError.self) {
            try await temporary.store.addDevice(for: alice, name: "laptop", pool: pool)
        }
        await #expect(throws: DeviceError.self) {
            try await temporary.store.createDevice(
                Store.NewDevice(userID: alice.id, name: "other name", publicKey: laptop.publicKey), firstIndex: 2, capacity: 10, quarantine: 0
            ) { _ in ("10.100.0.9/32", nil) }
        }
        #expect(try await temporary.store.addDevice(for: alice, name: "phone", pool: pool).addressIndex == 3)
    }

    @Test("devices keep their preshared key and expiry")
    func storedFields() async throws {
        let temporary = try TemporaryStore()
        let pool = try testPool()
        let alice = try await temporary.createUser(userName: "alice")
        let expires = nowMilliseconds() + 86_400_000
        let device = try await temporary.store.addDevice(for: alice, pool: pool, expires: expires, presharedKey: key(7))
        let stored = try #require(try await temporary.store.device(id: device.id))
        #expect(stored.expires == expires)
        #expect(stored.presharedKey == key(7).base64)
        #expect(try await temporary.store.devices().map(\.id) == [device.id])
    }
}

@Suite("Durable revocation queue")
struct RevocationQueueTests {
    @Test("queued keys are listed with their reason; queuing a key again is ignored")
    func enqueue() async throws {
        let temporary = try TemporaryStore()
        try await temporary.store.enqueueRevocations(publicKeys: [key(1).base64, key(2).base64], reason: "wg0 unreachable")
        try await temporary.store.enqueueRevocations(publicKeys: [key(1).base64], reason: "second failure")
        try await temporary.store.enqueueRevocations(publicKeys: [], reason: "nothing")
        let pending = try await temporary.store.pendingRevocations()
        #expect(Set(pending.map(\.publicKey)) == [key(1).base64, key(2).base64])
        #expect(pending.allSatisfy { $0.reason == "wg0 unreachable" })
        #expect(pending.allSatisfy { abs($0.created - nowMilliseconds()) < 60_000 })
    }

    @Test("the queue survives closing and reopening the store")
    func survivesReopening() async throws {
        try await withTemporaryDirectory { directory in
            do {
                let store = try Store(directory: directory)
                try await store.enqueueRevocations(publicKeys: [key(3).base64, key(4).base64], reason: "nftables refused")
            }
            let reopened = try Store(directory: directory)
            #expect(Set(try await reopened.pendingRevocations().map(\.publicKey)) == [key(3).base64, key(4).base64])
            try await reopened.clearRevocations(publicKeys: [key(3).base64])
            let again = try Store(directory: directory)
            #expect(try await again.pendingRevocations().map(\.publicKey) == [key(4).base64])
        }
    }

    @Test("clearing removes only the given keys; clearing unknown keys or none is harmless")
    func clear() async throws {
        let temporary = try TemporaryStore()
        try await temporary.store.enqueueRevocations(publicKeys: [key(1).base64, key(2).base64, key(3).base64], reason: "test")
        try await temporary.store.clearRevocations(publicKeys: [key(2).base64, key(9).base64])
        try await temporary.store.clearRevocations(publicKeys: [])
        #expect(Set(try await temporary.store.pendingRevocations().map(\.publicKey)) == [key(1).base64, key(3).base64])
        try await temporary.store.clearRevocations(publicKeys: [key(1).base64, key(3).base64])
        #expect(try await temporary.store.pendingRevocations().isEmpty)
    }
}
