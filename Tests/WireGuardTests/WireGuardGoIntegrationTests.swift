import Foundation
import SystemTestSupport
import Testing

@testable import WireGuard

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Drives a real `wireguard-go` through `UAPIControl`. It runs in the foreground inside a network
/// namespace made for the test, so nothing on the host changes; its UAPI socket is a file in
/// `/var/run/wireguard`, reachable from this process, so the interface gets a name no one else uses.
@Suite("wireguard-go through UAPI", .serialized)
struct WireGuardGoIntegrationTests {
    /// A `wireguard-go -f NAME` started in a namespace, ended by its process id.
    final class UserspaceInterface {
        let name: String
        let process: Process

        init(name: String, namespace: NetworkNamespace) throws {
            let ip = try #require(Tools.ip)
            let wireguardGo = try #require(Tools.wireguardGo)
            self.name = name
            process = Process()
            process.executableURL = URL(fileURLWithPath: ip)
            // `ip netns exec` execs the command, so the process id is wireguard-go's own.
            process.arguments = ["netns", "exec", namespace.name, wireguardGo, "-f", name]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
        }

        var socketPath: String { "/var/run/wireguard/\(name).sock" }

        /// Waits until wireguard-go serves its socket.
        func waitForSocket() async throws {
            let deadline = Date().addingTimeInterval(10)
            while !FileManager.default.fileExists(atPath: socketPath) {
                try #require(process.isRunning, "wireguard-go exited with status \(process.terminationStatus)")
                try #require(Date() < deadline, "wireguard-go did not open \(socketPath) within 10 s")
                try await Task.sleep(for: .milliseconds(20))
            }
        }

        /// Sends SIGTERM to the wireguard-go this test started (its interface and socket go with it).
        func stop() async {
            let pid = process.processIdentifier
            if process.isRunning { kill(pid, SIGTERM) }
            let deadline = Date().addingTimeInterval(5)
            while process.isRunning, Date() < deadline { try? await Task.sleep(for: .milliseconds(20)) }
            if process.isRunning { kill(pid, SIGKILL) }
            try? FileManager.default.removeItem(atPath: socketPath)
        }
    }

    static func peer(_ index: Int, presharedKey: WireGuardKey? = nil) -> WireGuardPeer {
        let host = index + 2
        return WireGuardPeer(
            publicKey: WireGuardKeyPair.generate().publicKey, presharedKey: presharedKey,
            allowedIPs: ["10.88.\(host / 256).\(host % 256)/32", "fd00:88::\(String(host, radix: 16))/128"])
    }

    @Test(
        "configure, 500 peers in one call, read back, remove one, change allowed IPs; `wg show dump` agrees",
        .enabled(if: Tools.isRoot, "needs root to create a network namespace and a tun device"),
        .enabled(if: Tools.canRunWireGuardGo, "needs root, ip and wireguard-go"),
        .timeLimit(.minutes(1)))
    func drivesRealWireGuardGo() async throws {
        try await NetworkNamespace.with(label: "wg") { namespace in
            let name = "gwt" + String(UUID().uuidString.filter(\.isHexDigit).prefix(8)).lowercased()
            let interface = try UserspaceInterface(name: name, namespace: namespace)
            do {
                try await interface.waitForSocket()
                try await exercise(UAPIControl(interfaceName: name), namespace: namespace, name: name)
            } catch {
                await interface.stop()
                throw error
            }
            await interface.stop()
            #expect(!interface.process.isRunning)
        }
    }

    private func exercise(_ control: UAPIControl, namespace: NetworkNamespace, name: String) async throws {
        #expect(control.isAvailable)
        let gateway = WireGuardKeyPair.generate()
        let port = Int.random(in: 40000...60000)
        try await control.configure(privateKey: gateway.privateKey, listenPort: port)
        #expect(try await control.peers().isEmpty)

        // 500 peers in one call, every third with a preshared key.
        var expected = (0..<500).map { Self.peer($0, presharedKey: $0 % 3 == 0 ? WireGuardKeyPair.presharedKey() : nil) }
        try await control.apply(expected.map { .upsert($0) })
        let readBack = try await control.peers()
        #expect(readBack.count == 500)
        #expect(Set(readBack) == Set(expected))

        // The interface line of the dump: the public key wireguard-go derived, and the port.
        let dump = try await namespace.run(["wg", "show", name, "dump"])
        try #require(dump.succeeded, "wg show dump failed: \(dump.standardError)")
        let interfaceFields = dump.standardOutput.split(separator: "\n").first?.split(separator: "\t").map(String.init) ?? []
        #expect(interfaceFields.count == 4)
        #expect(interfaceFields.dropFirst().first == gateway.publicKey.base64)
        #expect(interfaceFields.dropFirst(2).first == String(port))
        #expect(Set(try WGToolControl.parseDump(dump.standardOutput)) == Set(expected))

        // Remove one; give another new allowed IPs and drop its preshared key; add a preshared key to a third.
        let removed = expected.removeFirst()
        expected[0] = WireGuardPeer(publicKey: expected[0].publicKey, allowedIPs: ["10.88.99.1/32"])
        expected[1] = WireGuardPeer(
            publicKey: expected[1].publicKey, presharedKey: WireGuardKeyPair.presharedKey(), allowedIPs: expected[1].allowedIPs)
        try await control.apply([.remove(removed.publicKey), .upsert(expected[0]), .upsert(expected[1])])

        let afterChange = try await control.peers()
        #expect(afterChange.count == 499)
        #expect(!afterChange.contains { $0.publicKey == removed.publicKey })
        #expect(Set(afterChange) == Set(expected))
        #expect(afterChange.first { $0.publicKey == expected[0].publicKey }?.allowedIPs == ["10.88.99.1/32"])

        let secondDump = try await namespace.run(["wg", "show", name, "dump"])
        try #require(secondDump.succeeded, "wg show dump failed: \(secondDump.standardError)")
        #expect(Set(try WGToolControl.parseDump(secondDump.standardOutput)) == Set(expected))
        let allowed = try await namespace.run(["wg", "show", name, "allowed-ips"])
        #expect(allowed.standardOutput.contains("\(expected[0].publicKey.base64)\t10.88.99.1/32\n"))

        // Removing a peer that is not there is not an error; a malformed allowed IP is, and loses no peer.
        try await control.apply([.remove(removed.publicKey)])
        await #expect(throws: WireGuardError.self) {
            try await control.apply([.upsert(WireGuardPeer(publicKey: .repeating(5), allowedIPs: ["not-an-address"]))])
        }
        #expect(Set(try await control.peers()).isSuperset(of: expected))
    }

    @Test("a missing socket is reported, not hung on")
    func missingSocket() async throws {
        try await withTemporaryDirectory { directory in
            let control = UAPIControl(interfaceName: "nothere0", socketDirectory: directory)
            #expect(!control.isAvailable)
            await #expect(throws: WireGuardError.self) { try await control.peers() }
            await #expect(throws: WireGuardError.self) { try await control.apply([.remove(.repeating(1))]) }
        }
    }
}
