import Foundation
import Policy
import SystemTestSupport
import Testing

@testable import Firewall

/// Packets from the tunnel to the gateway's own addresses, on a rendered table loaded with `nft` in a
/// gateway namespace. A veth named `tun0` stands for the WireGuard interface (nftables matches the
/// name, not the kind), and a second veth, `eth0`, for the physical link WireGuard's UDP arrives on.
///
///     client 10.100.0.2, .3 ──tun0── 10.100.0.1  gateway
///     client 10.99.1.2      ──eth0── 10.99.1.1, 10.40.0.1 (a LAN address)  gateway
///
/// Nothing listens on the gateway: a TCP connection that reaches it is refused with a reset, one the
/// firewall drops times out.
@Suite("Traffic from the tunnel to the gateway itself (nftables in namespaces)")
struct GatewayInputTests {
    static let python = Tools.find("python3")

    /// One rule: the client's first address may reach the gateway's tunnel address on tcp/7000 and its
    /// LAN address on tcp/7002.
    static func state() throws -> FirewallState {
        let rule = try RuleSpec(id: "a1", sources: ["10.100.0.2/32"], grants: ["10.100.0.1/32 tcp/7000", "10.40.0.1/32 tcp/7002"]).make()
        return FirewallState(interfaceName: "tun0", rules: [rule])
    }

    @Test(
        "the tunnel reaches the gateway's addresses only where a rule names them; other interfaces are untouched",
        .enabled(if: Tools.canUseNamespaces && python != nil, "needs root, ip, nft and python3 to send packets between namespaces"),
        .timeLimit(.minutes(1)))
    func tunnelReachesTheGatewayOnlyWhereARuleAllows() async throws {
        try await NetworkNamespace.with(label: "gwin") { gateway in
            try await NetworkNamespace.with(label: "clin") { client in
                try await Self.link(gateway: gateway, client: client)
                try await gateway.nft(script: RulesetRenderer.render(try Self.state()))

                // The rule's destinations, tunnel address and LAN address alike: they answer.
                #expect(try await Self.connect(from: client, to: "10.100.0.1", port: 7000) == "refused")
                #expect(try await Self.connect(from: client, to: "10.40.0.1", port: 7002) == "refused")
                // Another port, another address of the gateway, or a source the rule does not hold: dropped.
                #expect(try await Self.connect(from: client, to: "10.100.0.1", port: 7001) == "timeout")
                #expect(try await Self.connect(from: client, to: "10.40.0.1", port: 7000) == "timeout")
                #expect(try await Self.connect(from: client, to: "10.100.0.1", port: 7000, source: "10.100.0.3") == "timeout")
                // Not from the tunnel (where WireGuard's own UDP arrives): this table does not filter it.
                #expect(try await Self.connect(from: client, to: "10.99.1.1", port: 7001) == "refused")
                #expect(try await Self.connect(from: client, to: "10.40.0.1", port: 7000, via: "eth0") == "refused")
            }
        }
    }

    /// The two links, their addresses, and the client's routes to the LAN address.
    static func link(gateway: NetworkNamespace, client: NetworkNamespace) async throws {
        let commands: [(NetworkNamespace, [String])] = [
            (gateway, ["ip", "link", "add", "tun0", "type", "veth", "peer", "name", "tun0", "netns", client.name]),
            (gateway, ["ip", "link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns", client.name]),
            (gateway, ["ip", "address", "add", "10.100.0.1/24", "dev", "tun0"]),
            (gateway, ["ip", "address", "add", "10.99.1.1/24", "dev", "eth0"]),
            (gateway, ["ip", "address", "add", "10.40.0.1/24", "dev", "eth0"]),
            (gateway, ["ip", "link", "set", "tun0", "up"]),
            (gateway, ["ip", "link", "set", "eth0", "up"]),
            (client, ["ip", "address", "add", "10.100.0.2/24", "dev", "tun0"]),
            (client, ["ip", "address", "add", "10.100.0.3/24", "dev", "tun0"]),
            (client, ["ip", "address", "add", "10.99.1.2/24", "dev", "eth0"]),
            (client, ["ip", "link", "set", "tun0", "up"]),
            (client, ["ip", "link", "set", "eth0", "up"]),
            (client, ["ip", "route", "add", "10.40.0.1/32", "dev", "tun0"]),
            // For a socket bound to eth0: the LAN address over the physical link.
            (client, ["ip", "route", "add", "10.40.0.0/24", "dev", "eth0"]),
        ]
        for (namespace, command) in commands {
            let result = try await namespace.run(command)
            try #require(result.succeeded, "\(command.joined(separator: " ")) failed: \(result.standardError)")
        }
    }

    /// One TCP connection attempt from the client: `connected`, `refused` (reached the gateway, nothing
    /// listens) or `timeout` (dropped). `via` sends it out of another interface than the route's.
    static func connect(from client: NetworkNamespace, to host: String, port: Int, source: String? = nil, via: String? = nil) async throws
        -> String
    {
        let script = """
            import socket, sys
            host, port, source, device = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
            connection = socket.socket()
            connection.settimeout(1)
            if device:
                connection.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, device.encode())
            if source:
                connection.bind((source, 0))
            try:
                connection.connect((host, port))
                print("connected")
            except ConnectionRefusedError:
                print("refused")
            except socket.timeout:
                print("timeout")
            """
        let python = try #require(Self.python)
        let result = try await client.run([python, "-c", script, host, String(port), source ?? "", via ?? ""], timeout: 10)
        try #require(result.succeeded, "the connection attempt failed: \(result.standardError)")
        return result.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
