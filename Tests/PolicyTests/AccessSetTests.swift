import Testing
@testable import Policy

struct PortRangeTests {
    @Test(arguments: [
        ((1, 100), (20, 30), [(1, 19), (31, 100)]),
        ((1, 100), (1, 100), []),
        ((1, 100), (0, 65535), []),
        ((1, 100), (0, 50), [(51, 100)]),
        ((1, 100), (50, 200), [(1, 49)]),
        ((1, 100), (101, 200), [(1, 100)]),
        ((1, 100), (0, 0), [(1, 100)]),
        ((0, 65535), (0, 0), [(1, 65535)]),
        ((0, 65535), (65535, 65535), [(0, 65534)]),
        ((22, 22), (22, 22), []),
        ((22, 23), (23, 23), [(22, 22)]),
    ] as [((UInt16, UInt16), (UInt16, UInt16), [(UInt16, UInt16)])])
    func subtractingLeavesZeroOneOrTwoRanges(range: (UInt16, UInt16), other: (UInt16, UInt16), expected: [(UInt16, UInt16)]) {
        let result = PortRange(range.0, range.1).subtracting(PortRange(other.0, other.1))
        #expect(result == expected.map { PortRange($0.0, $0.1) })
    }

    @Test(arguments: [
        ([(1, 5), (6, 10)], [(1, 10)]),  // adjacent ranges join
        ([(1, 5), (7, 10)], [(1, 5), (7, 10)]),  // a gap keeps them apart
        ([(7, 10), (1, 5)], [(1, 5), (7, 10)]),  // sorted
        ([(1, 10), (5, 20)], [(1, 20)]),  // overlapping
        ([(1, 100), (5, 20)], [(1, 100)]),  // contained
        ([(65535, 65535), (0, 65534)], [(0, 65535)]),  // the top port, without overflowing
        ([(0, 0), (65535, 65535)], [(0, 0), (65535, 65535)]),
        ([(22, 22), (22, 22)], [(22, 22)]),
        ([], []),
    ] as [([(UInt16, UInt16)], [(UInt16, UInt16)])])
    func mergeGivesTheFewestRangesInOrder(ranges: [(UInt16, UInt16)], expected: [(UInt16, UInt16)]) {
        #expect(PortRange.merge(ranges.map { PortRange($0.0, $0.1) }) == expected.map { PortRange($0.0, $0.1) })
    }

    @Test func containsAndOverlapsAreInclusive() {
        let range = PortRange(20, 30)
        #expect(range.contains(20) && range.contains(30) && !range.contains(19) && !range.contains(31))
        #expect(range.overlaps(PortRange(30, 40)) && range.overlaps(PortRange(0, 20)))
        #expect(!range.overlaps(PortRange(31, 40)) && !range.overlaps(PortRange(0, 19)))
        #expect(range.contains(PortRange(21, 29)) && !range.contains(PortRange(19, 29)))
        #expect(range.description == "20-30" && PortRange(22, 22).description == "22")
    }
}

struct PortSpecTests {
    @Test(arguments: [
        ("tcp/22", "tcp/22", [(NetworkProtocol.tcp, PortRange?.some(PortRange(22, 22)))]),
        ("UDP/53", "udp/53", [(.udp, PortRange(53, 53))]),
        ("tcp/8000-8100", "tcp/8000-8100", [(.tcp, PortRange(8000, 8100))]),
        ("tcp/0", "tcp/0", [(.tcp, PortRange(0, 0))]),
        ("tcp/65535", "tcp/65535", [(.tcp, PortRange(65535, 65535))]),
        ("tcp/22-22", "tcp/22", [(.tcp, PortRange(22, 22))]),
        ("tcp", "tcp", [(.tcp, PortRange.all)]),
        ("udp", "udp", [(.udp, PortRange.all)]),
        ("icmp", "icmp", [(.icmp, nil)]),
        ("ANY", "any", [(.tcp, PortRange.all), (.udp, PortRange.all), (.icmp, nil), (.other, nil)]),
    ] as [(String, String, [(NetworkProtocol, PortRange?)])])
    func parsesPortSpecifications(text: String, description: String, parts: [(NetworkProtocol, PortRange?)]) throws {
        let spec = try PortSpec.parse(text)
        #expect(spec.description == description)
        #expect(spec.parts.map(\.0) == parts.map(\.0))
        #expect(spec.parts.map(\.1) == parts.map(\.1))
    }

    @Test(arguments: [
        ("tcp/65536", "invalid port; ports are 0 to 65535"),
        ("tcp/99999", "invalid port"),
        ("tcp/123456", "invalid port"),
        ("tcp/", "invalid port"),
        ("tcp/-1", "invalid port"),
        ("tcp/22-", "invalid port"),
        ("tcp/ 22", "invalid port"),
        ("tcp/1-2-3", "invalid port"),
        ("tcp/22/23", "invalid port"),
        ("tcp/http", "invalid port"),
        ("tcp/100-20", "is an empty range; did you mean tcp/20-100?"),
        ("icmp/8", "is not a port specification"),
        ("other", "is not a port specification"),
        ("sctp/22", "is not a port specification"),
        ("22", "is not a port specification"),
        ("22/tcp", "is not a port specification"),
        ("tcp:22", "is not a port specification"),
        ("", "is not a port specification"),
    ])
    func rejectsInvalidPortSpecifications(text: String, fragment: String) {
        let error = #expect(throws: PortSpecError.self) { try PortSpec.parse(text) }
        #expect(error?.description.contains(fragment) == true, "\(String(describing: error))")
    }
}

struct AccessGrantTests {
    @Test func portlessProtocolsDropPortsAndPortedOnesDefaultToAll() throws {
        let prefix = try IPPrefix.parse("10.0.0.0/24")
        #expect(AccessGrant(prefix: prefix, networkProtocol: .icmp, ports: PortRange(1, 2)).ports == nil)
        #expect(AccessGrant(prefix: prefix, networkProtocol: .other, ports: PortRange(1, 2)).ports == nil)
        #expect(AccessGrant(prefix: prefix, networkProtocol: .tcp, ports: nil).ports == .all)
        #expect(AccessGrant(prefix: prefix, networkProtocol: .tcp, ports: nil).description == "10.0.0.0/24 tcp/0-65535")
        #expect(AccessGrant(prefix: prefix, networkProtocol: .icmp, ports: nil).description == "10.0.0.0/24 icmp")
    }

    @Test(arguments: [
        ("10.0.0.0/24 tcp/20-30", "10.0.0.0/24 tcp/25", ["10.0.0.0/24 tcp/20-24", "10.0.0.0/24 tcp/26-30"]),
        ("10.0.0.0/24 tcp/22", "10.0.0.128/25 tcp/22", ["10.0.0.0/25 tcp/22"]),
        ("10.0.0.0/24 tcp/20-30", "10.0.0.128/25 tcp/25-40", ["10.0.0.0/25 tcp/20-30", "10.0.0.128/25 tcp/20-24"]),
        ("10.0.0.0/25 tcp/22", "10.0.0.0/24 tcp/0-100", []),
        ("10.0.0.0/25 tcp/20-30", "10.0.0.0/24 tcp/25-100", ["10.0.0.0/25 tcp/20-24"]),
        ("10.0.0.0/25 tcp/22", "10.0.0.0/24 udp/22", ["10.0.0.0/25 tcp/22"]),
        ("10.0.0.0/24 tcp/22", "10.0.1.0/24 tcp/22", ["10.0.0.0/24 tcp/22"]),
        ("10.0.0.0/24 tcp/22", "10.0.0.0/24 tcp/23", ["10.0.0.0/24 tcp/22"]),
        ("10.0.0.0/24 icmp", "10.0.0.64/26 icmp", ["10.0.0.0/26 icmp", "10.0.0.128/25 icmp"]),
        ("10.0.0.0/24 other", "10.0.0.0/24 other", []),
        ("2001:db8::/127 udp/53-54", "2001:db8::1/128 udp/54", ["2001:db8::/128 udp/53-54", "2001:db8::1/128 udp/53"]),
        ("2001:db8::/127 udp/53", "2001:db8::/126 udp", []),
    ])
    func subtractingRemovesOnlyTheOverlap(grant: String, other: String, expected: [String]) throws {
        let result = try AccessGrant(grant).subtracting(try AccessGrant(other))
        #expect(result.sorted().map(\.description) == expected.sorted())
        // Independently of the exact pieces: no overlap among them or with what was removed.
        for piece in result { #expect(!piece.overlaps(try AccessGrant(other))) }
    }

    @Test(arguments: [
        ("10.0.0.0/24 tcp/22", "10.0.0.9:tcp/22", true),
        ("10.0.0.0/24 tcp/22", "10.0.1.9:tcp/22", false),
        ("10.0.0.0/24 tcp/22", "10.0.0.9:tcp/23", false),
        ("10.0.0.0/24 tcp/22", "10.0.0.9:udp/22", false),
        ("10.0.0.0/24 tcp/22", "10.0.0.9:tcp", false),  // a TCP packet without a port matches no range
        ("10.0.0.0/24 icmp", "10.0.0.9:icmp", true),
        ("10.0.0.0/24 other", "10.0.0.9:other", true),
        ("10.0.0.0/24 other", "10.0.0.9:icmp", false),
        ("::/96 tcp", "0.0.0.9:tcp/22", false),  // the same number in the other family
        ("0.0.0.0/0 tcp", "[::9]:tcp/22", false),
        ("::/0 tcp", "[::9]:tcp/22", true),
    ])
    func permitsOnlyMatchingPackets(grant: String, packet: String, expected: Bool) throws {
        let packet = Packet(packet)
        let grant = try AccessGrant(grant)
        #expect(grant.permits(address: packet.address.address, family: packet.address.family, networkProtocol: packet.networkProtocol, port: packet.port) == expected)
    }
}

struct AccessSetTests {
    @Test func anyMinusTCPLeavesUDPICMPAndOtherProtocols() throws {
        let prefix = try IPPrefix.parse("10.0.0.0/24")
        let any = AccessSet(PortSpec.any.parts.map { AccessGrant(prefix: prefix, networkProtocol: $0.0, ports: $0.1) })
        let tcp = AccessSet(try PortSpec.parse("tcp").parts.map { AccessGrant(prefix: prefix, networkProtocol: $0.0, ports: $0.1) })
        let rest = any.subtracting(tcp)
        #expect(rest.grants.map(\.description) == ["10.0.0.0/24 udp/0-65535", "10.0.0.0/24 icmp", "10.0.0.0/24 other"])
        #expect(!rest.permits("10.0.0.1:tcp/22"))
        #expect(rest.permits("10.0.0.1:udp/22"))
        #expect(rest.permits("10.0.0.1:icmp"))
        #expect(rest.permits("10.0.0.1:other"))
        #expect(!rest.permits("10.0.1.1:udp/22"))
    }

    @Test func anyMinusOnePortOnPartOfThePrefix() throws {
        let all = try accessSet(["10.0.0.0/24 tcp", "10.0.0.0/24 udp", "10.0.0.0/24 icmp", "10.0.0.0/24 other"])
        let result = all.subtracting(try accessSet(["10.0.0.128/25 tcp/22"]))
        #expect(!result.permits("10.0.0.200:tcp/22"))
        #expect(result.permits("10.0.0.200:tcp/21") && result.permits("10.0.0.200:tcp/23"))
        #expect(result.permits("10.0.0.1:tcp/22"))
        #expect(result.permits("10.0.0.200:udp/22") && result.permits("10.0.0.200:icmp"))
        // The lower half keeps every TCP port; the upper half loses port 22 only.
        #expect(result.grants.map(\.description) == [
            "10.0.0.0/24 udp/0-65535", "10.0.0.0/24 icmp", "10.0.0.0/24 other",
            "10.0.0.0/25 tcp/0-65535", "10.0.0.128/25 tcp/0-21", "10.0.0.128/25 tcp/23-65535",
        ])
    }

    @Test(arguments: [
        (["10.0.0.0/25 tcp/22", "10.0.0.128/25 tcp/22"], ["10.0.0.0/24 tcp/22"]),  // sibling prefixes merge
        (["10.0.0.0/24 tcp/20-25", "10.0.0.0/24 tcp/26-30"], ["10.0.0.0/24 tcp/20-30"]),  // adjacent ports merge
        (["10.0.0.0/24 tcp/20-30", "10.0.0.5/32 tcp/25-40"], ["10.0.0.0/24 tcp/20-30", "10.0.0.5/32 tcp/31-40"]),  // overlap removed
        (["10.0.0.0/24 tcp/22", "10.0.0.0/24 tcp/22"], ["10.0.0.0/24 tcp/22"]),  // duplicates
        // Merging the halves makes the port ranges adjacent on one prefix, so they merge too.
        (["10.0.0.0/24 tcp/1-10", "10.0.0.0/25 tcp/11-20", "10.0.0.128/25 tcp/11-20"], ["10.0.0.0/24 tcp/1-20"]),
        (["10.0.0.0/25 tcp/1-10", "10.0.0.128/25 tcp/1-5", "10.0.0.128/25 tcp/6-10", "10.0.0.0/24 udp"], ["10.0.0.0/24 tcp/1-10", "10.0.0.0/24 udp/0-65535"]),
        (["10.0.0.0/24 tcp/22", "10.0.0.0/26 tcp/22"], ["10.0.0.0/24 tcp/22"]),  // contained
        (["10.0.0.0/24 tcp/22", "10.0.0.0/24 udp/22"], ["10.0.0.0/24 tcp/22", "10.0.0.0/24 udp/22"]),  // protocols stay apart
        (["10.0.0.0/24 icmp", "10.0.0.0/25 icmp"], ["10.0.0.0/24 icmp"]),
        (["2001:db8::/33 tcp/443", "2001:db8:8000::/33 tcp/443", "10.0.0.0/8 tcp/443"], ["10.0.0.0/8 tcp/443", "2001:db8::/32 tcp/443"]),
        ([], []),
    ])
    func canonicalFormIsDisjointMergedAndSorted(input: [String], expected: [String]) throws {
        let set = try accessSet(input)
        #expect(set.grants.map(\.description) == expected)
        #expect(set.isEmpty == expected.isEmpty)
    }

    @Test func allowedIPsAreTheFewestCoveringPrefixes() throws {
        let set = try accessSet(["10.0.0.0/25 tcp/22", "10.0.0.128/25 udp/53", "10.0.0.7/32 icmp", "2001:db8::1/128 tcp/443"])
        #expect(set.allowedIPs.map(\.description) == ["10.0.0.0/24", "2001:db8::1/128"])
    }

    @Test func permitsRespectsFamilyProtocolAndPort() throws {
        let set = try accessSet(["::/96 tcp/22", "10.0.0.0/24 icmp", "10.0.0.0/24 tcp/443"])
        #expect(!set.permits("0.0.0.5:tcp/22"), "an IPv4 address is not in an IPv6 prefix with the same bits")
        #expect(set.permits("[::5]:tcp/22"))
        #expect(set.permits("10.0.0.5:icmp"))
        #expect(!set.permits("10.0.0.5:tcp"), "TCP access is per port")
        #expect(!set.permits("10.0.0.5:other"))
        #expect(!AccessSet.empty.permits("10.0.0.5:tcp/443"))
    }

    // MARK: Random sets, checked against a brute-force model

    /// A random grant in a small space: prefixes inside 10.0.0.0/24 or 2001:db8::/120, ports 0…40.
    static func randomGrant(_ random: inout SplitMix64) -> AccessGrant {
        let v6 = Int.random(in: 0..<5, using: &random) == 0
        let base: UInt128 = v6 ? UInt128(0x2001_0db8) << 96 : 0x0A00_0000
        let length = Int.random(in: 0...8, using: &random) + (v6 ? 120 : 24)
        let prefix = IPPrefix(family: v6 ? .v6 : .v4, address: base | UInt128(UInt8.random(in: 0...255, using: &random)), length: length)
        let networkProtocol = NetworkProtocol.allCases.randomElement(using: &random) ?? .tcp
        let lower = UInt16.random(in: 0...40, using: &random)
        let upper = min(40, lower + UInt16.random(in: 0...15, using: &random))
        let ports = Int.random(in: 0..<6, using: &random) == 0 ? PortRange.all : PortRange(lower, upper)
        return AccessGrant(prefix: prefix, networkProtocol: networkProtocol, ports: ports)
    }

    static func randomGrants(_ random: inout SplitMix64) -> [AccessGrant] {
        (0..<Int.random(in: 0...8, using: &random)).map { _ in randomGrant(&random) }
    }

    /// Packets at and next to every boundary of the grants: membership of a union of boxes can only
    /// change at a box's edge, so these packets decide every case.
    static func boundaryPackets(_ grants: [AccessGrant]) -> [Packet] {
        var addresses: Set<IPPrefix> = []
        var ports: Set<UInt16> = [0, 65535]
        for grant in grants {
            let family = grant.prefix.family
            let top: UInt128 = family == .v4 ? UInt128(UInt32.max) : .max
            for address in [grant.prefix.address, grant.prefix.lastAddress] {
                addresses.insert(IPPrefix(family: family, address: address, length: family.bitCount))
            }
            if grant.prefix.address > 0 {
                addresses.insert(IPPrefix(family: family, address: grant.prefix.address - 1, length: family.bitCount))
            }
            if grant.prefix.lastAddress < top {
                addresses.insert(IPPrefix(family: family, address: grant.prefix.lastAddress + 1, length: family.bitCount))
            }
            if let range = grant.ports {
                ports.formUnion([range.lower, range.upper])
                if range.lower > 0 { ports.insert(range.lower - 1) }
                if range.upper < 65535 { ports.insert(range.upper + 1) }
            }
        }
        var packets: [Packet] = []
        for address in addresses.sorted() {
            for port in ports.sorted() {
                packets.append(Packet(address: address, networkProtocol: .tcp, port: port))
                packets.append(Packet(address: address, networkProtocol: .udp, port: port))
            }
            packets.append(Packet(address: address, networkProtocol: .icmp, port: nil))
            packets.append(Packet(address: address, networkProtocol: .other, port: nil))
        }
        return packets
    }

    static func bruteForce(_ grants: [AccessGrant], _ packet: Packet) -> Bool {
        grants.contains {
            $0.permits(address: packet.address.address, family: packet.address.family, networkProtocol: packet.networkProtocol, port: packet.port)
        }
    }

    static func expectCanonical(_ set: AccessSet, sourceLocation: Testing.SourceLocation = #_sourceLocation) {
        for (i, grant) in set.grants.enumerated() {
            for other in set.grants[(i + 1)...] {
                #expect(!grant.overlaps(other), "\(grant) overlaps \(other) in \(set)", sourceLocation: sourceLocation)
            }
        }
        #expect(set.grants == set.grants.sorted(), sourceLocation: sourceLocation)
        // Merged: no prefix has two port ranges that touch, and no port range two sibling prefixes.
        for (i, grant) in set.grants.enumerated() {
            for other in set.grants[(i + 1)...] where grant.networkProtocol == other.networkProtocol {
                if grant.prefix == other.prefix, let a = grant.ports, let b = other.ports {
                    #expect(PortRange.merge([a, b]).count == 2, "\(grant) and \(other) should be one grant", sourceLocation: sourceLocation)
                }
                if grant.ports == other.ports {
                    #expect(IPPrefix.minimize([grant.prefix, other.prefix]).count == 2, "\(grant) and \(other) should be one grant", sourceLocation: sourceLocation)
                }
            }
        }
        #expect(AccessSet(set.grants) == set, "canonicalizing twice changes nothing", sourceLocation: sourceLocation)
    }

    @Test(arguments: 0..<200)
    func unionAndSubtractionAgreeWithBruteForce(seed: Int) {
        var random = SplitMix64(seed: UInt64(seed) &+ 1000)
        let a = Self.randomGrants(&random)
        let b = Self.randomGrants(&random)
        let setA = AccessSet(a)
        let setB = AccessSet(b)
        let union = setA.union(setB)
        let difference = setA.subtracting(setB)
        for set in [setA, setB, union, difference] { Self.expectCanonical(set) }
        #expect(AccessSet(a.shuffled(using: &random)) == setA, "the order of the grants does not matter")
        var mismatches = 0
        for packet in Self.boundaryPackets(a + b) {
            let inA = Self.bruteForce(a, packet)
            let inB = Self.bruteForce(b, packet)
            if setA.permits(packet) != inA { mismatches += 1 }
            if union.permits(packet) != (inA || inB) { mismatches += 1 }
            if difference.permits(packet) != (inA && !inB) { mismatches += 1 }
        }
        #expect(mismatches == 0, "A = \(a), B = \(b)")
        // Every grant lets something through, so the destinations are exactly the grants' prefixes.
        #expect(setA.allowedIPs == IPPrefix.minimize(a.map(\.prefix)))
    }
}
