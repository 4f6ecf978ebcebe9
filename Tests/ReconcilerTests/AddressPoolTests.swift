import Policy
import Testing

@testable import Reconciler

@Suite("Address pool")
struct AddressPoolTests {
    struct ParseCase: Sendable, CustomTestStringConvertible {
        let text: String
        let v4: String
        let v6: String?
        var testDescription: String { text }
    }

    @Test(
        "parse reads an IPv4 prefix and an optional IPv6 prefix, in either order, ignoring spaces",
        arguments: [
            ParseCase(text: "10.100.0.0/16", v4: "10.100.0.0/16", v6: nil),
            ParseCase(text: "10.100.0.0/16,fd00:100::/64", v4: "10.100.0.0/16", v6: "fd00:100::/64"),
            ParseCase(text: " 10.100.0.0/16 , fd00:100::/64 ", v4: "10.100.0.0/16", v6: "fd00:100::/64"),
            ParseCase(text: "fd00:100::/64,10.100.0.0/16", v4: "10.100.0.0/16", v6: "fd00:100::/64"),
            ParseCase(text: "192.168.7.0/30", v4: "192.168.7.0/30", v6: nil),
            ParseCase(text: "10.0.0.0/8,fd00::/126", v4: "10.0.0.0/8", v6: "fd00::/126"),
        ])
    func parses(testCase: ParseCase) throws {
        let pool = try AddressPool.parse(testCase.text)
        #expect(pool.v4.description == testCase.v4)
        #expect(pool.v6?.description == testCase.v6)
    }

    @Test(
        "parse refuses pools without IPv4, with two prefixes of a family, too small, or malformed",
        arguments: [
            "", "fd00:100::/64", "10.0.0.0/8,10.1.0.0/16", "fd00::/64,fd01::/64,10.0.0.0/8", "10.0.0.0/31", "10.0.0.0/32",
            "10.0.0.0/24,fd00::/127", "10.0.0.0/24,fd00::/128", "10.0.0.1/24", "banana", "10.0.0.0/33",
        ])
    func refuses(text: String) {
        #expect(throws: (any Error).self) { try AddressPool.parse(text) }
    }

    @Test(
        "pool errors say what is wrong",
        arguments: [("", "needs an IPv4 prefix"), ("10.0.0.0/8,10.1.0.0/16", "two IPv4"), ("10.0.0.0/31", "too small")])
    func poolErrorMessages(text: String, fragment: String) {
        #expect(throws: PoolError.self) { try AddressPool.parse(text) }
        do {
            _ = try AddressPool.parse(text)
        } catch {
            #expect("\(error)".contains(fragment))
        }
    }

    struct CapacityCase: Sendable, CustomTestStringConvertible {
        let pool: String
        let capacity: Int
        let lastAddresses: [String]
        var testDescription: String { pool }
    }

    /// Device indices start at 2 (1 is the gateway); IPv4 also loses the network and broadcast addresses.
    static let capacities: [CapacityCase] = [
        CapacityCase(pool: "10.100.0.0/30", capacity: 1, lastAddresses: ["10.100.0.2/32"]),
        CapacityCase(pool: "10.100.0.0/29", capacity: 5, lastAddresses: ["10.100.0.6/32"]),
        CapacityCase(pool: "10.100.0.0/24", capacity: 253, lastAddresses: ["10.100.0.254/32"]),
        CapacityCase(pool: "10.100.0.0/16", capacity: 65533, lastAddresses: ["10.100.255.254/32"]),
        CapacityCase(pool: "10.100.0.0/24,fd00:100::/64", capacity: 253, lastAddresses: ["10.100.0.254/32", "fd00:100::fe/128"]),
        CapacityCase(pool: "10.100.0.0/24,fd00:100::/126", capacity: 2, lastAddresses: ["10.100.0.3/32", "fd00:100::3/128"]),
        CapacityCase(pool: "10.100.0.0/30,fd00:100::/126", capacity: 1, lastAddresses: ["10.100.0.2/32", "fd00:100::2/128"]),
        CapacityCase(pool: "10.0.0.0/8,fd00:100::/120", capacity: 254, lastAddresses: ["10.0.0.255/32", "fd00:100::ff/128"]),
    ]

    @Test("capacity counts device indices, limited by the smaller family; the last one is inside the pool", arguments: capacities)
    func capacity(testCase: CapacityCase) throws {
        let pool = try AddressPool.parse(testCase.pool)
        #expect(pool.capacity == testCase.capacity)
        let last = pool.firstDeviceIndex + pool.capacity - 1
        let (address4, address6) = pool.addresses(at: last)
        #expect([address4.description] + [address6?.description].compactMap { $0 } == testCase.lastAddresses)
        #expect(pool.v4.contains(address4))
        #expect(address4.address != pool.v4.lastAddress, "the IPv4 broadcast address is never a device's")
        if let v6 = pool.v6, let address6 { #expect(v6.contains(address6)) }
    }

    struct AddressCase: Sendable, CustomTestStringConvertible {
        let index: Int
        let v4: String
        let v6: String
        var testDescription: String { "index \(index)" }
    }

    @Test(
        "addresses(at:) counts from the pool's network address in both families",
        arguments: [
            AddressCase(index: 1, v4: "10.100.0.1/32", v6: "fd00:100::1/128"),
            AddressCase(index: 2, v4: "10.100.0.2/32", v6: "fd00:100::2/128"),
            AddressCase(index: 255, v4: "10.100.0.255/32", v6: "fd00:100::ff/128"),
            AddressCase(index: 256, v4: "10.100.1.0/32", v6: "fd00:100::100/128"),
            AddressCase(index: 65534, v4: "10.100.255.254/32", v6: "fd00:100::fffe/128"),
        ])
    func addresses(testCase: AddressCase) throws {
        let pool = try AddressPool.parse("10.100.0.0/16,fd00:100::/64")
        let (address4, address6) = pool.addresses(at: testCase.index)
        #expect(address4.description == testCase.v4)
        #expect(address6?.description == testCase.v6)
    }

    @Test("the gateway takes index 1, with the pools' prefix lengths on its interface")
    func gatewayAddresses() throws {
        #expect(try AddressPool.parse("10.100.0.0/16,fd00:100::/64").gatewayInterfaceAddresses == ["10.100.0.1/16", "fd00:100::1/64"])
        #expect(try AddressPool.parse("192.168.7.0/29").gatewayInterfaceAddresses == ["192.168.7.1/29"])
        #expect(try AddressPool.parse("10.100.0.0/16").firstDeviceIndex == 2)
    }

    @Test("the standard pool is 10.100.0.0/16")
    func standardPool() {
        #expect(AddressPool.standard.v4.description == "10.100.0.0/16")
        #expect(AddressPool.standard.capacity == 65533)
    }
}
