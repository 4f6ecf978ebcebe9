import Foundation
import Testing
import SystemTestSupport

@testable import WireGuard

/// Three real peers, as `wireguard-go` and `wg show IF dump` reported them: one with a preshared key,
/// an endpoint, keepalive and two allowed IPs; one with nothing; one with a single allowed IP.
enum RealPeers {
    static let withEverything = WireGuardPeer(
        publicKey: key("RlTGWrMcGEzDwRBarWfd1rAs7LTjkoaIn/He9vvmowg="), presharedKey: key("uTAaGkzjhNi5qktR+kwpnUWe5JP+dSNFzbYeY7hBd7k="),
        allowedIPs: ["fd00::4/128", "10.1.0.4/32"])
    static let bare = WireGuardPeer(publicKey: key("jo5zvwP0RThIs+5sDVi+gaijhJwxZ8oIETDGBwCI9ls="), allowedIPs: [])
    static let oneAddress = WireGuardPeer(publicKey: key("rohTB+8l4UnaAXc+oMIsWd83b7tYIkX/5skvekqmKxU="), allowedIPs: ["10.1.0.3/32"])

    static func key(_ base64: String) -> WireGuardKey {
        // Literal keys: a typo shows up as a failed comparison with an all-zero key.
        WireGuardKey(base64: base64) ?? .repeating(0)
    }
}

@Suite("UAPI protocol")
struct UAPIProtocolTests {
    struct LinesCase: Sendable, CustomTestStringConvertible {
        let name: String
        let changes: [WireGuardPeerChange]
        let expected: [String]
        var testDescription: String { name }
    }

    static let zeroHex = String(repeating: "0", count: 64)

    static let linesCases: [LinesCase] = [
        LinesCase(name: "nothing", changes: [], expected: []),
        LinesCase(
            name: "remove",
            changes: [.remove(.repeating(2))],
            expected: ["public_key=" + String(repeating: "02", count: 32), "remove=true"]),
        LinesCase(
            name: "upsert without a preshared key clears it and replaces the allowed IPs",
            changes: [.upsert(WireGuardPeer(publicKey: .repeating(1), allowedIPs: ["fd00:100::2/128", "10.100.0.2/32"]))],
            expected: [
                "public_key=" + String(repeating: "01", count: 32),
                "preshared_key=" + zeroHex,
                "replace_allowed_ips=true",
                "allowed_ip=10.100.0.2/32",
                "allowed_ip=fd00:100::2/128",
            ]),
        LinesCase(
            name: "upsert with a preshared key",
            changes: [.upsert(WireGuardPeer(publicKey: .repeating(1), presharedKey: .repeating(0xAB), allowedIPs: ["10.100.0.2/32"]))],
            expected: [
                "public_key=" + String(repeating: "01", count: 32),
                "preshared_key=" + String(repeating: "ab", count: 32),
                "replace_allowed_ips=true",
                "allowed_ip=10.100.0.2/32",
            ]),
        LinesCase(
            name: "upsert with no allowed IPs leaves none",
            changes: [.upsert(WireGuardPeer(publicKey: .repeating(3), allowedIPs: []))],
            expected: ["public_key=" + String(repeating: "03", count: 32), "preshared_key=" + zeroHex, "replace_allowed_ips=true"]),
        LinesCase(
            name: "several changes keep their order",
            changes: [
                .remove(.repeating(2)),
                .upsert(WireGuardPeer(publicKey: .repeating(1), allowedIPs: ["10.100.0.2/32"])),
                .remove(.repeating(3)),
            ],
            expected: [
                "public_key=" + String(repeating: "02", count: 32), "remove=true",
                "public_key=" + String(repeating: "01", count: 32), "preshared_key=" + zeroHex, "replace_allowed_ips=true",
                "allowed_ip=10.100.0.2/32",
                "public_key=" + String(repeating: "03", count: 32), "remove=true",
            ]),
    ]

    @Test("lines(for:) writes the exact UAPI set lines", arguments: linesCases)
    func lines(testCase: LinesCase) {
        #expect(UAPIControl.lines(for: testCase.changes) == testCase.expected)
    }

    /// A `get=1` answer as wireguard-go gave it, with the three real peers.
    static let realGetResponse = """
        private_key=a08e47bb8ec8af1cba2a2d0c19a65b89aa931e4fbdee9d4a798532039d346b4e
        listen_port=51999
        public_key=4654c65ab31c184cc3c1105aad67ddd6b02cecb4e39286889ff1def6fbe6a308
        preshared_key=b9301a1a4ce384d8b9aa4b51fa4c299d459ee493fe752345cdb61e63b84177b9
        protocol_version=1
        endpoint=192.0.2.1:51820
        last_handshake_time_sec=0
        last_handshake_time_nsec=0
        tx_bytes=148
        rx_bytes=0
        persistent_keepalive_interval=25
        allowed_ip=10.1.0.4/32
        allowed_ip=fd00::4/128
        public_key=8e8e73bf03f4453848b3ee6c0d58be81a8a3849c3167ca081130c6070088f65b
        preshared_key=0000000000000000000000000000000000000000000000000000000000000000
        protocol_version=1
        last_handshake_time_sec=0
        last_handshake_time_nsec=0
        tx_bytes=0
        rx_bytes=0
        persistent_keepalive_interval=0
        public_key=ae885307ef25e149da01773ea0c22c59df376fbb582245ffe6c92f7a4aa62b15
        preshared_key=0000000000000000000000000000000000000000000000000000000000000000
        protocol_version=1
        last_handshake_time_sec=0
        last_handshake_time_nsec=0
        tx_bytes=0
        rx_bytes=0
        persistent_keepalive_interval=0
        allowed_ip=10.1.0.3/32
        errno=0


        """

    @Test("parsePeers reads a real get=1 answer: keys, preshared keys (all-zero is none) and allowed IPs")
    func parsesRealAnswer() throws {
        let peers = try UAPIControl.parsePeers(Self.realGetResponse)
        #expect(peers == [RealPeers.withEverything, RealPeers.bare, RealPeers.oneAddress])
    }

    @Test("parsePeers of an interface without peers is empty")
    func parsesNoPeers() throws {
        #expect(try UAPIControl.parsePeers("private_key=\(Self.zeroHex)\nlisten_port=51820\nerrno=0\n\n").isEmpty)
    }

    @Test(
        "parsePeers refuses failed or malformed answers",
        arguments: [
            "errno=2\n\n",
            "listen_port=51820\nerrno=-22\n\n",
            "public_key=zz\nerrno=0\n\n",
            "public_key=\(String(repeating: "0", count: 62))\nerrno=0\n\n",
        ])
    func refusesBadAnswers(response: String) {
        #expect(throws: WireGuardError.self) { try UAPIControl.parsePeers(response) }
    }

    /// `wg show IF dump` of the same interface (tab-separated; `(none)` for what is missing).
    static let realDump =
        "oI5Hu47Irxy6Ki0MGaZbiaqTHk+97p1KeYUyA500a04=\tmoa2iWdx1CnWAdqCAiJUuLpjmeQtFPc+QlnZ2rabTyo=\t51999\toff\n"
        + "RlTGWrMcGEzDwRBarWfd1rAs7LTjkoaIn/He9vvmowg=\tuTAaGkzjhNi5qktR+kwpnUWe5JP+dSNFzbYeY7hBd7k=\t192.0.2.1:51820\t10.1.0.4/32,fd00::4/128\t0\t0\t148\t25\n"
        + "jo5zvwP0RThIs+5sDVi+gaijhJwxZ8oIETDGBwCI9ls=\t(none)\t(none)\t(none)\t0\t0\t0\toff\n"
        + "rohTB+8l4UnaAXc+oMIsWd83b7tYIkX/5skvekqmKxU=\t(none)\t(none)\t10.1.0.3/32\t1732851948\t92\t180\toff\n"

    @Test("parseDump reads a real dump and skips its interface line")
    func parsesRealDump() throws {
        let peers = try WGToolControl.parseDump(Self.realDump)
        #expect(peers == [RealPeers.withEverything, RealPeers.bare, RealPeers.oneAddress])
    }

    @Test("parseDump of an interface without peers (or without a key) is empty", arguments: ["(none)\t(none)\t0\toff\n", "", "\n"])
    func parsesEmptyDump(dump: String) throws {
        #expect(try WGToolControl.parseDump(dump).isEmpty)
    }

    @Test("a peer's allowed IPs are kept sorted, so the order the gateway reports does not matter")
    func allowedIPsAreSorted() {
        let one = WireGuardPeer(publicKey: .repeating(1), allowedIPs: ["fd00::2/128", "10.0.0.2/32"])
        let other = WireGuardPeer(publicKey: .repeating(1), allowedIPs: ["10.0.0.2/32", "fd00::2/128"])
        #expect(one == other)
        #expect(one.allowedIPs == ["10.0.0.2/32", "fd00::2/128"])
    }
}

@Suite("Dry-run WireGuard control")
struct FileControlTests {
    @Test("FileControl keeps peers in memory and writes the configuration the interface would have")
    func writesConfiguration() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/wg0.conf"
            let control = FileControl(interfaceName: "wg0", path: path)
            try await control.configure(privateKey: .repeating(9), listenPort: 51820)
            #expect(try String(contentsOfFile: path, encoding: .utf8).contains("ListenPort = 51820"))
            try await control.apply([
                .upsert(WireGuardPeer(publicKey: .repeating(2), presharedKey: .repeating(3), allowedIPs: ["10.100.0.3/32"])),
                .upsert(WireGuardPeer(publicKey: .repeating(1), allowedIPs: ["10.100.0.2/32", "fd00:100::2/128"])),
                .upsert(WireGuardPeer(publicKey: .repeating(4), allowedIPs: ["10.100.0.4/32"])),
                .remove(.repeating(4)),
            ])
            #expect(
                try String(contentsOfFile: path, encoding: .utf8) == """
                    # Dry run: what wg0 would be configured with.
                    [Interface]
                    ListenPort = 51820
                    # PrivateKey: see gateway.key

                    [Peer]
                    PublicKey = AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=
                    AllowedIPs = 10.100.0.2/32, fd00:100::2/128

                    [Peer]
                    PublicKey = AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=
                    PresharedKey = (set)
                    AllowedIPs = 10.100.0.3/32

                    """)
            #expect(Set(try await control.peers().map(\.publicKey)) == [.repeating(1), .repeating(2)])
        }
    }
}
