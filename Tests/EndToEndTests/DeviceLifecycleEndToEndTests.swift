import Foundation
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A device's life on real parts, through the admin API: issued, rotated, brought with the user's own
/// key, expired; the gateway's WireGuard interface (wireguard-go in a namespace) must follow each step.
@Suite(
    .serialized,
    .enabled(if: getuid() == 0, "needs root: it creates network namespaces, WireGuard interfaces and nftables rules"),
    .enabled(if: GatewayLab.toolsMissing.isEmpty, "needs \(GatewayLab.toolsMissing.joined(separator: ", ")) installed"))
struct DeviceLifecycleEndToEndTests {
    static let policy = GatewayEndToEndTests.policy

    @Test func rotationReplacesTheGatewayKeyBeforeTheAnswer() async throws {
        let lab = try GatewayLab()
        defer { lab.tearDown() }
        let server = try lab.startPortcullis(policy: Self.policy)
        let userID = try await lab.provisionEngineer(server, userName: "ada@example.com")
        let admin = try lab.createAdminToken()

        let issued = try await lab.api(server, "POST", "/users/\(userID)/devices", token: admin, body: #"{"name": "laptop"}"#)
        #expect(issued.status == 201)
        let device = try #require(issued.json["device"] as? [String: Any])
        let deviceID = try #require(device["id"] as? String)
        let oldKey = try #require(device["publicKey"] as? String)
        let oldConfig = try #require(issued.json["config"] as? String)
        #expect(try lab.gatewayPeers() == [oldKey], "the new device is on the gateway when the API answers")
        try lab.startClient(config: oldConfig)
        #expect(try await lab.waitUntil(seconds: 20) { lab.ping("10.40.0.10") }, "the client connects with the issued key")

        let start = Date()
        let rotated = try await lab.api(server, "POST", "/devices/\(deviceID)/rotate", token: admin)
        let answered = Date().timeIntervalSince(start) * 1000
        let peersAtAnswer = try lab.gatewayPeers()
        #expect(rotated.status == 200)
        let newKey = try #require((rotated.json["device"] as? [String: Any])?["publicKey"] as? String)
        let newConfig = try #require(rotated.json["config"] as? String)
        #expect(newKey != oldKey)
        #expect(peersAtAnswer == [newKey], "at the answer the old key is gone from the gateway and the new one is there")
        #expect(Self.line("Address", in: newConfig) == Self.line("Address", in: oldConfig), "the device keeps its address")
        #expect(Self.line("PrivateKey", in: newConfig) != Self.line("PrivateKey", in: oldConfig))
        #expect(!lab.ping("10.40.0.10"), "the old key no longer gets through")

        // The client takes the new private key and is back without other changes.
        let keyFile = lab.folder.appendingPathComponent("rotated.key")
        FileManager.default.createFile(
            atPath: keyFile.path, contents: Data((Self.line("PrivateKey", in: newConfig) ?? "").utf8), attributes: [.posixPermissions: 0o600])
        let switched = Date()
        try lab.run("wg", ["set", "\(lab.prefix)c", "private-key", keyFile.path])
        #expect(try await lab.waitUntil(seconds: 20) { lab.ping("10.40.0.10") }, "the new key gets through")
        let reconnected = Date().timeIntervalSince(switched) * 1000
        print(String(format: "rotation: HTTP answer after %.2f ms, old key already gone; client through again %.0f ms after taking the new key", answered, reconnected))
        #expect(server.stop() == 0)
    }

    @Test func ownPublicKeyGetsAConfigWithoutPrivateKeyThatConnects() async throws {
        let lab = try GatewayLab()
        defer { lab.tearDown() }
        let server = try lab.startPortcullis(policy: Self.policy)
        let userID = try await lab.provisionEngineer(server, userName: "grace@example.com")
        let admin = try lab.createAdminToken()
        let privateKey = try Self.wg(["genkey"]).trimmingCharacters(in: .whitespacesAndNewlines)
        let publicKey = try Self.wg(["pubkey"], input: privateKey).trimmingCharacters(in: .whitespacesAndNewlines)

        let issued = try await lab.api(
            server, "POST", "/users/\(userID)/devices", token: admin, body: #"{"name": "own-key", "publicKey": "\#(publicKey)"}"#)
        #expect(issued.status == 201)
        #expect((issued.json["device"] as? [String: Any])?["publicKey"] as? String == publicKey)
        let config = try #require(issued.json["config"] as? String)
        #expect(Self.line("PrivateKey", in: config) == nil, "no PrivateKey setting: the server never had it")
        #expect(config.contains("\n# PrivateKey = <"), "the config says where the user's own key goes")
        #expect(try lab.gatewayPeers() == [publicKey])

        // The same public key cannot be registered twice.
        let again = try await lab.api(
            server, "POST", "/users/\(userID)/devices", token: admin, body: #"{"name": "own-key-2", "publicKey": "\#(publicKey)"}"#)
        #expect(again.status == 409)

        // Filled in with the private key the user kept, the config connects.
        let completed = config.split(separator: "\n", omittingEmptySubsequences: false)
            .map { $0.hasPrefix("# PrivateKey = ") ? "PrivateKey = \(privateKey)" : String($0) }
            .joined(separator: "\n")
        try lab.startClient(config: completed)
        #expect(try await lab.waitUntil(seconds: 20) { lab.ping("10.40.0.10") }, "the allowed host answers through the tunnel")
        #expect(!lab.ping("10.30.0.10"), "the other host is not reachable")
        #expect(server.stop() == 0)
    }

    @Test func expiredKeyLeavesTheGatewayOnTime() async throws {
        let lab = try GatewayLab()
        defer { lab.tearDown() }
        let server = try lab.startPortcullis(policy: Self.policy)
        let userID = try await lab.provisionEngineer(server, userName: "linus@example.com")
        let admin = try lab.createAdminToken()

        let issued = try await lab.api(server, "POST", "/users/\(userID)/devices", token: admin, body: #"{"name": "short-lived", "keyTTL": "2s"}"#)
        #expect(issued.status == 201)
        let device = try #require(issued.json["device"] as? [String: Any])
        let key = try #require(device["publicKey"] as? String)
        let expiresText = try #require(device["expires"] as? String)
        let expires = try #require(Self.date(expiresText), "expires is a timestamp: \(expiresText)")
        let created = try #require((device["created"] as? String).flatMap(Self.date))
        #expect(abs(expires.timeIntervalSince(created) - 2) < 0.1, "the key lives 2 s")
        #expect(Date() < expires)
        #expect(try lab.gatewayPeers() == [key], "the peer is on the gateway while the key is valid")

        // Watch the peer closely until it goes; it must not go before the expiry.
        var lastSeen = Date()
        var goneAt: Date?
        while Date() < expires.addingTimeInterval(5) {
            let now = Date()
            if try lab.gatewayPeers().contains(key) {
                lastSeen = now
            } else {
                goneAt = now
                break
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        let gone = try #require(goneAt, "the expired key was removed from the gateway")
        let lateness = gone.timeIntervalSince(expires)
        let presentUntil = lastSeen.timeIntervalSince(expires)
        print(String(format: "key expiry: peer gone %.0f ms after the expiry (last seen %.0f ms relative to it)", lateness * 1000, presentUntil * 1000))
        #expect(gone >= expires, "the key is not revoked early")
        #expect(lateness < 1.5, "the key is revoked within 1.5 s of its expiry")
        #expect(try lab.gatewayPeers().isEmpty)
        #expect(server.stop() == 0)
    }

    @Test func wgQuickStripAcceptsGeneratedConfigs() async throws {
        let lab = try GatewayLab()
        defer { lab.tearDown() }
        let server = try lab.startPortcullis(policy: Self.policy)
        let userID = try await lab.provisionEngineer(server, userName: "barbara@example.com")
        let admin = try lab.createAdminToken()
        let publicKey = try Self.wg(["pubkey"], input: try Self.wg(["genkey"]))
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let bodies = [
            "generated": #"{"name": "generated"}"#,
            "with preshared key": #"{"name": "preshared", "presharedKey": true}"#,
            "own public key": #"{"name": "own", "publicKey": "\#(publicKey)"}"#,
        ]
        for (kind, body) in bodies.sorted(by: { $0.key < $1.key }) {
            let issued = try await lab.api(server, "POST", "/users/\(userID)/devices", token: admin, body: body)
            #expect(issued.status == 201, "\(kind)")
            let config = try #require(issued.json["config"] as? String)
            let file = lab.folder.appendingPathComponent("wg-test.conf")
            FileManager.default.createFile(atPath: file.path, contents: Data(config.utf8), attributes: [.posixPermissions: 0o600])
            let stripped = try lab.run("wg-quick", ["strip", file.path])
            #expect(stripped.contains("[Interface]") && stripped.contains("[Peer]"), "\(kind): \(stripped)")
            #expect(!stripped.contains("Address") && !stripped.contains("DNS"), "\(kind): wg-quick's own settings are stripped")
            // wg-quick passes comments through, so the placeholder line of an own-key config stays a comment.
            #expect((Self.line("PrivateKey", in: stripped) != nil) == (kind != "own public key"), "\(kind)")
            #expect((Self.line("PresharedKey", in: stripped) != nil) == (kind == "with preshared key"), "\(kind)")
        }
        #expect(server.stop() == 0)
    }

    // MARK: Helpers

    /// The value of the first `Name = value` line of a config, if there is one.
    static func line(_ name: String, in config: String) -> String? {
        config.split(separator: "\n").first { $0.hasPrefix(name + " = ") }.map { String($0.dropFirst(name.count + 3)) }
    }

    static func date(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.date(from: text)
    }

    /// Runs `wg` with `input` on its standard input.
    static func wg(_ arguments: [String], input: String = "") throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["wg"] + arguments
        let stdin = Pipe()
        let stdout = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        try process.run()
        stdin.fileHandleForWriting.write(Data(input.utf8))
        try stdin.fileHandleForWriting.close()
        let output = stdout.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw GatewayLab.LabError("wg \(arguments.joined(separator: " ")) failed") }
        return String(decoding: output, as: UTF8.self)
    }
}

extension GatewayLab {
    /// A user in the group the policy lets reach the allowed host; their id.
    func provisionEngineer(_ server: Server, userName: String) async throws -> String {
        let token = try #require(server.token)
        let user = try await scim(server, "POST", "/Users", token: token, body: #"{"userName": "\#(userName)"}"#)
        let userID = try #require(user.json["id"] as? String)
        let group = try await scim(
            server, "POST", "/Groups", token: token, body: #"{"displayName": "Engineering", "members": [{"value": "\#(userID)"}]}"#)
        #expect(group.status == 201)
        return userID
    }

    /// An admin-scope token, made with the CLI on the lab's database.
    func createAdminToken() throws -> String {
        let result = try PortcullisBinary.run(["token", "create", "--data", dataPath, "--name", "lab-admin", "--scope", "admin"])
        guard result.status == 0 else { throw LabError("token create failed: \(result.stderr)") }
        return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// A request to the admin API at `/api/v1`.
    func api(_ server: Server, _ method: String, _ path: String, token: String, body: String? = nil) async throws -> (status: Int, json: [String: Any]) {
        var request = URLRequest(url: try #require(URL(string: server.baseURL + "/api/v1" + path)))
        request.httpMethod = method
        request.timeoutInterval = 15
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        if let body {
            request.httpBody = Data(body.utf8)
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        let (data, response) = try await URLSession.shared.data(for: request)
        let json = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, json)
    }
}
