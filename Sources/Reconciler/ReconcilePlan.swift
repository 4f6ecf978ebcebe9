public import Firewall
public import Policy
public import WireGuard

/// The changes that take the gateway from what it has to what it should have, revocations first.
public struct ReconcilePlan: Sendable, Equatable {
    /// Peers to remove: revocations.
    public var peerRemovals: [WireGuardKey] = []
    /// Source-set changes that take access away, so revocations too: addresses leaving an accept
    /// rule's set, and addresses joining a drop rule's set (a deny that now applies to them).
    public var sourceRemovals: [FirewallChange] = []
    /// Peers to add or correct (allowed IPs, preshared key).
    public var peerUpserts: [WireGuardPeer] = []
    /// Source-set changes that give access: addresses joining an accept rule's set, and addresses
    /// leaving a drop rule's set.
    public var sourceAdditions: [FirewallChange] = []
    /// The rule structure changed (rules added, removed or changed: a policy change): the table must be
    /// reloaded in full.
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
        guard let actualFirewall, sameStructure(actualFirewall, desired.rules) else {
            plan.needsFirewallLoad = true
            return plan
        }
        // Same rules (sameStructure): only their members can differ.
        for (id, wanted) in desired.rules.sorted(by: { $0.key < $1.key }) {
            let have = actualFirewall.rules[id]?.sources ?? []
            for address in have.subtracting(wanted.sources).sorted() { plan.record(.removeSource(ruleID: id, address: address), wanted.verdict) }
            for address in wanted.sources.subtracting(have).sorted() { plan.record(.addSource(ruleID: id, address: address), wanted.verdict) }
        }
        return plan
    }

    /// The plan for some users only: their peers and their addresses' rule memberships.
    /// `appliedPeers` is what the reconciler last put on the gateway: at least these users' peers and
    /// the desired peers' keys (the whole gateway also does, at the cost of walking it).
    public static func forUsers(
        _ users: Set<String>, desired: DesiredState, appliedPeers: [WireGuardKey: DesiredState.Peer], appliedFirewall: FirewallState
    ) -> ReconcilePlan {
        var plan = ReconcilePlan()
        let theirs = appliedPeers.values.filter { users.contains($0.userID) }
        let wanted = desired.peers.values.filter { users.contains($0.userID) }
        let wantedKeys = Set(wanted.map(\.peer.publicKey))
        plan.peerRemovals = theirs.map(\.peer.publicKey).filter { !wantedKeys.contains($0) }.sorted { $0.base64 < $1.base64 }
        plan.peerUpserts = wanted.filter { appliedPeers[$0.peer.publicKey]?.peer != $0.peer }.map(\.peer).sorted { $0.publicKey.base64 < $1.publicKey.base64 }

        // Which rule sets their addresses are in now, and which they should be in.
        let addresses = Set(theirs.flatMap(\.addresses)).union(wanted.flatMap(\.addresses))
        var wantedRules: [IPPrefix: Set<String>] = [:]
        for peer in wanted {
            let ids = Set(desired.rulesOfUser[peer.userID] ?? [])
            for address in peer.addresses { wantedRules[address, default: []].formUnion(ids) }
        }
        for (id, firewallRule) in appliedFirewall.rules.sorted(by: { $0.key < $1.key }) {
            for address in firewallRule.sources.intersection(addresses).sorted() where wantedRules[address]?.contains(id) != true {
                plan.record(.removeSource(ruleID: id, address: address), firewallRule.verdict)
            }
        }
        for (address, ids) in wantedRules.sorted(by: { $0.key < $1.key }) {
            for id in ids.sorted() {
                guard let existing = appliedFirewall.rules[id], existing.access == desired.rules[id]?.access else {
                    plan.needsFirewallLoad = true  // the policy changed since the table was loaded
                    continue
                }
                if !existing.sources.contains(address) {
                    plan.record(.addSource(ruleID: id, address: address), existing.verdict)
                }
            }
        }
        return plan
    }

    /// Files a source-set change by what it does to access: joining a drop rule's set takes access
    /// away like leaving an accept rule's set does, so it goes with the revocations (applied first);
    /// leaving a drop rule's set gives access, so it waits with the additions.
    private mutating func record(_ change: FirewallChange, _ verdict: FirewallRule.Verdict) {
        let joins = if case .addSource = change { true } else { false }
        if joins == (verdict == .accept) {
            sourceAdditions.append(change)
        } else {
            sourceRemovals.append(change)
        }
    }

    /// Whether two sets of rules have the same ids, verdicts and access (sources aside).
    static func sameStructure(_ actual: FirewallState, _ desired: [String: FirewallRule]) -> Bool {
        guard Set(actual.rules.keys) == Set(desired.keys) else { return false }
        return desired.allSatisfy { id, wanted in
            actual.rules[id]?.access == wanted.access && actual.rules[id]?.verdict == wanted.verdict
        }
    }
}
