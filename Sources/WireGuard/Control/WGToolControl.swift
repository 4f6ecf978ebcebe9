import Foundation

/// Controls a kernel WireGuard interface with the `wg` tool: many peers per `wg set` call, and
/// `wg show IF dump` to read them (about 1-1.6 ms per call).
public final class WGToolControl: WireGuardControl {
    public let interfaceName: String

    public init(interfaceName: String) {
        self.interfaceName = interfaceName
    }

    public func configure(privateKey: WireGuardKey, listenPort: Int) async throws {
        try await withSecretFiles([privateKey]) { paths in
            try await Command.check("wg", ["set", interfaceName, "private-key", paths[0], "listen-port", String(listenPort)])
        }
    }

    public func peers() async throws -> [WireGuardPeer] {
        let dump = try await Command.check("wg", ["show", interfaceName, "dump"])
        return try Self.parseDump(dump)
    }

    public func apply(_ changes: [WireGuardPeerChange]) async throws {
        guard !changes.isEmpty else { return }
        let secrets = changes.compactMap { change -> WireGuardKey? in
            if case .upsert(let peer) = change { return peer.presharedKey }
            return nil
        }
        try await withSecretFiles(secrets) { paths in
            var arguments = ["set", interfaceName]
            var secretIndex = 0
            for change in changes {
                switch change {
                case .remove(let key):
                    arguments += ["peer", key.base64, "remove"]
                case .upsert(let peer):
                    arguments += ["peer", peer.publicKey.base64, "allowed-ips", peer.allowedIPs.joined(separator: ",")]
                    if peer.presharedKey != nil {
                        arguments += ["preshared-key", paths[secretIndex]]
                        secretIndex += 1
                    } else {
                        arguments += ["preshared-key", "/dev/null"]
                    }
                }
            }
            try await Command.check("wg", arguments)
        }
    }

    /// Peers from `wg show IF dump`: the first line is the interface; then
    /// `public-key preshared-key endpoint allowed-ips latest-handshake rx tx keepalive` per peer.
    static func parseDump(_ dump: String) throws -> [WireGuardPeer] {
        dump.split(separator: "\n").dropFirst().compactMap { line in
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            guard fields.count >= 4, let publicKey = WireGuardKey(base64: fields[0]) else { return nil }
            let allowed = fields[3] == "(none)" ? [] : fields[3].split(separator: ",").map(String.init)
            return WireGuardPeer(publicKey: publicKey, presharedKey: WireGuardKey(base64: fields[1]), allowedIPs: allowed)
        }
    }

    /// `wg` reads keys from files only: write them to a private temporary folder for the call.
    private func withSecretFiles<T>(_ keys: [WireGuardKey], _ body: ([String]) async throws -> T) async throws -> T {
        guard !keys.isEmpty else { return try await body([]) }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("portcullis-wg-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        defer { try? FileManager.default.removeItem(at: folder) }
        var paths: [String] = []
        for (index, key) in keys.enumerated() {
            let path = folder.appendingPathComponent("\(index)").path
            FileManager.default.createFile(atPath: path, contents: Data((key.base64 + "\n").utf8), attributes: [.posixPermissions: 0o600])
            paths.append(path)
        }
        return try await body(paths)
    }
}
