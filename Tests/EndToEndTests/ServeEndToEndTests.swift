import Foundation
import Testing

/// Runs the built `portcullis` binary as a user would.
@Suite(.serialized)
struct ServeEndToEndTests {
    @Test func firstStartWritesATokenToAPrivateFileAndItWorks() async throws {
        let data = DataFolder()
        let path = data.path + "/initial-token"
        let first = try ServerProcess(data: data.path)
        let token = try #require(first.firstToken, "\(first.standardOutput)")
        #expect(token.range(of: #"^pcl_[A-Za-z0-9_-]{43}$"#, options: .regularExpression) != nil)
        #expect(!first.standardOutput.contains("pcl_"), "standard output is not a terminal (systemd sends it to the journal): no token there")
        #expect(first.standardOutput.contains("curl -H \"Authorization: Bearer $(cat \(path))\" \(first.baseURL)/scim/v2/Users"))
        let permissions = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber
        #expect(permissions?.intValue == 0o600)
        #expect(try await first.request("GET", "/scim/v2/Users", token: token).status == 200)
        #expect(try await first.request("GET", "/scim/v2/Users", token: nil).status == 401)
        #expect(first.stop() == 0)
        let log = first.standardError
        #expect(log.contains(" notice portcullis: file=\(path) "), "the log says where the token is: \(log)")
        #expect(!log.contains("pcl_"))

        let second = try ServerProcess(data: data.path)
        #expect(second.firstToken == nil)
        #expect(!second.standardOutput.contains("Created the first SCIM token"))
        #expect(try String(contentsOfFile: path, encoding: .utf8) == token + "\n", "a later start leaves the file alone")
        #expect(try await second.request("GET", "/scim/v2/Users", token: token).status == 200)
        second.stop()
    }

    @Test func firstStartOnATerminalPrintsTheTokenAndWritesNoFile() async throws {
        let data = DataFolder()
        let server = try ServerProcess(data: data.path, onTerminal: true)
        let output = server.standardOutput
        let token = try #require(output.range(of: #"pcl_[A-Za-z0-9_-]{43}"#, options: .regularExpression).map { String(output[$0]) }, "\(output)")
        #expect(output.contains("curl -H \"Authorization: Bearer \(token)\" \(server.baseURL)/scim/v2/Users"))
        #expect(!FileManager.default.fileExists(atPath: data.path + "/initial-token"))
        #expect(try await server.request("GET", "/scim/v2/Users", token: token).status == 200)
        #expect(server.stop() == 0)
        #expect(!server.standardError.contains("pcl_"))
    }

    @Test func aRevokedFirstTokenIsNeverCreatedAgain() async throws {
        let data = DataFolder()
        let path = data.path + "/initial-token"
        let first = try ServerProcess(data: data.path)
        #expect(first.stop() == 0)
        // As deploy/README.md says after an incident: revoke it, and the file goes too.
        let revoked = try PortcullisBinary.run(["token", "revoke", "--data", data.path, "initial"])
        #expect(revoked.status == 0, "\(revoked.stderr)")
        try? FileManager.default.removeItem(atPath: path)

        let second = try ServerProcess(data: data.path)
        #expect(!second.standardOutput.contains("Created the first SCIM token"), "\(second.standardOutput)")
        #expect(!FileManager.default.fileExists(atPath: path))
        #expect(second.stop() == 0)
        #expect(second.standardError.contains("no API tokens"), "the log says how to make one: \(second.standardError)")
        let list = try PortcullisBinary.run(["token", "list", "--data", data.path])
        #expect(list.stdout.isEmpty, "\(list.stdout)")
        #expect(list.stderr.contains("no tokens"))
    }

    @Test func acknowledgedWritesSurviveKillNine() async throws {
        let data = DataFolder()
        let server = try ServerProcess(data: data.path)
        let token = try #require(server.firstToken)
        var ids: [String] = []
        for index in 0..<20 {
            let created = try await server.request("POST", "/scim/v2/Users", token: token, body: #"{"userName": "crash\#(index)@example.com"}"#)
            #expect(created.status == 201)
            ids.append(try #require(created.body["id"] as? String))
        }
        let group = try await server.request(
            "POST", "/scim/v2/Groups", token: token, body: #"{"displayName": "Survivors", "members": [{"value": "\#(ids[0])"}]}"#)
        #expect(group.status == 201)
        server.kill9()

        let restarted = try ServerProcess(data: data.path)
        for id in ids {
            let read = try await restarted.request("GET", "/scim/v2/Users/\(id)", token: token)
            #expect(read.status == 200)
        }
        let list = try await restarted.request("GET", "/scim/v2/Groups?filter=displayName%20eq%20%22Survivors%22", token: token)
        #expect(list.body["totalResults"] as? Int == 1)
        restarted.stop()
    }

    @Test func tokenCommandsCreateListAndRevoke() async throws {
        let data = DataFolder()
        let created = try PortcullisBinary.run(["token", "create", "--data", data.path, "--name", "okta", "--scope", "scim"])
        #expect(created.status == 0)
        let lines = created.stdout.split(separator: "\n")
        #expect(lines.count == 1)
        let token = String(lines[0])
        #expect(token.range(of: #"^pcl_[A-Za-z0-9_-]{43}$"#, options: .regularExpression) != nil)

        let admin = try PortcullisBinary.run(["token", "create", "--data", data.path, "--name", "ops", "--scope", "admin"])
        #expect(admin.status == 0)
        let duplicate = try PortcullisBinary.run(["token", "create", "--data", data.path, "--name", "okta"])
        #expect(duplicate.status == 1)
        #expect(duplicate.stderr.contains("already exists"))
        let badScope = try PortcullisBinary.run(["token", "create", "--data", data.path, "--name", "x", "--scope", "root"])
        #expect(badScope.status == 64 || badScope.status == 2)

        let list = try PortcullisBinary.run(["token", "list", "--data", data.path])
        #expect(list.stdout.contains("okta"))
        #expect(list.stdout.contains("ops"))
        #expect(list.stdout.contains("admin"))
        #expect(!list.stdout.contains(token))

        // A server started on a database that has tokens creates none, and honours a revoke at once.
        let server = try ServerProcess(data: data.path)
        #expect(server.firstToken == nil)
        #expect(!server.standardOutput.contains("Created the first SCIM token"))
        #expect(try await server.request("GET", "/scim/v2/Groups", token: token).status == 200)
        let revoked = try PortcullisBinary.run(["token", "revoke", "--data", data.path, "okta"])
        #expect(revoked.status == 0)
        #expect(try await server.request("GET", "/scim/v2/Groups", token: token).status == 401)
        let again = try PortcullisBinary.run(["token", "revoke", "--data", data.path, "okta"])
        #expect(again.status == 1)
        server.stop()
    }

    @Test func databaseFromANewerVersionStopsServeWithAClearMessage() throws {
        let data = DataFolder()
        _ = try PortcullisBinary.run(["token", "list", "--data", data.path])
        let sqlite = Process()
        sqlite.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
        sqlite.arguments = [data.path + "/portcullis.db", "PRAGMA user_version = 999;"]
        try sqlite.run()
        sqlite.waitUntilExit()
        #expect(sqlite.terminationStatus == 0)

        let result = try PortcullisBinary.run(["serve", "--data", data.path, "--listen", "127.0.0.1:0", "--dry-run"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("schema version 999"))
        #expect(!result.stderr.contains("Fatal error"))
    }

    @Test(arguments: ["nonsense", "127.0.0.1:99999", ":8080"])
    func invalidListenAddressIsAUsageError(_ listen: String) throws {
        let data = DataFolder()
        let result = try PortcullisBinary.run(["serve", "--data", data.path, "--listen", listen, "--dry-run"])
        #expect(result.status == 64 || result.status == 2)
        #expect(result.stderr.contains("--listen"))
    }
}
