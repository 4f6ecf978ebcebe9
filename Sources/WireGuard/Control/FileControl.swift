import Foundation
import Synchronization

/// `--dry-run`: keeps the peers in memory and writes the configuration the interface would have to
/// a file, so a newcomer without root can watch the reconciler work.
public final class FileControl: WireGuardControl {
    public let interfaceName: String
    public let path: String
    private let state = Mutex<(listenPort: Int, peers: [WireGuardKey: WireGuardPeer])>((0, [:]))

    public init(interfaceName: String, path: String) {
        self.interfaceName = interfaceName
        self.path = path
    }

    public func configure(privateKey: WireGuardKey, listenPort: Int) async throws {
        state.withLock { $0.listenPort = listenPort }
        try write()
    }

    public func peers() async throws -> [WireGuardPeer] {
        state.withLock { Array($0.peers.values) }
    }

    public func apply(_ changes: [WireGuardPeerChange]) async throws {
        state.withLock { state in
            for change in changes {
                switch change {
                case .remove(let key): state.peers[key] = nil
                case .upsert(let peer): state.peers[peer.publicKey] = peer
                }
            }
        }
        try write()
    }

    /// Writes the `wg showconf`-style file atomically. The gateway's private key stays in its own file.
    private func write() throws {
        let (listenPort, peers) = state.withLock { ($0.listenPort, $0.peers) }
        var lines = ["# Dry run: what \(interfaceName) would be configured with.", "[Interface]", "ListenPort = \(listenPort)", "# PrivateKey: see gateway.key"]
        for peer in peers.values.sorted(by: { $0.publicKey.base64 < $1.publicKey.base64 }) {
            lines += ["", "[Peer]", "PublicKey = \(peer.publicKey.base64)"]
            if peer.presharedKey != nil { lines.append("PresharedKey = (set)") }
            lines.append("AllowedIPs = \(peer.allowedIPs.joined(separator: ", "))")
        }
        try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
    }
}
