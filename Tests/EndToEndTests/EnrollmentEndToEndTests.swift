import Foundation
import SCIM
import Testing

/// Enrollment links on the built binary, without a browser: what the log keeps of them, how long they
/// may work, and the key lifetime of the devices they make.
@Suite(.serialized)
struct EnrollmentEndToEndTests {
    /// A running server on a fresh data folder, with a SCIM and an admin token made by the CLI first.
    final class Setup {
        let data = DataFolder()
        let server: ServerProcess
        let scimToken: String
        let adminToken: String

        init(_ arguments: [String] = []) throws {
            scimToken = try Self.createToken(data: data.path, name: "idp", scope: "scim")
            adminToken = try Self.createToken(data: data.path, name: "ops", scope: "admin")
            server = try ServerProcess(data: data.path, extraArguments: arguments)
        }

        private static func createToken(data: String, name: String, scope: String) throws -> String {
            let created = try PortcullisBinary.run(["token", "create", "--data", data, "--name", name, "--scope", scope])
            guard created.status == 0 else { throw ServerProcess.StartFailure(description: "token create: \(created.stderr)") }
            return created.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        }

        /// Creates a user over SCIM and returns its id.
        func createUser(_ userName: String) async throws -> String {
            let created = try await server.request("POST", "/scim/v2/Users", token: scimToken, body: #"{"userName": "\#(userName)"}"#)
            try #require(created.status == 201, "\(created.body)")
            return try #require(created.body["id"] as? String)
        }

        /// A link made over the admin API.
        func link(for userID: String, ttl: String? = nil) async throws -> (status: Int, body: [String: Any]) {
            let body = ttl.map { #"{"ttl": "\#($0)"}"# } ?? "{}"
            return try await server.request("POST", "/api/v1/users/\(userID)/enrollments", token: adminToken, body: body)
        }
    }

    @Test func theLogNeverShowsALinksSecret() async throws {
        let setup = try Setup()
        let userID = try await setup.createUser("ada@example.com")
        let created = try await setup.link(for: userID)
        #expect(created.status == 201)
        let url = try #require(created.body["url"] as? String)
        let secret = try #require(url.components(separatedBy: "/enroll/").last)
        #expect(secret.count >= 32)

        // Open the page, use it, open it again, and miss the route by a letter's case: every request has a line.
        #expect(try await EnrollmentPageEndToEndTests.fetch(url).status == 200)
        #expect(try await EnrollmentPageEndToEndTests.fetch(url, form: "name=laptop").status == 201)
        #expect(try await EnrollmentPageEndToEndTests.fetch(url).status == 410)
        #expect(try await EnrollmentPageEndToEndTests.fetch(setup.server.baseURL + "/Enroll/" + secret).status == 404)
        #expect(setup.server.stop() == 0)

        let log = setup.server.standardError
        #expect(!log.contains(secret), "the log must not hold the link's secret:\n\(log)")
        let fingerprint = try String(Self.sha256(secret).prefix(8))
        let lines = log.split(separator: "\n").filter { $0.contains("path=/enroll/… ") || $0.contains("path=/Enroll/… ") }
        #expect(lines.count == 4, "one line per request to the link:\n\(log)")
        #expect(lines.allSatisfy { $0.contains(" link=\(fingerprint) ") }, "each names the link by its hash's first 8 hex digits:\n\(log)")
        #expect(lines.filter { $0.contains("method=POST") && $0.contains("status=201") }.count == 1)
    }

    @Test func enrollCreateRefusesALinkLongerThanTheMaximum() async throws {
        let setup = try Setup()
        _ = try await setup.createUser("ada@example.com")
        let data = setup.data.path
        let tooLong = try PortcullisBinary.run(["enroll", "create", "--data", data, "--user", "ada@example.com", "--ttl", "31d"])
        #expect(tooLong.status == 64 || tooLong.status == 2, "\(tooLong)")
        #expect(tooLong.stderr.contains("--ttl 31d is longer than --max-enrollment-ttl 30d"), "\(tooLong.stderr)")
        #expect(!tooLong.stdout.contains("/enroll/"))

        let thirtyDays = try PortcullisBinary.run(["enroll", "create", "--data", data, "--user", "ada@example.com", "--ttl", "30d"])
        #expect(thirtyDays.status == 0, "\(thirtyDays.stderr)")
        let raised = try PortcullisBinary.run([
            "enroll", "create", "--data", data, "--user", "ada@example.com", "--ttl", "31d", "--max-enrollment-ttl", "60d",
        ])
        #expect(raised.status == 0, "\(raised.stderr)")
        #expect(raised.stdout.contains("/enroll/"))
        setup.server.stop()
    }

    @Test func serveRefusesALinkLifetimeLongerThanTheMaximum() throws {
        let data = DataFolder()
        let folder = try TemporaryFolder()
        let config = folder.url.appendingPathComponent("portcullis.yaml").path
        try "enrollment-ttl: 8d\nmax-enrollment-ttl: 7d\n".write(toFile: config, atomically: true, encoding: .utf8)
        for (arguments, message) in [
            (["--enrollment-ttl", "31d"], "--enrollment-ttl 31d is longer than --max-enrollment-ttl 30d"),
            (["--config", config], "--enrollment-ttl 8d is longer than --max-enrollment-ttl 7d"),
        ] {
            do {
                let server = try ServerProcess(data: data.path, extraArguments: arguments)
                server.stop()
                Issue.record("serve started with \(arguments)")
            } catch let failure as ServerProcess.StartFailure {
                #expect(failure.description.contains(message), "\(failure)")
            }
        }
        let raised = try ServerProcess(data: data.path, extraArguments: ["--enrollment-ttl", "31d", "--max-enrollment-ttl", "60d"])
        #expect(raised.stop() == 0)
    }

    @Test func devicesWithoutAKeyLifetimeGetTheServersDefault() async throws {
        let setup = try Setup(["--default-key-ttl", "30d", "--max-enrollment-ttl", "7d", "--enrollment-ttl", "1d"])
        let userID = try await setup.createUser("ada@example.com")
        let thirtyDays: Int64 = 30 * 86_400_000

        let plain = try await setup.server.request("POST", "/api/v1/users/\(userID)/devices", token: setup.adminToken, body: #"{"name": "laptop"}"#)
        #expect(plain.status == 201, "\(plain.body)")
        #expect(try Self.lifetime(plain.body["device"]) == thirtyDays)
        let ownTTL = try await setup.server.request(
            "POST", "/api/v1/users/\(userID)/devices", token: setup.adminToken, body: #"{"name": "phone", "keyTTL": "1h"}"#)
        #expect(try Self.lifetime(ownTTL.body["device"]) == 3_600_000, "a keyTTL given wins over the default")

        // Links: within the server's maximum, and their devices get the default lifetime too.
        let tooLong = try await setup.link(for: userID, ttl: "8d")
        #expect(tooLong.status == 400)
        #expect(((tooLong.body["error"] as? [String: Any])?["message"] as? String)?.contains("may work at most 7d") == true, "\(tooLong.body)")
        let created = try await setup.link(for: userID, ttl: "7d")
        #expect(created.status == 201, "\(created.body)")
        let url = try #require(created.body["url"] as? String)
        let enrolled = try await EnrollmentPageEndToEndTests.fetch(url, form: "name=tablet")
        #expect(enrolled.status == 201)
        #expect(enrolled.text.contains("The key works until"))
        let user = try await setup.server.request("GET", "/api/v1/users/\(userID)", token: setup.adminToken)
        let tablet = (user.body["devices"] as? [[String: Any]])?.first { $0["name"] as? String == "tablet" }
        #expect(try Self.lifetime(tablet) == thirtyDays, "\(user.body)")
        #expect(setup.server.stop() == 0)
    }

    // MARK: Helpers

    /// A device document's key lifetime: from `created` to `expires`, in milliseconds.
    static func lifetime(_ device: Any?) throws -> Int64 {
        let document = try #require(device as? [String: Any])
        let created = try #require((document["created"] as? String).flatMap(SCIMDateTime.parse))
        let expires = try #require((document["expires"] as? String).flatMap(SCIMDateTime.parse), "no expiry: \(document)")
        return expires - created
    }

    /// SHA-256 in hex, by coreutils rather than the code under test.
    static func sha256(_ text: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
        let input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        input.fileHandleForWriting.write(Data(text.utf8))
        try input.fileHandleForWriting.close()
        let digest = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(String(decoding: digest, as: UTF8.self).prefix(64))
    }
}
