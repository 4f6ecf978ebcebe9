/// Permission to reach one prefix in one protocol class, on a port range for TCP and UDP.
public struct AccessGrant: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let prefix: IPPrefix
    public let networkProtocol: NetworkProtocol
    /// nil for ICMP and other protocols, which have no ports.
    public let ports: PortRange?

    public init(prefix: IPPrefix, networkProtocol: NetworkProtocol, ports: PortRange?) {
        self.prefix = prefix
        self.networkProtocol = networkProtocol
        self.ports = networkProtocol.hasPorts ? (ports ?? .all) : nil
    }

    public func overlaps(_ other: AccessGrant) -> Bool {
        guard networkProtocol == other.networkProtocol, prefix.overlaps(other.prefix) else { return false }
        guard let ports, let otherPorts = other.ports else { return true }
        return ports.overlaps(otherPorts)
    }

    /// Whether this grant lets a packet to `address` in `networkProtocol` on `port` through.
    public func permits(address: UInt128, family: IPPrefix.Family, networkProtocol: NetworkProtocol, port: UInt16?) -> Bool {
        guard self.networkProtocol == networkProtocol, prefix.family == family, prefix.contains(address: address) else { return false }
        guard let ports else { return true }
        guard let port else { return false }
        return ports.contains(port)
    }

    /// What remains of this grant without `other`.
    public func subtracting(_ other: AccessGrant) -> [AccessGrant] {
        guard overlaps(other) else { return [self] }
        // Outside the other's prefix: every port stays. Inside it: only the ports the other does not cover.
        var remaining = prefix.subtracting(other.prefix).map {
            AccessGrant(prefix: $0, networkProtocol: networkProtocol, ports: ports)
        }
        if let ports, let otherPorts = other.ports {
            let inside = prefix.length >= other.prefix.length ? prefix : other.prefix
            remaining += ports.subtracting(otherPorts).map { AccessGrant(prefix: inside, networkProtocol: networkProtocol, ports: $0) }
        }
        return remaining
    }

    public static func < (lhs: AccessGrant, rhs: AccessGrant) -> Bool {
        if lhs.prefix != rhs.prefix { return lhs.prefix < rhs.prefix }
        if lhs.networkProtocol != rhs.networkProtocol { return lhs.networkProtocol < rhs.networkProtocol }
        return (lhs.ports ?? .all) < (rhs.ports ?? .all)
    }

    public var description: String {
        guard let ports else { return "\(prefix) \(networkProtocol.rawValue)" }
        return "\(prefix) \(networkProtocol.rawValue)/\(ports)"
    }
}

/// A set of grants in canonical form: no two grants overlap, ports merged per prefix and prefixes
/// merged per port range, sorted. The same grants always give the same form; to compare what two
/// sets let through, subtract them both ways.
public struct AccessSet: Sendable, Hashable, CustomStringConvertible {
    public private(set) var grants: [AccessGrant]

    public static let empty = AccessSet(canonical: [])

    private init(canonical: [AccessGrant]) {
        grants = canonical
    }

    /// The union of `grants`.
    public init(_ grants: [AccessGrant]) {
        self.grants = Self.canonicalize(grants)
    }

    public var isEmpty: Bool { grants.isEmpty }

    /// Every packet this set lets through that `other` does not.
    public func subtracting(_ other: AccessSet) -> AccessSet {
        guard !other.isEmpty, !isEmpty else { return self }
        var remaining = grants
        for deny in other.grants {
            var next: [AccessGrant] = []
            next.reserveCapacity(remaining.count)
            for grant in remaining {
                if grant.overlaps(deny) {
                    next += grant.subtracting(deny)
                } else {
                    next.append(grant)
                }
            }
            remaining = next
        }
        return AccessSet(remaining)
    }

    public func union(_ other: AccessSet) -> AccessSet {
        AccessSet(grants + other.grants)
    }

    /// Whether a packet to `address` in `networkProtocol` on `port` gets through.
    public func permits(address: UInt128, family: IPPrefix.Family, networkProtocol: NetworkProtocol, port: UInt16?) -> Bool {
        grants.contains { $0.permits(address: address, family: family, networkProtocol: networkProtocol, port: port) }
    }

    /// The fewest prefixes that cover every destination: a client's `AllowedIPs`.
    public var allowedIPs: [IPPrefix] {
        IPPrefix.minimize(grants.map(\.prefix))
    }

    public var description: String {
        grants.map(\.description).joined(separator: ", ")
    }

    /// Non-overlapping, merged and sorted. Overlaps are removed first by subtracting what earlier
    /// grants already cover, then port ranges are merged per prefix and prefixes per port range,
    /// until nothing more merges.
    private static func canonicalize(_ input: [AccessGrant]) -> [AccessGrant] {
        var disjoint: [AccessGrant] = []
        for grant in Set(input).sorted() {
            var pieces = [grant]
            for existing in disjoint where existing.overlaps(grant) {
                pieces = pieces.flatMap { $0.overlaps(existing) ? $0.subtracting(existing) : [$0] }
                if pieces.isEmpty { break }
            }
            disjoint += pieces
        }
        // Merging prefixes can make port ranges mergeable and the other way round ({/24 tcp/1-10,
        // /25 tcp/11-20, its sibling /25 tcp/11-20} is /24 tcp/1-20): repeat until nothing merges.
        var merged = mergeOnce(disjoint)
        while merged.count < disjoint.count {
            disjoint = merged
            merged = mergeOnce(disjoint)
        }
        return merged.sorted()
    }

    /// Disjoint grants with port ranges merged per prefix, then prefixes merged per port range.
    private static func mergeOnce(_ disjoint: [AccessGrant]) -> [AccessGrant] {
        // Merge port ranges that share a prefix and protocol.
        var byPrefix: [PrefixKey: [PortRange]] = [:]
        var portless: Set<AccessGrant> = []
        for grant in disjoint {
            if let ports = grant.ports {
                byPrefix[PrefixKey(prefix: grant.prefix, networkProtocol: grant.networkProtocol), default: []].append(ports)
            } else {
                portless.insert(grant)
            }
        }
        // Then merge prefixes that share a protocol and port range.
        var byPorts: [PortsKey: [IPPrefix]] = [:]
        for (key, ranges) in byPrefix {
            for range in PortRange.merge(ranges) {
                byPorts[PortsKey(networkProtocol: key.networkProtocol, ports: range), default: []].append(key.prefix)
            }
        }
        for grant in portless {
            byPorts[PortsKey(networkProtocol: grant.networkProtocol, ports: nil), default: []].append(grant.prefix)
        }
        var result: [AccessGrant] = []
        for (key, prefixes) in byPorts {
            for prefix in IPPrefix.minimize(prefixes) {
                result.append(AccessGrant(prefix: prefix, networkProtocol: key.networkProtocol, ports: key.ports))
            }
        }
        return result
    }

    private struct PrefixKey: Hashable {
        let prefix: IPPrefix
        let networkProtocol: NetworkProtocol
    }

    private struct PortsKey: Hashable {
        let networkProtocol: NetworkProtocol
        let ports: PortRange?
    }
}
