import SystemTestSupport

@testable import WireGuard

/// The tools the tests compare with.
extension Tools {
    static let wg = find("wg")
    static let wgQuick = find("wg-quick")
    static let wireguardGo = find("wireguard-go")

    /// Whether the namespace test can run: root, `ip` and `wireguard-go`.
    static var canRunWireGuardGo: Bool { isRoot && ip != nil && wireguardGo != nil }
}

/// Keys written byte by byte, so expected texts can be spelled out.
extension WireGuardKey {
    static func repeating(_ byte: UInt8) -> WireGuardKey {
        WireGuardKey(bytes: Array(repeating: byte, count: 32))
    }
}
