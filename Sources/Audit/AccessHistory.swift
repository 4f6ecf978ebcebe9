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

    /// Every user and device that could reach `target` at `at`, with the allow rule(s) that let it.
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
        var rows: [AccessRow] = []
        rows.reserveCapacity(allowed.count)
        let names = try await userNames(Set(allowed.map(\.membership.userID)))
        // Per rule version rather than per row: whether it lets the target through from a source
        // that no deny rule holds, and its destinations.
        var ofVersion: [String: (reachesWithoutDeny: Bool, destinations: [String])] = [:]
        // A device's tunnel address of the other family cannot reach the target: one row per device.
        let targetIsV6 = target.address.family == .v6
        for interval in allowed where interval.membership.address.utf8.contains(UInt8(ascii: ":")) == targetIsV6 {
            guard let rule = rules[interval.membership.ruleVersion] else { continue }
            let version: (reachesWithoutDeny: Bool, destinations: [String])
            if let known = ofVersion[rule.version] {
                version = known
            } else {
                version = (rule.grants.contains(where: target.isReached), rule.grants.map(\.description))
                ofVersion[rule.version] = version
            }
            if let denies = denyOfSource[interval.membership.address] {
                let reaching = AccessSet(rule.grants.filter(target.isReached))
                let effective = reaching.subtracting(AccessSet(denies))
                guard effective.grants.contains(where: target.isReached) else { continue }
            } else {
                guard version.reachesWithoutDeny else { continue }
            }
            rows.append(row(interval, rule: rule, names: names, destinations: version.destinations))
        }
        return Self.sorted(rows)
    }

    /// By userName, then device, then rule; rows that tie keep their order. When every text is
    /// ASCII without NUL (as userNames, device ids and rule names nearly always are), each row's
    /// three texts become one byte string, NUL-separated, whose byte order is `String`'s order of
    /// the triple, and positions are sorted by those: comparing the rows' Strings pairwise was most
    /// of the time of an answer of 10,000s of rows.
    static func sorted(_ rows: [AccessRow]) -> [AccessRow] {
        var bytes: [UInt8] = []
        var bounds: [Range<Int>] = []
        bounds.reserveCapacity(rows.count)
        var plain = true
        for row in rows where plain {
            let start = bytes.count
            bytes.append(contentsOf: row.userName.utf8)
            bytes.append(0)
            bytes.append(contentsOf: row.deviceID.utf8)
            bytes.append(0)
            bytes.append(contentsOf: row.rule.utf8)
            var separators = 0
            for byte in bytes[start...] {
                if byte >= 0x80 { plain = false }
                if byte == 0 { separators += 1 }
            }
            plain = plain && separators == 2
            bounds.append(start..<bytes.count)
        }
        let order: [Int]
        if plain {
            order = bytes.withUnsafeBufferPointer { buffer in
                rows.indices.sorted { a, b in
                    let (x, y) = (bounds[a], bounds[b])
                    let common = min(x.count, y.count)
                    let result = common == 0 ? 0 : memcmp(buffer.baseAddress! + x.lowerBound, buffer.baseAddress! + y.lowerBound, common)
                    if result != 0 { return result < 0 }
                    if x.count != y.count { return x.count < y.count }
                    return a < b
                }
            }
        } else {
            order = rows.indices.sorted { a, b in
                let (x, y) = (rows[a], rows[b])
                if (x.userName, x.deviceID, x.rule) != (y.userName, y.deviceID, y.rule) {
                    return (x.userName, x.deviceID, x.rule) < (y.userName, y.deviceID, y.rule)
                }
                return a < b
            }
        }
        return order.map { rows[$0] }
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
        // Two reads for all of them, not one or two per user: the directory, then the audit records
        // of those no longer in it.
        var names = try await store.userNames(ids: ids)
        let deleted = ids.filter { names[$0] == nil }
        for record in try await store.auditRecords(userIDs: deleted, actionPrefix: "User.", limitPerUser: 1000) {
            guard let id = record.userID, let details = try? JSONParser.parse(record.details),
                let name = details.objectValue?["changes"]?.objectValue?["userName"]?.objectValue?["after"]?.stringValue
            else { continue }
            names[id] = name
        }
        return names
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

    static func grant(_ json: JSON) -> AccessGrant? {
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
