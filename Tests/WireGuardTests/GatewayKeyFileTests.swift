import Foundation
import Testing
import SystemTestSupport

@testable import WireGuard

@Suite("Gateway key file")
struct GatewayKeyFileTests {
    static func permissions(_ path: String) throws -> Int {
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        let mode = try #require(attributes[.posixPermissions] as? NSNumber, "no permissions for \(path)")
        return mode.intValue & 0o777
    }

    @Test("the first call creates the folder (0700) and a key file (0600) holding the private key in base64")
    func createsKeyFile() async throws {
        try await withTemporaryDirectory { root in
            let directory = root + "/data/nested"
            let pair = try GatewayKeyFile.loadOrCreate(directory: directory)
            let path = directory + "/" + GatewayKeyFile.fileName
            #expect(try Self.permissions(path) == 0o600)
            #expect(try Self.permissions(directory) == 0o700)
            #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == [GatewayKeyFile.fileName], "no temporary file is left")
            #expect(try String(contentsOfFile: path, encoding: .utf8) == pair.privateKey.base64 + "\n")
            #expect(try WireGuardKeyPair(privateKey: pair.privateKey).publicKey == pair.publicKey)
        }
    }

    @Test("later calls load the same key instead of making a new one")
    func reloadsSameKey() async throws {
        try await withTemporaryDirectory { directory in
            let first = try GatewayKeyFile.loadOrCreate(directory: directory)
            let second = try GatewayKeyFile.loadOrCreate(directory: directory)
            #expect(second.privateKey == first.privateKey)
            #expect(second.publicKey == first.publicKey)
        }
    }

    @Test("a key written by hand with surrounding whitespace is read")
    func toleratesWhitespace() async throws {
        try await withTemporaryDirectory { directory in
            let key = WireGuardKey.repeating(7)
            try "  \(key.base64)  \n\n".write(toFile: directory + "/" + GatewayKeyFile.fileName, atomically: true, encoding: .utf8)
            let pair = try GatewayKeyFile.loadOrCreate(directory: directory)
            #expect(pair.privateKey == key)
            #expect(pair.publicKey == (try WireGuardKeyPair(privateKey: key)).publicKey)
        }
    }

    @Test(
        "a file that does not hold a key is refused and left as it is",
        arguments: [
            "",
            "garbage\n",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==\n",  // 31 bytes
            String(repeating: "01", count: 32) + "\n",  // hex, not base64
            "[Interface]\nPrivateKey = AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=\n",
        ])
    func refusesGarbage(contents: String) async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/" + GatewayKeyFile.fileName
            try contents.write(toFile: path, atomically: true, encoding: .utf8)
            #expect(throws: WireGuardError.self) { try GatewayKeyFile.loadOrCreate(directory: directory) }
            #expect(try String(contentsOfFile: path, encoding: .utf8) == contents)
        }
    }
}
