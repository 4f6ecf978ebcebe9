public import Crypto
import Foundation

/// A WireGuard key: 32 bytes, written in base64 as `wg` does.
public struct WireGuardKey: Sendable, Hashable, CustomStringConvertible {
    public let bytes: [UInt8]

    /// A key from its base64 form; nil unless it decodes to exactly 32 bytes.
    public init?(base64: String) {
        guard let data = Data(base64Encoded: base64), data.count == 32 else { return nil }
        bytes = Array(data)
    }

    /// A key from the lowercase hex form the UAPI protocol uses.
    public init?(hex: String) {
        guard hex.utf8.count == 64 else { return nil }
        var bytes: [UInt8] = []
        var iterator = hex.utf8.makeIterator()
        while let high = iterator.next(), let low = iterator.next() {
            guard let highValue = Self.hexValue(high), let lowValue = Self.hexValue(low) else { return nil }
            bytes.append(highValue << 4 | lowValue)
        }
        self.bytes = bytes
    }

    init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    public var base64: String { Data(bytes).base64EncodedString() }

    public var hex: String { bytes.map { String(format: "%02x", $0) }.joined() }

    /// The base64 form, as configs show it.
    public var description: String { base64 }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

/// A Curve25519 key pair generated in-process (about 0.04 ms, against 2-4 ms for `wg genkey`).
/// The private key is meant to be shown once and never stored.
public struct WireGuardKeyPair: Sendable {
    public let privateKey: WireGuardKey
    public let publicKey: WireGuardKey

    /// A fresh key pair from the system's secure random source.
    public static func generate() -> WireGuardKeyPair {
        let key = Curve25519.KeyAgreement.PrivateKey()
        return WireGuardKeyPair(
            privateKey: WireGuardKey(bytes: Array(key.rawRepresentation)), publicKey: WireGuardKey(bytes: Array(key.publicKey.rawRepresentation)))
    }

    /// The pair for an existing private key, e.g. the gateway's key read from its file.
    public init(privateKey: WireGuardKey) throws {
        let key = try Curve25519.KeyAgreement.PrivateKey(rawRepresentation: privateKey.bytes)
        self.privateKey = privateKey
        self.publicKey = WireGuardKey(bytes: Array(key.publicKey.rawRepresentation))
    }

    private init(privateKey: WireGuardKey, publicKey: WireGuardKey) {
        self.privateKey = privateKey
        self.publicKey = publicKey
    }

    /// A random 32-byte preshared key.
    public static func presharedKey() -> WireGuardKey {
        var generator = SystemRandomNumberGenerator()
        return WireGuardKey(bytes: (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) })
    }
}
