import Foundation
import Testing
@testable import Policy

/// Shared helpers: in-memory policies, instants, and packets written as text.

/// Parses in-memory policy files given as (name, YAML) pairs.
func loadPolicy(_ files: [(String, String)]) -> PolicyLoader.Result {
    PolicyLoader.parse(files: files.map { (name: $0.0, contents: $0.1) })
}

/// Parses and compiles in-memory policy files; the test fails if they have errors.
func compilePolicy(_ files: [(String, String)], sourceLocation: Testing.SourceLocation = #_sourceLocation) throws -> CompiledPolicy {
    let result = loadPolicy(files)
    let policy = try #require(
        result.policy, "the policy has errors: \(result.diagnostics.map(\.description).joined(separator: "\n"))",
        sourceLocation: sourceLocation)
    return CompiledPolicy(policy)
}

/// Milliseconds since 1970 of an ISO 8601 instant such as `2027-06-30T00:00:00Z`.
func instant(_ text: String) -> Int64 {
    let formatter = ISO8601DateFormatter()
    guard let date = formatter.date(from: text) else {
        Issue.record("'\(text)' is not an ISO 8601 instant")
        return 0
    }
    return Int64((date.timeIntervalSince1970 * 1000).rounded())
}

/// A packet written as `10.0.0.1:tcp/22`, `[2001:db8::1]:udp/53`, `10.0.0.1:icmp` or `10.0.0.1:other`.
struct Packet: Sendable, CustomStringConvertible {
    let address: IPPrefix
    let networkProtocol: NetworkProtocol
    let port: UInt16?

    init(address: IPPrefix, networkProtocol: NetworkProtocol, port: UInt16?) {
        self.address = address
        self.networkProtocol = networkProtocol
        self.port = port
    }

    init(_ text: String) {
        let hostText: Substring
        let rest: Substring
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            hostText = text[text.index(after: text.startIndex)..<close]
            rest = text[text.index(close, offsetBy: 2)...]
        } else {
            let colon = text.firstIndex(of: ":") ?? text.endIndex
            hostText = text[..<colon]
            rest = colon == text.endIndex ? "" : text[text.index(after: colon)...]
        }
        do {
            address = try IPPrefix.parse(String(hostText))
        } catch {
            Issue.record("bad packet address in '\(text)': \(error)")
            address = .everything(.v4)
        }
        let pieces = rest.split(separator: "/")
        networkProtocol = NetworkProtocol(rawValue: String(pieces.first ?? "")) ?? .other
        port = pieces.count == 2 ? UInt16(pieces[1]) : nil
    }

    var description: String {
        let host = address.family == .v6 ? "[\(address.description.split(separator: "/")[0])]" : String(address.description.split(separator: "/")[0])
        return host + ":" + networkProtocol.rawValue + (port.map { "/\($0)" } ?? "")
    }
}

extension AccessSet {
    func permits(_ packet: Packet) -> Bool {
        permits(address: packet.address.address, family: packet.address.family, networkProtocol: packet.networkProtocol, port: packet.port)
    }

    func permits(_ text: String) -> Bool {
        permits(Packet(text))
    }

    /// Whether both sets let exactly the same packets through.
    func isEquivalent(to other: AccessSet) -> Bool {
        subtracting(other).isEmpty && other.subtracting(self).isEmpty
    }
}

extension AccessGrant {
    /// `10.0.0.0/24 tcp/22-23`, `10.0.0.0/24 icmp`.
    init(_ text: String) throws {
        let parts = text.split(separator: " ")
        let prefix = try IPPrefix.parse(String(parts[0]))
        let spec = String(parts[1])
        if spec == "other" {
            self.init(prefix: prefix, networkProtocol: .other, ports: nil)
            return
        }
        let parsed = try PortSpec.parse(spec)
        try #require(parsed.parts.count == 1, "use one protocol per grant: \(text)")
        self.init(prefix: prefix, networkProtocol: parsed.parts[0].0, ports: parsed.parts[0].1)
    }
}

/// An access set from grants written as text.
func accessSet(_ grants: [String]) throws -> AccessSet {
    AccessSet(try grants.map { try AccessGrant($0) })
}

/// A deterministic pseudo-random generator (SplitMix64), so that every run checks the same cases.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
