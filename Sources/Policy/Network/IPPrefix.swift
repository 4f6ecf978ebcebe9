/// An IPv4 or IPv6 network prefix such as `10.20.0.0/16` or `2001:db8::/32`.
///
/// Addresses are held in a `UInt128` (IPv4 in the low 32 bits), so that containment, splitting and
/// subtraction are the same integer arithmetic for both families.
public struct IPPrefix: Sendable, Hashable, Comparable, CustomStringConvertible {
    public enum Family: Int, Sendable, Comparable {
        case v4 = 4
        case v6 = 6

        public static func < (lhs: Family, rhs: Family) -> Bool { lhs.rawValue < rhs.rawValue }

        /// Bits in an address of this family.
        public var bitCount: Int { self == .v4 ? 32 : 128 }
    }

    public let family: Family
    /// The network address; host bits are zero.
    public let address: UInt128
    public let length: Int

    /// A prefix whose host bits are cleared.
    public init(family: Family, address: UInt128, length: Int) {
        precondition(length >= 0 && length <= family.bitCount)
        self.family = family
        self.length = length
        self.address = address & Self.mask(family: family, length: length)
    }

    /// The whole address space of a family: `0.0.0.0/0` or `::/0`.
    public static func everything(_ family: Family) -> IPPrefix {
        IPPrefix(family: family, address: 0, length: 0)
    }

    static func mask(family: Family, length: Int) -> UInt128 {
        guard length > 0 else { return 0 }
        let hostBits = family.bitCount - length
        let hostMask: UInt128 = hostBits == 0 ? 0 : (UInt128(1) << hostBits) - 1
        return allOnes(family) & ~hostMask
    }

    static func allOnes(_ family: Family) -> UInt128 {
        family == .v4 ? UInt128(UInt32.max) : .max
    }

    /// The last address in the prefix.
    public var lastAddress: UInt128 {
        address | (Self.allOnes(family) & ~Self.mask(family: family, length: length))
    }

    public func contains(_ other: IPPrefix) -> Bool {
        family == other.family && length <= other.length
            && other.address & Self.mask(family: family, length: length) == address
    }

    public func overlaps(_ other: IPPrefix) -> Bool {
        contains(other) || other.contains(self)
    }

    /// Whether `address` (of this family) lies in the prefix.
    public func contains(address other: UInt128) -> Bool {
        other & Self.mask(family: family, length: length) == address
    }

    /// The two halves of this prefix, one bit longer.
    public var halves: (IPPrefix, IPPrefix)? {
        guard length < family.bitCount else { return nil }
        let bit = UInt128(1) << (family.bitCount - length - 1)
        return (IPPrefix(family: family, address: address, length: length + 1), IPPrefix(family: family, address: address | bit, length: length + 1))
    }

    /// What remains of this prefix without `other`: at most `other.length - length` prefixes.
    public func subtracting(_ other: IPPrefix) -> [IPPrefix] {
        if other.contains(self) { return [] }
        guard contains(other) else { return [self] }
        var remaining: [IPPrefix] = []
        var current = self
        while current.length < other.length, let (low, high) = current.halves {
            if low.contains(other) {
                remaining.append(high)
                current = low
            } else {
                remaining.append(low)
                current = high
            }
        }
        return remaining
    }

    /// The smallest list of prefixes covering exactly the union of `prefixes`: contained ones dropped,
    /// sibling halves merged.
    public static func minimize(_ prefixes: [IPPrefix]) -> [IPPrefix] {
        var sorted = Array(Set(prefixes)).sorted()
        var changed = true
        while changed {
            changed = false
            var result: [IPPrefix] = []
            for prefix in sorted {
                if let last = result.last, last.contains(prefix) {
                    changed = true
                    continue
                }
                if let last = result.last, last.family == prefix.family, last.length == prefix.length, last.length > 0 {
                    let bit = UInt128(1) << (last.family.bitCount - last.length)
                    if last.address & bit == 0, prefix.address == last.address | bit {
                        result[result.count - 1] = IPPrefix(family: last.family, address: last.address, length: last.length - 1)
                        changed = true
                        continue
                    }
                }
                result.append(prefix)
            }
            sorted = result
        }
        return sorted
    }

    public static func < (lhs: IPPrefix, rhs: IPPrefix) -> Bool {
        if lhs.family != rhs.family { return lhs.family < rhs.family }
        if lhs.address != rhs.address { return lhs.address < rhs.address }
        return lhs.length < rhs.length
    }

    public var description: String {
        IPAddressText.format(address, family: family) + "/" + String(length)
    }
}

extension IPPrefix {
    /// Parses `ADDRESS/LENGTH` or a bare address (a host prefix). Host bits must be zero, so a typo
    /// such as `10.0.0.1/8` is reported instead of silently widened.
    public static func parse(_ text: String) throws(IPPrefixError) -> IPPrefix {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let (family, address) = IPAddressText.parse(String(parts[0])) else {
            throw IPPrefixError("'\(text)' is not an IPv4 or IPv6 address or prefix")
        }
        var length = family.bitCount
        if parts.count == 2 {
            guard parts[1].allSatisfy(\.isASCIIDigit), let parsed = Int(parts[1]), (0...family.bitCount).contains(parsed) else {
                throw IPPrefixError("'\(text)' has an invalid prefix length; use 0 to \(family.bitCount)")
            }
            length = parsed
        }
        let prefix = IPPrefix(family: family, address: address, length: length)
        guard prefix.address == address else {
            throw IPPrefixError("'\(text)' has host bits set; did you mean \(prefix)?")
        }
        return prefix
    }
}

/// Why a text is not an IP prefix.
public struct IPPrefixError: Error, Sendable, Equatable, CustomStringConvertible {
    public let description: String

    init(_ description: String) {
        self.description = description
    }
}
