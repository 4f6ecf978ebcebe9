import Foundation
import Testing
import SystemTestSupport

@testable import WireGuard

@Suite("Client configs")
struct ClientConfigTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        let config: ClientConfig
        let expected: String
        /// What `wg-quick strip` leaves: the `wg` part, without wg-quick's own keys.
        let stripped: String
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(
            name: "generated key, preshared key and DNS",
            config: ClientConfig(
                privateKey: .repeating(1), addresses: ["10.100.0.2/32", "fd00:100::2/128"], dns: ["10.0.0.53", "2001:db8:0:53::53"],
                gatewayPublicKey: .repeating(2), presharedKey: .repeating(3), endpoint: "vpn.example.com:51820",
                allowedIPs: ["10.0.0.0/8", "2001:db8::/32"]),
            expected: """
                [Interface]
                PrivateKey = AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=
                Address = 10.100.0.2/32, fd00:100::2/128
                DNS = 10.0.0.53, 2001:db8:0:53::53

                [Peer]
                PublicKey = AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=
                PresharedKey = AwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwM=
                Endpoint = vpn.example.com:51820
                AllowedIPs = 10.0.0.0/8, 2001:db8::/32
                PersistentKeepalive = 25

                """,
            stripped: """
                [Interface]
                PrivateKey = AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=

                [Peer]
                PublicKey = AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=
                PresharedKey = AwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwM=
                Endpoint = vpn.example.com:51820
                AllowedIPs = 10.0.0.0/8, 2001:db8::/32
                PersistentKeepalive = 25
                """),
        Case(
            name: "user's own key, no preshared key, no DNS",
            config: ClientConfig(
                privateKey: nil, addresses: ["10.100.0.7/32"], dns: [], gatewayPublicKey: .repeating(2), endpoint: "203.0.113.5:443",
                allowedIPs: ["0.0.0.0/0", "::/0"]),
            expected: """
                [Interface]
                # PrivateKey = <the private key that matches the public key you registered>
                Address = 10.100.0.7/32

                [Peer]
                PublicKey = AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=
                Endpoint = 203.0.113.5:443
                AllowedIPs = 0.0.0.0/0, ::/0
                PersistentKeepalive = 25

                """,
            stripped: """
                [Interface]
                # PrivateKey = <the private key that matches the public key you registered>

                [Peer]
                PublicKey = AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=
                Endpoint = 203.0.113.5:443
                AllowedIPs = 0.0.0.0/0, ::/0
                PersistentKeepalive = 25
                """),
    ]

    @Test("render writes the exact wg-quick text", arguments: cases)
    func renders(testCase: Case) {
        #expect(testCase.config.render() == testCase.expected)
    }

    @Test("a changed keepalive is written")
    func keepalive() throws {
        var config = try #require(Self.cases.first).config
        config.persistentKeepalive = 0
        #expect(config.render().contains("\nPersistentKeepalive = 0\n"))
    }

    @Test(
        "wg-quick strip accepts the rendered file and leaves exactly the wg part",
        .enabled(if: Tools.wgQuick != nil, "wg-quick is not installed"),
        .enabled(if: Tools.isRoot, "wg-quick re-runs itself with sudo unless it runs as root"),
        arguments: cases)
    func wgQuickStrip(testCase: Case) async throws {
        let wgQuick = try #require(Tools.wgQuick)
        try await withTemporaryDirectory { directory in
            // wg-quick wants INTERFACE.conf, and warns about files others can read.
            let path = directory + "/pctest0.conf"
            try #require(
                FileManager.default.createFile(atPath: path, contents: Data(testCase.config.render().utf8), attributes: [.posixPermissions: 0o600]))
            let result = try await Tools.run(wgQuick, ["strip", path])
            #expect(result.succeeded, "wg-quick strip failed: \(result.standardError)")
            #expect(result.standardOutput.trimmingCharacters(in: .newlines) == testCase.stripped)
        }
    }
}
