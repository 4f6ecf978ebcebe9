import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import PortcullisServer
import SCIM
import Store
import Testing

/// `GET /api/v1/policy`: admin tokens only, the version in force, and why the last load failed.
@Suite("Admin API: policy")
struct AdminPolicyTests {
    private func withServer(_ files: [String: String], _ body: @Sendable (TestClientProtocol, Store, PolicyServiceTests.Folder, PolicyService) async throws -> Void)
        async throws
    {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("portcullis-admin-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try Store(directory: directory)
        let folder = try PolicyServiceTests.Folder(files)
        let policies = PolicyService(directory: folder.path, logger: PolicyServiceTests.logger)
        let app = Application(router: buildRouter(store: store, policies: policies), logger: PolicyServiceTests.logger)
        try await app.test(.router) { client in try await body(client, store, folder, policies) }
    }

    @Test func needsAnAdminToken() async throws {
        try await withServer(["a.yaml": PolicyServiceTests.base]) { client, store, _, _ in
            let scim = try store.createToken(name: "idp", scope: .scim)
            let none = try await client.execute(uri: "/api/v1/policy", method: .get)
            #expect(none.status == .unauthorized)
            #expect(none.headers[.contentType] == "application/json")
            let wrongScope = try await client.execute(uri: "/api/v1/policy", method: .get, headers: [.authorization: "Bearer \(scim)"])
            #expect(wrongScope.status == .forbidden)
            let body = try JSONParser.parse(Array(wrongScope.body.readableBytesView))
            #expect(body.objectValue?["error"]?.objectValue?["status"] == 403)
        }
    }

    @Test func reportsTheVersionInForceAndTheRefusedAttempt() async throws {
        try await withServer(["a.yaml": PolicyServiceTests.base]) { client, store, folder, policies in
            let admin = try store.createToken(name: "ops", scope: .admin)
            let ok = try await client.execute(uri: "/api/v1/policy", method: .get, headers: [.authorization: "Bearer \(admin)"])
            #expect(ok.status == .ok)
            let okBody = try #require(try JSONParser.parse(Array(ok.body.readableBytesView)).objectValue)
            #expect(okBody["status"] == "ok")
            #expect(okBody["inForce"]?.objectValue?["version"] == 1)
            #expect(okBody["inForce"]?.objectValue?["rules"] == 1)

            try folder.write("b.yaml", "rules:\n  - name: broken\n    grups: [X]\n")
            policies.reloadNow()
            let refused = try await client.execute(uri: "/api/v1/policy", method: .get, headers: [.authorization: "Bearer \(admin)"])
            let body = try #require(try JSONParser.parse(Array(refused.body.readableBytesView)).objectValue)
            #expect(body["status"] == "error")
            #expect(body["inForce"]?.objectValue?["version"] == 1)
            let errors = try #require(body["lastAttempt"]?.objectValue?["errors"]?.arrayValue)
            let first = try #require(errors.compactMap(\.objectValue).first { $0["message"]?.stringValue?.contains("grups") == true })
            #expect(first["line"] == 3)
            #expect(first["column"] == 5)
            #expect(first["hint"] == "did you mean 'groups'?")
        }
    }

    @Test func unknownAdminPathsAreJSON404s() async throws {
        try await withServer(["a.yaml": PolicyServiceTests.base]) { client, store, _, _ in
            let admin = try store.createToken(name: "ops", scope: .admin)
            let response = try await client.execute(uri: "/api/v1/nothing", method: .get, headers: [.authorization: "Bearer \(admin)"])
            #expect(response.status == .notFound)
            #expect(response.headers[.contentType] == "application/json")
        }
    }
}
