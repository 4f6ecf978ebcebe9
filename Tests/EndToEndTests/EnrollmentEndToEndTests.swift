import Foundation
import Testing

/// Enrollment links on the built binary, without a browser: what the log keeps of them.
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

    // MARK: Helpers

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
