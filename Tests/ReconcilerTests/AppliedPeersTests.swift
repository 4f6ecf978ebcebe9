import Testing

@testable import Reconciler
@testable import WireGuard

/// The reconciler's record of applied peers, looked up by user without walking every peer.
@Suite("Applied peers by user")
struct AppliedPeersTests {
    typealias Fixtures = PlanFixtures

    @Test("a user's peers are found by user, and forgotten when removed")
    func byUser() {
        var applied = AppliedPeers()
        let a1 = Fixtures.peer("u1", 1), a2 = Fixtures.peer("u1", 2), b = Fixtures.peer("u2", 3)
        for peer in [a1, a2, b] { applied[peer.peer.publicKey] = peer }
        #expect(applied.count == 3)
        #expect(applied.containsPeers(ofAny: ["u1"]))
        #expect(!applied.containsPeers(ofAny: ["u3", "u4"]))
        #expect(applied.subset(users: ["u1"], keys: []) == [a1.peer.publicKey: a1, a2.peer.publicKey: a2])
        #expect(applied.subset(users: ["u3"], keys: [b.peer.publicKey]) == [b.peer.publicKey: b], "a key's peer whoever holds it")

        applied[a1.peer.publicKey] = nil
        #expect(applied.subset(users: ["u1"], keys: []) == [a2.peer.publicKey: a2])
        applied[a2.peer.publicKey] = nil
        #expect(!applied.containsPeers(ofAny: ["u1"]), "a user without peers is not listed")
        #expect(applied.count == 1)
    }

    @Test("a key applied again for another user moves to that user")
    func keyChangesOwner() {
        var applied = AppliedPeers()
        let first = Fixtures.peer("u1", 1)
        let moved = DesiredState.Peer(peer: first.peer, userID: "u2", deviceID: first.deviceID, addresses: first.addresses)
        applied[first.peer.publicKey] = first
        applied[first.peer.publicKey] = moved
        #expect(!applied.containsPeers(ofAny: ["u1"]))
        #expect(applied.subset(users: ["u2"], keys: []) == [first.peer.publicKey: moved])
        #expect(applied.count == 1)
    }
}
