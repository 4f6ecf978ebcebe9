public import Firewall
public import Policy
public import WireGuard

/// The changes that take the gateway from what it has to what it should have, revocations first.
public struct ReconcilePlan: Sendable, Equatable {
    /// Peers to remove: revocations.
    public var peerRemovals: [WireGuardKey] = []
    /// Tunnel addresses to take out of class source sets: revocations too.
    public var sourceRemovals: [FirewallChange] = []
    /// Peers to add or correct (allowed IPs, preshared key).
    public var peerUpserts: [WireGuardPeer] = []
    /// Tunnel addresses to put into class source sets.
    public var sourceAdditions: [FirewallChange] = []
    /// The class structure changed (new or changed classes): the table must be reloaded in full.
    public var needsFirewallLoad = false

    public init() {}

    public var isEmpty: Bool {
        peerRemovals.isEmpty && sourceRemovals.isEmpty && peerUpserts.isEmpty && sourceAdditions.isEmpty && !needsFirewallLoad
    }

    /// Whether the plan takes anything away from anyone.
    public var hasRevocations: Bool { !peerRemovals.isEmpty || !sourceRemovals.isEmpty }

    /// The plan for the whole gateway: `actualPeers` and `actualFirewall` are what it has now.
    public static func full(desired: DesiredState, actualPeers: [WireGuardPeer], actualFirewall: FirewallState?) -> ReconcilePlan {
        var plan = ReconcilePlan()
        let actual = Dictionary(actualPeers.map { ($0.publicKey, $0) }, uniquingKeysWith: { first, _ in first })
        plan.peerRemovals = actual.keys.filter { desired.peers[$0] == nil }.sorted { $0.base64 < $1.base64 }
        plan.peerUpserts = desired.peers.values.filter { actual[$0.peer.publicKey] != $0.peer }.map(\.peer).sorted { $0.publicKey.base64 < $1.publicKey.base64 }
        guard let actualFirewall, sameStructure(actualFirewall, desired.classes) else {
            plan.needsFirewallLoad = true
            return plan
        }
        // Same classes (sameStructure): only their members can differ.
        for (id, wanted) in desired.classes.sorted(by: { $0.key < $1.key }) {
            let have = actualFirewall.classes[id]?.sources ?? []
            plan.sourceRemovals += have.subtracting(wanted.sources).sorted().map { .removeSource(classID: id, address: $0) }
            plan.sourceAdditions += wanted.sources.subtracting(have).sorted().map { .addSource(classID: id, address: $0) }
        }
        return plan
    }

    /// The plan for some users only: their peers and their addresses' class membership.
    /// `applied` is what the reconciler last put on the gateway.
    public static func forUsers(
        _ users: Set<String>, desired: DesiredState, appliedPeers: [WireGuardKey: DesiredState.Peer], appliedFirewall: FirewallState
    ) -> ReconcilePlan {
        var plan = ReconcilePlan()
        let theirs = appliedPeers.values.filter { users.contains($0.userID) }
        let wanted = desired.peers.values.filter { users.contains($0.userID) }
        let wantedKeys = Set(wanted.map(\.peer.publicKey))
        plan.peerRemovals = theirs.map(\.peer.publicKey).filter { !wantedKeys.contains($0) }.sorted { $0.base64 < $1.base64 }
        plan.peerUpserts = wanted.filter { appliedPeers[$0.peer.publicKey]?.peer != $0.peer }.map(\.peer).sorted { $0.publicKey.base64 < $1.publicKey.base64 }

        // Where their addresses are now, and where they should be.
        let addresses = Set(theirs.flatMap(\.addresses)).union(wanted.flatMap(\.addresses))
        var wantedClass: [IPPrefix: String] = [:]
        for peer in wanted {
            guard let classID = desired.classOfUser[peer.userID] else { continue }
            for address in peer.addresses { wantedClass[address] = classID }
        }
        for (id, firewallClass) in appliedFirewall.classes.sorted(by: { $0.key < $1.key }) {
            for address in firewallClass.sources.intersection(addresses) where wantedClass[address] != id {
                plan.sourceRemovals.append(.removeSource(classID: id, address: address))
            }
        }
        for (address, classID) in wantedClass.sorted(by: { $0.key < $1.key }) {
            guard let existing = appliedFirewall.classes[classID] else {
                plan.needsFirewallLoad = true  // a combination of rules no one had yet
                continue
            }
            if existing.access != desired.classes[classID]?.access { plan.needsFirewallLoad = true }
            if !existing.sources.contains(address) {
                plan.sourceAdditions.append(.addSource(classID: classID, address: address))
            }
        }
        return plan
    }

    /// Whether two sets of classes have the same ids and access (sources aside).
    static func sameStructure(_ actual: FirewallState, _ desired: [String: FirewallClass]) -> Bool {
        guard Set(actual.classes.keys) == Set(desired.keys) else { return false }
        return desired.allSatisfy { id, wanted in actual.classes[id]?.access == wanted.access }
    }
}
