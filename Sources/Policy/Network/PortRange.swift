/// An inclusive range of TCP or UDP ports.
public struct PortRange: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let lower: UInt16
    public let upper: UInt16

    public init(_ lower: UInt16, _ upper: UInt16) {
        precondition(lower <= upper)
        self.lower = lower
        self.upper = upper
    }

    public static let all = PortRange(0, 65535)

    public func overlaps(_ other: PortRange) -> Bool {
        lower <= other.upper && other.lower <= upper
    }

    public func contains(_ port: UInt16) -> Bool {
        lower <= port && port <= upper
    }

    public func contains(_ other: PortRange) -> Bool {
        lower <= other.lower && other.upper <= upper
    }

    /// What remains without `other`: zero, one or two ranges.
    public func subtracting(_ other: PortRange) -> [PortRange] {
        guard overlaps(other) else { return [self] }
        var remaining: [PortRange] = []
        if other.lower > lower { remaining.append(PortRange(lower, other.lower - 1)) }
        if other.upper < upper { remaining.append(PortRange(other.upper + 1, upper)) }
        return remaining
    }

    /// The union of `ranges` as the fewest ranges, in order.
    public static func merge(_ ranges: [PortRange]) -> [PortRange] {
        var result: [PortRange] = []
        for range in ranges.sorted() {
            if let last = result.last, UInt32(range.lower) <= UInt32(last.upper) + 1 {
                result[result.count - 1] = PortRange(last.lower, max(last.upper, range.upper))
            } else {
                result.append(range)
            }
        }
        return result
    }

    public static func < (lhs: PortRange, rhs: PortRange) -> Bool {
        (lhs.lower, lhs.upper) < (rhs.lower, rhs.upper)
    }

    public var description: String {
        lower == upper ? String(lower) : "\(lower)-\(upper)"
    }
}

/// The protocol classes access is granted in. `other` is every IP protocol but TCP, UDP and ICMP,
/// so that `any` minus `tcp` stays expressible (nftables: `meta l4proto != { tcp, udp, icmp, ipv6-icmp }`).
public enum NetworkProtocol: String, Sendable, Hashable, Comparable, CaseIterable {
    case tcp, udp, icmp, other

    /// Whether access in this protocol is per port.
    public var hasPorts: Bool { self == .tcp || self == .udp }

    private var rank: Int {
        switch self {
        case .tcp: 0
        case .udp: 1
        case .icmp: 2
        case .other: 3
        }
    }

    public static func < (lhs: NetworkProtocol, rhs: NetworkProtocol) -> Bool {
        lhs.rank < rhs.rank
    }
}

/// A port specification as policies write it: `tcp/22`, `udp/53`, `tcp/8000-8100`, `tcp` (every
/// TCP port), `icmp`, or `any`.
public struct PortSpec: Sendable, Hashable, CustomStringConvertible {
    /// The protocols and port ranges this specification covers.
    public let parts: [(NetworkProtocol, PortRange?)]
    public let description: String

    public static func == (lhs: PortSpec, rhs: PortSpec) -> Bool { lhs.description == rhs.description }
    public func hash(into hasher: inout Hasher) { hasher.combine(description) }

    /// `any`: every protocol, every port.
    public static let any = PortSpec(parts: NetworkProtocol.allCases.map { ($0, $0.hasPorts ? PortRange.all : nil) }, description: "any")

    init(parts: [(NetworkProtocol, PortRange?)], description: String) {
        self.parts = parts
        self.description = description
    }

    public static func parse(_ text: String) throws(PortSpecError) -> PortSpec {
        let lowered = text.lowercased()
        switch lowered {
        case "any": return .any
        case "icmp": return PortSpec(parts: [(.icmp, nil)], description: "icmp")
        case "tcp", "udp":
            let proto: NetworkProtocol = lowered == "tcp" ? .tcp : .udp
            return PortSpec(parts: [(proto, .all)], description: lowered)
        default: break
        }
        let pieces = lowered.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard pieces.count == 2, let proto = NetworkProtocol(rawValue: String(pieces[0])), proto.hasPorts else {
            throw PortSpecError("'\(text)' is not a port specification; write tcp/22, udp/53, tcp/8000-8100, tcp, udp, icmp or any")
        }
        let bounds = pieces[1].split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
        guard let lower = port(bounds[0]), let upper = bounds.count == 2 ? port(bounds[1]) : lower else {
            throw PortSpecError("'\(text)' has an invalid port; ports are 0 to 65535")
        }
        guard lower <= upper else {
            throw PortSpecError("'\(text)' is an empty range; did you mean \(proto.rawValue)/\(upper)-\(lower)?")
        }
        let range = PortRange(lower, upper)
        return PortSpec(parts: [(proto, range)], description: "\(proto.rawValue)/\(range)")
    }

    private static func port(_ text: Substring) -> UInt16? {
        guard !text.isEmpty, text.count <= 5, text.allSatisfy(\.isASCIIDigit) else { return nil }
        return UInt16(text)
    }
}

/// Why a text is not a port specification.
public struct PortSpecError: Error, Sendable, Equatable, CustomStringConvertible {
    public let description: String

    init(_ description: String) {
        self.description = description
    }
}
