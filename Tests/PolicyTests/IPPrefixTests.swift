import Testing
@testable import Policy

struct IPPrefixTests {
    // MARK: Parsing and formatting

    @Test(arguments: [
        // IPv4
        ("10.0.0.0/8", "10.0.0.0/8"),
        ("10.1.2.3", "10.1.2.3/32"),
        ("0.0.0.0/0", "0.0.0.0/0"),
        ("255.255.255.255", "255.255.255.255/32"),
        ("192.168.100.128/25", "192.168.100.128/25"),
        ("0.0.0.0", "0.0.0.0/32"),
        ("10.0.0.0/08", "10.0.0.0/8"),
        // IPv6, written back in RFC 5952 form: lowercase, no leading zeros, longest zero run as ::
        ("2001:DB8::/32", "2001:db8::/32"),
        ("2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1/128"),
        ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1/128"),  // equal runs: the first one is shortened
        ("1:0:0:2:0:0:0:3", "1:0:0:2::3/128"),  // the longest run is shortened
        ("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1/128"),  // a single zero group stays
        ("::", "::/128"),
        ("::/0", "::/0"),
        ("::1", "::1/128"),
        ("fe80::", "fe80::/128"),
        ("1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0/128"),  // :: standing for one group
        ("::2:3:4:5:6:7:8", "0:2:3:4:5:6:7:8/128"),
        ("2001:db8:20::10/128", "2001:db8:20::10/128"),
        ("fd00::/8", "fd00::/8"),
        // embedded IPv4 as the last 32 bits
        ("::ffff:10.0.0.1", "::ffff:a00:1/128"),
        ("64:ff9b::192.0.2.33", "64:ff9b::c000:221/128"),
        ("1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:102:304/128"),
        ("::ffff:0.0.0.0/96", "::ffff:0:0/96"),
    ])
    func parsesAndFormatsCanonically(input: String, expected: String) throws {
        let prefix = try IPPrefix.parse(input)
        #expect(prefix.description == expected)
        // What is printed parses back to the same prefix.
        #expect(try IPPrefix.parse(prefix.description) == prefix)
    }

    @Test(arguments: [
        ("10.1.2.3/32", IPPrefix.Family.v4, UInt128(0x0A01_0203), 32),
        ("10.0.0.0/8", .v4, UInt128(0x0A00_0000), 8),
        ("2001:db8::1", .v6, UInt128(0x2001_0db8) << 96 | 1, 128),
        ("::ffff:192.0.2.1", .v6, UInt128(0xFFFF) << 32 | UInt128(0xC000_0201), 128),
        ("8000::/1", .v6, UInt128(1) << 127, 1),
    ])
    func parsesToTheRightNumber(input: String, family: IPPrefix.Family, address: UInt128, length: Int) throws {
        let prefix = try IPPrefix.parse(input)
        #expect(prefix.family == family)
        #expect(prefix.address == address)
        #expect(prefix.length == length)
    }

    @Test(arguments: [
        ("10.0.0.1/8", "host bits set; did you mean 10.0.0.0/8?"),
        ("192.168.1.77/24", "did you mean 192.168.1.0/24?"),
        ("2001:db8::1/32", "did you mean 2001:db8::/32?"),
        ("fd00::1/8", "did you mean fd00::/8?"),
        ("10.0.0.0/33", "invalid prefix length; use 0 to 32"),
        ("::/129", "invalid prefix length; use 0 to 128"),
        ("10.0.0.0/", "invalid prefix length"),
        ("10.0.0.0/+8", "invalid prefix length"),
        ("10.0.0.0/-8", "invalid prefix length"),
        ("0.0.0.0/-0", "invalid prefix length"),
        ("10.0.0.0/8/8", "invalid prefix length"),
        ("10.0.0.0/ 8", "invalid prefix length"),
        ("010.0.0.1", "is not an IPv4 or IPv6 address"),  // octal-looking octets
        ("10.0.0.01", "is not an IPv4 or IPv6 address"),
        ("10.00.0.1", "is not an IPv4 or IPv6 address"),
        ("1.2.3", "is not an IPv4 or IPv6 address"),
        ("1.2.3.4.5", "is not an IPv4 or IPv6 address"),
        ("256.0.0.1", "is not an IPv4 or IPv6 address"),
        ("1.2.3.-4", "is not an IPv4 or IPv6 address"),
        ("1.2..4", "is not an IPv4 or IPv6 address"),
        ("1.2.3.4 ", "is not an IPv4 or IPv6 address"),
        ("", "is not an IPv4 or IPv6 address"),
        ("git", "is not an IPv4 or IPv6 address"),
        ("1:2:3:4:5:6:7:8:9", "is not an IPv4 or IPv6 address"),  // too many groups
        ("1:2:3:4:5:6:7::8", "is not an IPv4 or IPv6 address"),  // :: must stand for at least one group
        ("1:2:3:4:5:6:7", "is not an IPv4 or IPv6 address"),  // too few groups
        ("1::2::3", "is not an IPv4 or IPv6 address"),
        (":::", "is not an IPv4 or IPv6 address"),
        (":1:2:3:4:5:6:7", "is not an IPv4 or IPv6 address"),
        ("1:2:3:4:5:6:7:", "is not an IPv4 or IPv6 address"),
        ("12345::", "is not an IPv4 or IPv6 address"),
        ("g::1", "is not an IPv4 or IPv6 address"),
        ("::+1", "is not an IPv4 or IPv6 address"),
        ("fe80::1%eth0", "is not an IPv4 or IPv6 address"),
        ("1:2:3:4:5:6:7:1.2.3.4", "is not an IPv4 or IPv6 address"),  // embedded IPv4 makes nine groups
        ("::ffff:10.0.0.01", "is not an IPv4 or IPv6 address"),
        ("::ffff:10.0.0", "is not an IPv4 or IPv6 address"),
        ("1.2.3.4::", "is not an IPv4 or IPv6 address"),
    ])
    func rejectsInvalidText(input: String, messageFragment: String) {
        let error = #expect(throws: IPPrefixError.self) { try IPPrefix.parse(input) }
        #expect(error?.description.contains(messageFragment) == true, "\(String(describing: error))")
        #expect(error?.description.contains("'\(input)'") == true, "the message quotes the input")
    }

    // MARK: Containment

    @Test(arguments: [
        ("10.0.0.0/8", "10.1.0.0/16", true, true),
        ("10.1.0.0/16", "10.0.0.0/8", false, true),
        ("10.0.0.0/8", "10.0.0.0/8", true, true),
        ("10.0.0.0/8", "11.0.0.0/8", false, false),
        ("10.0.0.0/25", "10.0.0.128/25", false, false),
        ("0.0.0.0/0", "255.255.255.255/32", true, true),
        ("10.0.0.0/24", "10.0.0.255/32", true, true),
        ("10.0.0.0/24", "10.0.1.0/32", false, false),
        ("2001:db8::/32", "2001:db8:ffff::/48", true, true),
        ("2001:db8::/32", "2001:db9::/32", false, false),
        ("::/0", "2001:db8::1/128", true, true),
        // Families never contain or overlap each other, even where the numbers would.
        ("::/0", "10.0.0.0/8", false, false),
        ("0.0.0.0/0", "::1/128", false, false),
        ("::/96", "0.0.0.1/32", false, false),
    ])
    func containsAndOverlaps(outer: String, inner: String, contains: Bool, overlaps: Bool) throws {
        let a = try IPPrefix.parse(outer)
        let b = try IPPrefix.parse(inner)
        #expect(a.contains(b) == contains)
        #expect(a.overlaps(b) == overlaps)
        #expect(b.overlaps(a) == overlaps)
    }

    @Test(arguments: [
        ("10.0.0.0/24", "10.0.0.0", true),
        ("10.0.0.0/24", "10.0.0.255", true),
        ("10.0.0.0/24", "10.0.1.0", false),
        ("10.0.0.0/24", "9.255.255.255", false),
        ("2001:db8::/64", "2001:db8::ffff:ffff:ffff:ffff", true),
        ("2001:db8::/64", "2001:db8:0:1::", false),
    ])
    func containsAddress(prefix: String, address: String, expected: Bool) throws {
        let p = try IPPrefix.parse(prefix)
        let a = try IPPrefix.parse(address)
        #expect(p.contains(address: a.address) == expected)
    }

    @Test func lastAddressIsTheNetworkWithEveryHostBitSet() throws {
        #expect(try IPPrefix.parse("10.0.0.0/24").lastAddress == UInt128(0x0A00_00FF))
        #expect(try IPPrefix.parse("0.0.0.0/0").lastAddress == UInt128(UInt32.max))
        #expect(try IPPrefix.parse("::/0").lastAddress == UInt128.max)
        #expect(try IPPrefix.parse("10.1.2.3").lastAddress == UInt128(0x0A01_0203))
    }

    @Test func halvesSplitAPrefixInTwo() throws {
        let (low, high) = try #require(try IPPrefix.parse("10.0.0.0/24").halves)
        #expect(low.description == "10.0.0.0/25")
        #expect(high.description == "10.0.0.128/25")
        #expect(try IPPrefix.parse("10.0.0.1").halves == nil)
        #expect(try IPPrefix.parse("::1").halves == nil)
        let (v6low, v6high) = try #require(IPPrefix.everything(.v6).halves)
        #expect(v6low.description == "::/1")
        #expect(v6high.description == "8000::/1")
    }

    @Test func theInitializerClearsHostBits() {
        let prefix = IPPrefix(family: .v4, address: 0x0A01_0203, length: 16)
        #expect(prefix.description == "10.1.0.0/16")
    }

    // MARK: Subtraction

    /// Addresses in `prefix` (the tables below avoid ::/0, which does not fit in a UInt128).
    private static func count(_ prefix: IPPrefix) -> UInt128 {
        let hostBits = prefix.family.bitCount - prefix.length
        return hostBits >= 128 ? .max : UInt128(1) << hostBits
    }

    @Test(arguments: [
        ("10.0.0.0/24", "10.0.0.0/26"),
        ("10.0.0.0/24", "10.0.0.77/32"),
        ("10.0.0.0/24", "10.0.0.255/32"),
        ("10.0.0.0/8", "10.200.3.0/24"),
        ("0.0.0.0/0", "10.0.0.0/8"),
        ("0.0.0.0/0", "255.255.255.255/32"),
        ("10.0.0.0/24", "10.0.0.0/24"),  // nothing left
        ("10.0.0.0/24", "10.0.0.0/16"),  // nothing left: the other is bigger
        ("10.0.0.0/24", "10.0.1.0/24"),  // disjoint: all left
        ("10.0.0.0/24", "2001:db8::/32"),  // other family: all left
        ("2001:db8::/32", "2001:db8:1234::/48"),
        ("2001:db8::/32", "2001:db8::1/128"),
        ("8000::/1", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128"),
    ])
    func subtractingLeavesExactlyTheDifference(from: String, without: String) throws {
        let a = try IPPrefix.parse(from)
        let b = try IPPrefix.parse(without)
        let pieces = a.subtracting(b)
        for piece in pieces {
            #expect(a.contains(piece), "\(piece) lies outside \(a)")
            #expect(!piece.overlaps(b), "\(piece) overlaps the subtracted \(b)")
        }
        for (i, p) in pieces.enumerated() {
            for q in pieces[(i + 1)...] {
                #expect(!p.overlaps(q), "pieces \(p) and \(q) overlap")
            }
        }
        // The pieces plus the part of `a` inside `b` are exactly `a`.
        let removed: UInt128 = b.contains(a) ? Self.count(a) : (a.contains(b) ? Self.count(b) : 0)
        let total = pieces.reduce(UInt128(0)) { $0 + Self.count($1) }
        #expect(total == Self.count(a) - removed)
        // At most one piece per bit between the two lengths.
        #expect(pieces.count <= max(1, b.length - a.length))
    }

    @Test func subtractingASubnetGivesTheSiblingsOnTheWayDown() throws {
        let pieces = try IPPrefix.parse("10.0.0.0/24").subtracting(try IPPrefix.parse("10.0.0.64/26"))
        #expect(pieces.map(\.description).sorted() == ["10.0.0.0/26", "10.0.0.128/25"])
    }

    /// Every address of a small prefix is checked: in the pieces exactly when not in the subtracted one.
    @Test(arguments: [("10.0.0.0/24", "10.0.0.40/29"), ("10.0.0.0/25", "10.0.0.64/32"), ("10.0.0.0/26", "10.0.0.0/30")])
    func subtractingAgreesWithAddressByAddressCheck(from: String, without: String) throws {
        let a = try IPPrefix.parse(from)
        let b = try IPPrefix.parse(without)
        let pieces = a.subtracting(b)
        for address in a.address...a.lastAddress {
            let covered = pieces.filter { $0.contains(address: address) }.count
            #expect(covered == (b.contains(address: address) ? 0 : 1), "address \(address)")
        }
    }

    // MARK: Minimizing

    @Test(arguments: [
        (["10.0.0.0/25", "10.0.0.128/25"], ["10.0.0.0/24"]),  // siblings merge
        (["10.0.0.128/25", "10.0.0.0/25"], ["10.0.0.0/24"]),  // in any order
        (["10.0.0.0/26", "10.0.0.64/26", "10.0.0.128/25"], ["10.0.0.0/24"]),  // merges cascade
        (["10.0.0.128/26", "10.0.0.192/26", "10.0.0.0/25"], ["10.0.0.0/24"]),
        (["10.0.1.0/24", "10.0.2.0/24"], ["10.0.1.0/24", "10.0.2.0/24"]),  // adjacent but not siblings
        (["10.0.0.128/25", "10.0.1.0/25"], ["10.0.0.128/25", "10.0.1.0/25"]),
        (["10.0.0.0/8", "10.1.0.0/16", "10.2.3.4/32"], ["10.0.0.0/8"]),  // contained ones dropped
        (["10.2.3.4/32", "10.0.0.0/8"], ["10.0.0.0/8"]),
        (["10.0.0.1/32", "10.0.0.1/32"], ["10.0.0.1/32"]),  // duplicates
        (["10.0.0.0/25", "10.0.0.128/26"], ["10.0.0.0/25", "10.0.0.128/26"]),  // different lengths do not merge
        (["0.0.0.0/1", "128.0.0.0/1"], ["0.0.0.0/0"]),
        (["::/1", "8000::/1"], ["::/0"]),
        (["2001:db8::/33", "2001:db8:8000::/33", "10.0.0.0/25", "10.0.0.128/25"], ["10.0.0.0/24", "2001:db8::/32"]),
        (["::/96", "0.0.0.0/0"], ["0.0.0.0/0", "::/96"]),  // families never merge
        ([], []),
    ])
    func minimizeMergesAndDrops(input: [String], expected: [String]) throws {
        let prefixes = try input.map { try IPPrefix.parse($0) }
        let minimized = IPPrefix.minimize(prefixes)
        #expect(minimized.map(\.description) == expected)
        #expect(IPPrefix.minimize(minimized) == minimized, "minimize is idempotent")
    }

    /// Random sets of small prefixes: minimize covers exactly the same addresses, with no overlaps,
    /// no mergeable siblings, and a second pass changes nothing.
    @Test(arguments: 0..<60)
    func minimizeKeepsTheSameAddresses(seed: Int) throws {
        var random = SplitMix64(seed: UInt64(seed) &* 7919)
        let base: UInt128 = 0x0A00_0000
        let prefixes = (0..<Int.random(in: 1...12, using: &random)).map { _ in
            IPPrefix(family: .v4, address: base | UInt128(UInt8.random(in: 0...255, using: &random)), length: Int.random(in: 24...32, using: &random))
        }
        let minimized = IPPrefix.minimize(prefixes)
        for address in base...(base | 0xFF) {
            let before = prefixes.contains { $0.contains(address: address) }
            let after = minimized.filter { $0.contains(address: address) }.count
            #expect(after == (before ? 1 : 0), "address \(address) of \(prefixes)")
        }
        for (i, p) in minimized.enumerated() {
            for q in minimized[(i + 1)...] {
                #expect(!(p.length == q.length && p.length > 0 && IPPrefix(family: p.family, address: p.address, length: p.length - 1).contains(q)), "\(p) and \(q) are mergeable siblings")
            }
        }
        #expect(IPPrefix.minimize(minimized) == minimized)
        #expect(minimized == minimized.sorted())
    }

    @Test func ordersByFamilyThenAddressThenLength() throws {
        let sorted = try ["2001:db8::/32", "10.0.0.0/16", "10.0.0.0/8", "9.0.0.0/8"].map { try IPPrefix.parse($0) }.sorted()
        #expect(sorted.map(\.description) == ["9.0.0.0/8", "10.0.0.0/8", "10.0.0.0/16", "2001:db8::/32"])
    }
}
