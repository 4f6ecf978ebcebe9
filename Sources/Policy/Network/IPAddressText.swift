/// Reading and writing IP addresses as text: dotted IPv4, and IPv6 in RFC 5952 form.
enum IPAddressText {
    static func parse(_ text: String) -> (IPPrefix.Family, UInt128)? {
        if text.contains(":") {
            return parseV6(text).map { (.v6, $0) }
        }
        return parseV4(text).map { (.v4, UInt128($0)) }
    }

    static func parseV4(_ text: String) -> UInt32? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var value: UInt32 = 0
        for part in parts {
            guard !part.isEmpty, part.count <= 3, part.allSatisfy(\.isASCIIDigit), let octet = UInt8(part) else { return nil }
            guard part.count == 1 || part.first != "0" else { return nil }  // no octal-looking octets
            value = value << 8 | UInt32(octet)
        }
        return value
    }

    static func parseV6(_ input: String) -> UInt128? {
        var text = input
        // A trailing dotted quad (::ffff:10.0.0.1) is the last two groups.
        if let lastColon = text.lastIndex(of: ":"), text[text.index(after: lastColon)...].contains(".") {
            guard let v4 = parseV4(String(text[text.index(after: lastColon)...])) else { return nil }
            text = String(text[...lastColon]) + String(v4 >> 16, radix: 16) + ":" + String(v4 & 0xFFFF, radix: 16)
        }
        guard let (head, tail) = splitAtDoubleColon(text) else { return nil }
        guard let headGroups = groups(head) else { return nil }
        var all = headGroups
        if let tail {
            guard let tailGroups = groups(tail), headGroups.count + tailGroups.count <= 7 else { return nil }
            all += Array(repeating: 0, count: 8 - headGroups.count - tailGroups.count) + tailGroups
        }
        guard all.count == 8 else { return nil }
        return all.reduce(UInt128(0)) { $0 << 16 | UInt128($1) }
    }

    /// The text before and after its one `::`, or the whole text and nil; two `::` make it invalid.
    private static func splitAtDoubleColon(_ text: String) -> (Substring, Substring?)? {
        let characters = Array(text)
        var found: Int?
        var index = 0
        while index + 1 < characters.count {
            if characters[index] == ":", characters[index + 1] == ":" {
                if found != nil { return nil }
                found = index
                index += 2
                continue
            }
            index += 1
        }
        guard let found else { return (Substring(text), nil) }
        let start = text.index(text.startIndex, offsetBy: found)
        return (text[..<start], text[text.index(start, offsetBy: 2)...])
    }

    private static func groups(_ part: Substring) -> [UInt16]? {
        guard !part.isEmpty else { return [] }
        var result: [UInt16] = []
        for group in part.split(separator: ":", omittingEmptySubsequences: false) {
            guard !group.isEmpty, group.count <= 4, group.allSatisfy(\.isHexDigit), let value = UInt16(group, radix: 16) else { return nil }
            result.append(value)
        }
        return result
    }

    static func format(_ address: UInt128, family: IPPrefix.Family) -> String {
        family == .v4 ? formatV4(UInt32(truncatingIfNeeded: address)) : formatV6(address)
    }

    static func formatV4(_ address: UInt32) -> String {
        [24, 16, 8, 0].map { String((address >> UInt32($0)) & 0xFF) }.joined(separator: ".")
    }

    /// RFC 5952: lowercase, no leading zeros, the longest run (of two or more) of zero groups as `::`.
    static func formatV6(_ address: UInt128) -> String {
        let groups = (0..<8).map { UInt16(truncatingIfNeeded: address >> UInt128(112 - 16 * $0)) }
        var bestStart = -1
        var bestLength = 0
        var index = 0
        while index < 8 {
            if groups[index] == 0 {
                var end = index
                while end < 8, groups[end] == 0 { end += 1 }
                if end - index > bestLength, end - index >= 2 {
                    bestStart = index
                    bestLength = end - index
                }
                index = end
            } else {
                index += 1
            }
        }
        let hex = groups.map { String($0, radix: 16) }
        guard bestStart >= 0 else { return hex.joined(separator: ":") }
        let head = hex[..<bestStart].joined(separator: ":")
        let tail = hex[(bestStart + bestLength)...].joined(separator: ":")
        return head + "::" + tail
    }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}
