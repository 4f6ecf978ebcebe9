#if canImport(Glibc)
import Glibc
#endif
public import Policy
public import SCIM
public import Store

/// A destination asked about: an address, and optionally a protocol and port.
public struct AccessTarget: Sendable, Hashable, CustomStringConvertible {
    public let address: IPPrefix
    public let networkProtocol: NetworkProtocol?
    public let port: UInt16?

    /// Parses `HOST`, `HOST:PORT/PROTO`, `HOST:icmp`, `[IPv6]:PORT/PROTO`; nil with a reason otherwise.
    public static func parse(_ text: String) -> Result<AccessTarget, AccessTargetError> {
        var hostText = Substring(text)
        var rest: Substring = ""
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            hostText = text[text.index(after: text.startIndex)..<close]
            rest = text[text.index(after: close)...].drop { $0 == ":" }
        } else if text.filter({ $0 == ":" }).count == 1, let colon = text.firstIndex(of: ":") {
            hostText = text[..<colon]
            rest = text[text.index(after: colon)...]
        }
        guard let address = try? IPPrefix.parse(String(hostText)), address.length == address.family.bitCount else {
            return .failure(AccessTargetError("'\(hostText)' is not an IP address; write e.g. 10.30.0.5:5432/tcp"))
        }
        if rest.isEmpty { return .success(AccessTarget(address: address, networkProtocol: nil, port: nil)) }
        let pieces = rest.lowercased().split(separator: "/")
        if pieces.count == 1, let proto = NetworkProtocol(rawValue: String(pieces[0])), !proto.hasPorts {
            return .success(AccessTarget(address: address, networkProtocol: proto, port: nil))
        }
        guard pieces.count == 2 else { return .failure(AccessTargetError("'\(rest)' is not PORT/PROTO, e.g. 443/tcp, 53/udp or icmp")) }
        let (portText, protoText) = UInt16(pieces[0]) != nil ? (pieces[0], pieces[1]) : (pieces[1], pieces[0])
        guard let proto = NetworkProtocol(rawValue: String(protoText)), proto.hasPorts, let port = UInt16(portText) else {
            return .failure(AccessTargetError("'\(rest)' is not PORT/PROTO, e.g. 443/tcp or 53/udp"))
        }
        return .success(AccessTarget(address: address, networkProtocol: proto, port: port))
    }

    public var description: String {
        let host = address.family == .v6 ? "[\(address.description.split(separator: "/")[0])]" : String(address.description.split(separator: "/")[0])
        switch (networkProtocol, port) {
        case (let proto?, let port?): return "\(host):\(port)/\(proto.rawValue)"
        case (let proto?, nil): return "\(host):\(proto.rawValue)"
        default: return host
        }
    }

    /// Whether a grant lets traffic to this target through (any protocol and port when none is given).
    func isReached(by grant: AccessGrant) -> Bool {
        guard grant.prefix.family == address.family, grant.prefix.contains(address: address.address) else { return false }
        guard let networkProtocol else { return true }
        return grant.permits(address: address.address, family: address.family, networkProtocol: networkProtocol, port: port)
    }
}

public struct AccessTargetError: Error, Sendable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// One row of an access-history answer: a device of a user in a rule, for an interval.
public struct AccessRow: Sendable, Hashable {
    public let userID: String
    public let userName: String
    public let deviceID: String
    public let address: String
    public let rule: String
    /// `allow` or `deny`.
    public let effect: String
    /// The rule's destinations, e.g. `10.30.0.0/24 tcp/5432`.
    public let destinations: [String]
    public let since: Int64
    public let until: Int64?
}

/// Answers from the access history the reconciler records: who could reach a destination at an
/// instant, and what a user could reach over a window. The gateway checks deny rules before allow
/// rules, and so do these answers.
public struct AccessHistory: Sendable {
    let store: Store

    public init(store: Store) {
        self.store = store
    }

    /// Every user and device that could reach `target` at `at`, with the allow rule(s) that let it;
    /// by userName, then device, then rule.
    public func whoCouldReach(_ target: AccessTarget, at: Int64) async throws -> [AccessRow] {
        let rules = try await ruleVersions()
        let allow = rules.values.filter { $0.effect == "allow" && $0.grants.contains(where: target.isReached) }
        let deny = rules.values.filter { $0.effect == "deny" && $0.grants.contains { $0.prefix.family == target.address.family && $0.prefix.contains(address: target.address.address) } }
        let allowed = try await store.accessIntervals(ruleVersions: allow.map(\.version), at: at)
        let denied = try await store.accessIntervals(ruleVersions: deny.map(\.version), at: at)
        var denyOfSource: [String: [AccessGrant]] = [:]
        for interval in denied {
            denyOfSource[interval.membership.address, default: []] += rules[interval.membership.ruleVersion]?.grants ?? []
        }
        // Per rule version rather than per row: its rule and destinations, by index.
        let versions = allow.map { (rule: $0, destinations: $0.grants.map(\.description)) }
        var versionIndex: [String: Int] = [:]
        for (index, version) in versions.enumerated() { versionIndex[version.rule.version] = index }
        // A device's tunnel address of the other family cannot reach the target: one row per device.
        let targetIsV6 = target.address.family == .v6
        // The rows to answer, as (interval, version) indices: no copies of their texts until the end.
        var kept: [(interval: Int, version: Int)] = []
        kept.reserveCapacity(allowed.count)
        for (position, interval) in allowed.enumerated() where interval.membership.address.utf8.contains(UInt8(ascii: ":")) == targetIsV6 {
            guard let index = versionIndex[interval.membership.ruleVersion] else { continue }
            if !denyOfSource.isEmpty, let denies = denyOfSource[interval.membership.address] {
                // Every allow version here reaches the target (so chosen); with a deny, what is left must.
                let reaching = AccessSet(versions[index].rule.grants.filter(target.isReached))
                guard reaching.subtracting(AccessSet(denies)).grants.contains(where: target.isReached) else { continue }
            }
            kept.append((position, index))
        }
        // The users in userName order give each row a rank: the rows sort by integers, and compare
        // device ids and rule names only among one user's rows (sorting the rows by their texts was
        // most of the time of an answer of 10,000s of rows).
        let ordered = try await orderedUserNames(Set(kept.map { allowed[$0.interval].membership.userID }))
        var rank: [String: Int] = [:]
        rank.reserveCapacity(ordered.count)
        for (position, entry) in ordered.enumerated() { rank[entry.id] = position }
        // Every id is in `ordered`; one that were not would sort last, named by its id.
        let ranks = kept.map { rank[allowed[$0.interval].membership.userID] ?? ordered.count }
        let order = kept.indices.sorted { a, b in
            if ranks[a] != ranks[b] { return ranks[a] < ranks[b] }
            let (x, y) = (allowed[kept[a].interval].membership, allowed[kept[b].interval].membership)
            if x.deviceID != y.deviceID { return x.deviceID < y.deviceID }
            let (p, q) = (versions[kept[a].version].rule.name, versions[kept[b].version].rule.name)
            if p != q { return p < q }
            return a < b
        }
        return order.map { index in
            let interval = allowed[kept[index].interval]
            let version = versions[kept[index].version]
            return AccessRow(
                userID: interval.membership.userID,
                userName: ranks[index] < ordered.count ? ordered[ranks[index]].userName : interval.membership.userID,
                deviceID: interval.membership.deviceID,
                address: interval.membership.address, rule: version.rule.name, effect: version.rule.effect, destinations: version.destinations,
                since: interval.since, until: interval.until)
        }
    }

    /// Everything a user could reach between `from` and `until`, interval by interval (deny rules
    /// they were in too, marked as such).
    public func userAccess(userID: String, from: Int64, until: Int64) async throws -> [AccessRow] {
        let rules = try await ruleVersions()
        let names = try await userNames([userID])
        return try await store.accessIntervals(userID: userID, from: from, until: until).compactMap { interval in
            rules[interval.membership.ruleVersion].map { row(interval, rule: $0, names: names) }
        }
    }

    /// Every interval overlapping the window, for reports.
    func intervals(from: Int64, until: Int64) async throws -> [AccessRow] {
        let rules = try await ruleVersions()
        let intervals = try await store.accessIntervals(userID: nil, from: from, until: until)
        let names = try await userNames(Set(intervals.map(\.membership.userID)))
        return intervals.compactMap { interval in rules[interval.membership.ruleVersion].map { row(interval, rule: $0, names: names) } }
    }

    /// The userName of each user: current, or for deleted users the last one the audit log recorded.
    public func userNames(_ ids: Set<String>) async throws -> [String: String] {
        Dictionary(try await orderedUserNames(ids).map { ($0.id, $0.userName) }, uniquingKeysWith: { first, _ in first })
    }

    /// Every one of these users with their userName (as `userNames` gives it, or the id when none is
    /// known), in `String` order of the names.
    func orderedUserNames(_ ids: Set<String>) async throws -> [(id: String, userName: String)] {
        // Two reads for all of them, not one or two per user: the directory, then the audit records
        // of those no longer in it. The directory's come in byte order, which is `String` order when
        // they are ASCII (nearly always); the others are few and sorted here, then merged in.
        var (directory, deleted) = try await store.userNames(ids: ids)
        if !directory.allSatisfy({ $0.userName.utf8.allSatisfy { $0 < 0x80 } }) {
            directory.sort { $0.userName < $1.userName }
        }
        guard !deleted.isEmpty else { return directory }
        let recorded = try await store.lastRecordedUserNames(ids: deleted)
        let rest = deleted.map { (id: $0, userName: recorded[$0] ?? $0) }.sorted { ($0.userName, $0.id) < ($1.userName, $1.id) }
        var merged: [(id: String, userName: String)] = []
        merged.reserveCapacity(directory.count + rest.count)
        var (i, j) = (0, 0)
        while i < directory.count || j < rest.count {
            if j == rest.count || (i < directory.count && directory[i].userName <= rest[j].userName) {
                merged.append(directory[i])
                i += 1
            } else {
                merged.append(rest[j])
                j += 1
            }
        }
        return merged
    }

    struct Rule {
        let version: String
        let name: String
        let effect: String
        let grants: [AccessGrant]
    }

    func ruleVersions() async throws -> [String: Rule] {
        var rules: [String: Rule] = [:]
        for version in try await store.accessRuleVersions() {
            let grants = (version.grants.arrayValue ?? []).compactMap(Self.grant)
            rules[version.version] = Rule(version: version.version, name: version.name, effect: version.verdict == "drop" ? "deny" : "allow", grants: grants)
        }
        return rules
    }

    /// A grant as the access history stores it (`{"prefix", "protocol", "ports"}`), or nil.
    public static func grant(_ json: JSON) -> AccessGrant? {
        guard let object = json.objectValue, let prefixText = object["prefix"]?.stringValue, let prefix = try? IPPrefix.parse(prefixText),
            let proto = object["protocol"]?.stringValue.flatMap(NetworkProtocol.init(rawValue:))
        else { return nil }
        var ports: PortRange?
        if let text = object["ports"]?.stringValue {
            let bounds = text.split(separator: "-").compactMap { UInt16($0) }
            if bounds.count == 1 { ports = PortRange(bounds[0], bounds[0]) }
            if bounds.count == 2, bounds[0] <= bounds[1] { ports = PortRange(bounds[0], bounds[1]) }
        }
        return AccessGrant(prefix: prefix, networkProtocol: proto, ports: ports)
    }

    private func row(_ interval: AccessInterval, rule: Rule, names: [String: String], destinations: [String]? = nil) -> AccessRow {
        AccessRow(
            userID: interval.membership.userID, userName: names[interval.membership.userID] ?? interval.membership.userID,
            deviceID: interval.membership.deviceID, address: interval.membership.address, rule: rule.name, effect: rule.effect,
            destinations: destinations ?? rule.grants.map(\.description), since: interval.since, until: interval.until)
    }
}
