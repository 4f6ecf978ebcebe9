import Foundation
import Testing
import SystemTestSupport

@testable import WireGuard

@Suite("WireGuard keys")
struct WireGuardKeyTests {
    struct KnownKey: Sendable, CustomTestStringConvertible {
        let bytes: [UInt8]
        let base64: String
        let hex: String
        var testDescription: String { base64 }
    }

    static let knownKeys: [KnownKey] = [
        KnownKey(
            bytes: Array(repeating: 0, count: 32), base64: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
            hex: String(repeating: "0", count: 64)),
        KnownKey(
            bytes: Array(0..<32), base64: "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
            hex: "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"),
        KnownKey(
            bytes: Array(repeating: 0xAB, count: 32), base64: "q6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s=",
            hex: String(repeating: "ab", count: 32)),
        KnownKey(
            bytes: Array(repeating: 0xFF, count: 32), base64: "//////////////////////////////////////////8=",
            hex: String(repeating: "f", count: 64)),
    ]

    @Test("base64 and hex forms of a known key are exact and decode back to the same bytes", arguments: knownKeys)
    func knownKeyForms(known: KnownKey) throws {
        let key = WireGuardKey(bytes: known.bytes)
        #expect(key.base64 == known.base64)
        #expect(key.hex == known.hex)
        #expect(key.description == known.base64)
        #expect(WireGuardKey(base64: known.base64) == key)
        #expect(WireGuardKey(hex: known.hex) == key)
    }

    @Test("hex accepts capitals, as some tools print them", arguments: knownKeys)
    func hexIgnoresCase(known: KnownKey) {
        #expect(WireGuardKey(hex: known.hex.uppercased())?.bytes == known.bytes)
    }

    @Test("generated keys survive base64 and hex round trips", arguments: 1...8)
    func generatedRoundTrips(_: Int) throws {
        let pair = WireGuardKeyPair.generate()
        for key in [pair.privateKey, pair.publicKey, WireGuardKeyPair.presharedKey()] {
            #expect(key.bytes.count == 32)
            #expect(key.base64.count == 44)
            #expect(key.hex.count == 64)
            #expect(WireGuardKey(base64: key.base64) == key)
            #expect(WireGuardKey(hex: key.hex) == key)
        }
    }

    @Test(
        "base64 that is not exactly 32 bytes is rejected",
        arguments: [
            "",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==",  // 31 bytes
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",  // 33 bytes
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",  // 32 bytes' worth without its padding
            "not a key at all",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA!=",
            " AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        ])
    func badBase64IsRejected(text: String) {
        #expect(WireGuardKey(base64: text) == nil)
    }

    @Test(
        "hex that is not exactly 64 hex digits is rejected",
        arguments: [
            "",
            String(repeating: "0", count: 62),
            String(repeating: "0", count: 63),
            String(repeating: "0", count: 65),
            String(repeating: "0", count: 66),
            String(repeating: "0", count: 62) + "zz",
            String(repeating: "0", count: 62) + "0g",
            String(repeating: "0", count: 62) + " 0",
            String(repeating: "é", count: 32),  // 64 UTF-8 bytes, but not hex
        ])
    func badHexIsRejected(text: String) {
        #expect(WireGuardKey(hex: text) == nil)
    }

    @Test("a private key derives the RFC 7748 public key (Alice's test vector)")
    func rfc7748Vector() throws {
        let privateKey = try #require(WireGuardKey(hex: "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"))
        let pair = try WireGuardKeyPair(privateKey: privateKey)
        #expect(pair.privateKey == privateKey)
        #expect(pair.publicKey.hex == "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")
    }

    @Test("a generated pair is consistent: re-deriving from its private key gives its public key", arguments: 1...4)
    func generatedPairIsConsistent(_: Int) throws {
        let pair = WireGuardKeyPair.generate()
        #expect(try WireGuardKeyPair(privateKey: pair.privateKey).publicKey == pair.publicKey)
        #expect(pair.publicKey != pair.privateKey)
    }

    @Test("two generated key pairs and two preshared keys differ")
    func generatedKeysDiffer() {
        #expect(WireGuardKeyPair.generate().privateKey != WireGuardKeyPair.generate().privateKey)
        #expect(WireGuardKeyPair.presharedKey() != WireGuardKeyPair.presharedKey())
    }

    /// Private keys to compare with `wg pubkey`: generated here, and unclamped ones that `wg` clamps.
    static let pubkeyCases: [String] = [
        "generated", "generated", "generated", "generated",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "//////////////////////////////////////////8=",
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
    ]

    @Test(
        "WireGuardKeyPair(privateKey:) derives what `wg pubkey` derives", .enabled(if: Tools.wg != nil, "wg (wireguard-tools) is not installed"),
        arguments: pubkeyCases)
    func matchesWGPubkey(privateKeyText: String) async throws {
        let wg = try #require(Tools.wg)
        let privateKey = try #require(privateKeyText == "generated" ? WireGuardKeyPair.generate().privateKey : WireGuardKey(base64: privateKeyText))
        let pair = try WireGuardKeyPair(privateKey: privateKey)
        let result = try await Tools.run(wg, ["pubkey"], input: privateKey.base64 + "\n")
        #expect(result.succeeded, "wg pubkey failed: \(result.standardError)")
        #expect(result.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines) == pair.publicKey.base64)
    }

    @Test(
        "keys from `wg genkey` derive the same public key here as with `wg pubkey`",
        .enabled(if: Tools.wg != nil, "wg (wireguard-tools) is not installed"))
    func matchesWGGenkey() async throws {
        let wg = try #require(Tools.wg)
        for _ in 0..<3 {
            let generated = try await Tools.run(wg, ["genkey"])
            try #require(generated.succeeded, "wg genkey failed: \(generated.standardError)")
            let text = generated.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)
            let privateKey = try #require(WireGuardKey(base64: text), "wg genkey printed \(text)")
            let derived = try await Tools.run(wg, ["pubkey"], input: text + "\n")
            #expect(
                derived.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)
                    == (try WireGuardKeyPair(privateKey: privateKey)).publicKey.base64)
        }
    }
}
