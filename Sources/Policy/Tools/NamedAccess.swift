/// A part of an access set named after the resource it is, for people reading a diff: `prod-ssh
/// (10.30.10.10/31 tcp/22)` says more than the merged prefixes alone.
public struct NamedAccess: Sendable, Hashable, CustomStringConvertible {
    /// The resource whose hosts this part covers, all of them on the same ports; nil for what no
    /// resource describes.
    public let resource: String?
    /// Whether the part is the whole resource: its hosts on its default ports.
    public let isWholeResource: Bool
    public let access: AccessSet

    /// `prod-ssh (10.30.10.10/31 tcp/22)`, `monitoring on tcp/443 (10.31.0.0/24 tcp/443)`, or the grants alone.
    public var description: String {
        guard let resource else { return access.description }
        if isWholeResource { return "\(resource) (\(access))" }
        return "\(resource) on \(Self.portsText(access)) (\(access))"
    }

    /// `set` cut into resources, in name order, and what is left as plain grants. A resource names a
    /// part only when the set holds every host of the resource on the same ports, so a name never
    /// claims more than the set allows.
    public static func describe(_ set: AccessSet, resources: [String: NetworkResource]) -> [NamedAccess] {
        var remaining = set
        var parts: [NamedAccess] = []
        for name in resources.keys.sorted() {
            guard !remaining.isEmpty, let resource = resources[name], !resource.hosts.isEmpty else { continue }
            let everywhere = grants(on: resource.hosts, ports: [.any])
            let inside = remaining.subtracting(remaining.subtracting(everywhere))
            guard !inside.isEmpty else { continue }
            let protocolsAndPorts = Set(inside.grants.map { ProtocolPorts(networkProtocol: $0.networkProtocol, ports: $0.ports) })
            let uniform = AccessSet(
                resource.hosts.flatMap { host in
                    protocolsAndPorts.map { AccessGrant(prefix: host, networkProtocol: $0.networkProtocol, ports: $0.ports) }
                })
            guard uniform.permitsTheSame(as: inside) else { continue }
            let whole = grants(on: resource.hosts, ports: resource.defaultPorts.isEmpty ? [.any] : resource.defaultPorts)
            parts.append(NamedAccess(resource: name, isWholeResource: whole.permitsTheSame(as: inside), access: inside))
            remaining = remaining.subtracting(inside)
        }
        if !remaining.isEmpty {
            parts.append(NamedAccess(resource: nil, isWholeResource: false, access: remaining))
        }
        return parts
    }

    /// Every host on every port of `ports`.
    static func grants(on hosts: [IPPrefix], ports: [PortSpec]) -> AccessSet {
        AccessSet(
            hosts.flatMap { host in
                ports.flatMap { spec in spec.parts.map { AccessGrant(prefix: host, networkProtocol: $0.0, ports: $0.1) } }
            })
    }

    /// The ports of a set as a policy writes them: `tcp/443, tcp/9090-9093`, `tcp`, `icmp`, `any`.
    static func portsText(_ set: AccessSet) -> String {
        let distinct = Set(set.grants.map { ProtocolPorts(networkProtocol: $0.networkProtocol, ports: $0.ports) })
        if distinct == Set(PortSpec.any.parts.map { ProtocolPorts(networkProtocol: $0.0, ports: $0.1) }) { return "any" }
        return distinct.sorted().map(\.description).joined(separator: ", ")
    }

    private struct ProtocolPorts: Hashable, Comparable, CustomStringConvertible {
        let networkProtocol: NetworkProtocol
        let ports: PortRange?

        var description: String {
            guard let ports, ports != .all else { return networkProtocol.rawValue }
            return "\(networkProtocol.rawValue)/\(ports)"
        }

        static func < (lhs: ProtocolPorts, rhs: ProtocolPorts) -> Bool {
            if lhs.networkProtocol != rhs.networkProtocol { return lhs.networkProtocol < rhs.networkProtocol }
            return (lhs.ports ?? .all) < (rhs.ports ?? .all)
        }
    }
}
