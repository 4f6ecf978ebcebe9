import Foundation
import Hummingbird
import HummingbirdTesting
import PortcullisServer
import SCIM
import Store
import Testing

/// `GET /api/v1/audit[/access|/report]`: admin tokens only, paged, filtered, and clear about bad queries.
@Suite("Admin API: audit")
struct AdminAuditTests {
    private func withServer(_ body: @Sendable (TestClientProtocol, Store, String) async throws -> Void) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("portcullis-audit-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try Store(directory: directory)
        let admin = try store.createToken(name: "ops", scope: .admin)
        let app = Application(router: buildRouter(store: store), logger: PolicyServiceTests.logger)
        try await app.test(.router) { client in try await body(client, store, admin) }
    }

    private func get(_ client: TestClientProtocol, _ uri: String, token: String) async throws -> (status: HTTPResponse.Status, json: JSON, text: String, type: String?) {
        let response = try await client.execute(uri: uri, method: .get, headers: [.authorization: "Bearer \(token)"])
        let text = String(buffer: response.body)
        return (response.status, (try? JSONParser.parse(text)) ?? .null, text, response.headers[.contentType])
    }

    @Test func listsRecordsInPagesWithFilters() async throws {
        try await withServer { client, store, admin in
            for name in ["ada", "bob", "carol"] {
                _ = try await AuditContext.$actor.withValue("token:okta") {
                    try await store.create(.user, attributes: ResourceNormalizer(.user).normalize(["userName": .string(name)]))
                }
            }
            // Record 1 is the admin token's creation, then the three users.
            let first = try await get(client, "/api/v1/audit?limit=2", token: admin)
            #expect(first.status == .ok)
            let records = first.json.objectValue?["records"]?.arrayValue ?? []
            #expect(records.compactMap { $0.objectValue?["action"]?.stringValue } == ["token.create", "User.create"])
            #expect(first.json.objectValue?["next"] == 2)
            let second = try await get(client, "/api/v1/audit?limit=2&after=2", token: admin)
            #expect((second.json.objectValue?["records"]?.arrayValue ?? []).compactMap { $0.objectValue?["seq"] } == [3, 4])
            let last = try await get(client, "/api/v1/audit?limit=2&after=4", token: admin)
            #expect(last.json.objectValue?["records"]?.arrayValue?.isEmpty == true)
            #expect(last.json.objectValue?["next"] == .null)

            let bob = try await get(client, "/api/v1/audit?user=bob", token: admin)
            let bobs = bob.json.objectValue?["records"]?.arrayValue ?? []
            #expect(bobs.count == 1)
            #expect(bobs.first?.objectValue?["actor"] == "token:okta")
            #expect(bobs.first?.objectValue?["details"]?.objectValue?["changes"]?.objectValue?["userName"]?.objectValue?["after"] == "bob")
            let tokens = try await get(client, "/api/v1/audit?action=token.", token: admin)
            #expect(tokens.json.objectValue?["records"]?.arrayValue?.count == 1)
        }
    }

    @Test func needsAnAdminToken() async throws {
        try await withServer { client, store, _ in
            let scim = try store.createToken(name: "idp", scope: .scim)
            for path in ["/api/v1/audit", "/api/v1/audit/access?to=10.0.0.1", "/api/v1/audit/report?from=2026-01-01T00:00:00Z"] {
                #expect(try await get(client, path, token: scim).status == .forbidden, "\(path)")
                #expect(try await client.execute(uri: path, method: .get).status == .unauthorized, "\(path)")
            }
        }
    }

    @Test(arguments: [
        ("/api/v1/audit?since=yesterday", "'since' must be an RFC 3339 time"),
        ("/api/v1/audit?limit=-1", "'limit' must be a whole number"),
        ("/api/v1/audit/access", "Give either 'to'"),
        ("/api/v1/audit/access?to=10.0.0.1&user=ada", "Give either 'to'"),
        ("/api/v1/audit/access?to=db.example.com", "is not an IP address"),
        ("/api/v1/audit/access?to=10.0.0.1:http", "is not PORT/PROTO"),
        ("/api/v1/audit/access?user=ada", "'user' needs 'from'"),
        ("/api/v1/audit/report", "'from' is required"),
        ("/api/v1/audit/report?from=2026-01-01T00:00:00Z&format=pdf", "'format' must be json, csv or md"),
    ])
    func badQueriesAreExplained(_ uri: String, _ message: String) async throws {
        try await withServer { client, _, admin in
            let response = try await get(client, uri, token: admin)
            #expect(response.status == .badRequest)
            let text = response.json.objectValue?["error"]?.objectValue?["message"]?.stringValue ?? ""
            #expect(text.contains(message), "\(text)")
        }
    }

    /// A window's end is exclusive, so a report without `until` must end after the present
    /// millisecond: a user deleted in the same millisecond as the request is still a leaver.
    @Test func aReportWithoutUntilHoldsWhatHappenedThisMillisecond() async throws {
        try await withServer { client, store, admin in
            var missed: [Int] = []
            for round in 0..<200 {
                let user = try await store.create(.user, attributes: ResourceNormalizer(.user).normalize(["userName": .string("u\(round)")]))
                try await store.delete(.user, id: user.id)
                let report = try await get(client, "/api/v1/audit/report?from=2020-01-01T00:00:00Z", token: admin)
                let leavers = report.json.objectValue?["leavers"]?.arrayValue ?? []
                if leavers.count != round + 1 { missed.append(round) }
            }
            #expect(missed.isEmpty, "rounds whose deletion the report missed: \(missed)")
        }
    }

    @Test func reportsInEachFormat() async throws {
        try await withServer { client, store, admin in
            let user = try await store.create(.user, attributes: ResourceNormalizer(.user).normalize(["userName": "ada"]))
            try await store.delete(.user, id: user.id)
            let from = "2020-01-01T00:00:00Z"
            let json = try await get(client, "/api/v1/audit/report?from=\(from)", token: admin)
            #expect(json.type == "application/json")
            #expect(json.json.objectValue?["joiners"]?.arrayValue?.first?.objectValue?["userName"] == "ada")
            let leaver = json.json.objectValue?["leavers"]?.arrayValue?.first?.objectValue
            #expect(leaver?["userName"] == "ada")
            #expect(leaver?["hadAccess"] == false, "no device, so nothing to revoke on the gateway")
            let markdown = try await get(client, "/api/v1/audit/report?from=\(from)&format=md", token: admin)
            #expect(markdown.type == "text/markdown; charset=utf-8")
            #expect(markdown.text.hasPrefix("# Access report"))
            let csv = try await get(client, "/api/v1/audit/report?from=\(from)&format=csv", token: admin)
            #expect(csv.type == "text/csv; charset=utf-8")
            #expect(csv.text.contains("joiner,") && csv.text.contains("leaver,"))
        }
    }
}
