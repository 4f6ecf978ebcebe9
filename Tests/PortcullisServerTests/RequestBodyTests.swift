import Foundation
import Hummingbird
import SCIM
import Testing

/// Request bodies the server must survive and explain: malformed, empty, too large, too deep.
@Suite("Request bodies")
struct RequestBodyTests {
    /// The largest body the server accepts (advertised as `bulk.maxPayloadSize`).
    static let maximumPayloadSize = 1_048_576

    /// A user body of exactly `size` bytes, padded with a long displayName.
    static func userBody(size: Int) -> String {
        let prefix = #"{"userName":"big@example.com","displayName":""#
        let suffix = #""}"#
        return prefix + String(repeating: "x", count: size - prefix.utf8.count - suffix.utf8.count) + suffix
    }

    /// Each malformed body with the line and column (in characters, 1-based) where it goes wrong.
    @Test(
        "malformed JSON is a 400 invalidSyntax whose detail gives the line and column",
        arguments: [
            ("{\n  \"userName\": \"x\",\n  \"active\": tru\n}", 3, 13),
            (#"{"userName": "x" "active": true}"#, 1, 18),
            (#"{"userName": "x",}"#, 1, 18),
            (#"{"userName": "x"#, 1, 16),
            (#"{"userName": "é", x}"#, 1, 19),
            ("{\"userName\": \"x\"}\n{}", 2, 1),
        ])
    func malformedJSON(_ body: String, _ line: Int, _ column: Int) async throws {
        try await TestServer.run { scim in
            let response = try await scim.send(.post, "/Users", body: body)
            expectSCIMError(response, status: 400, scimType: "invalidSyntax")
            #expect(response.detail.contains("line \(line), column \(column)"), "detail: \(response.detail)")
            #expect(try await scim.get("/Users").totalResults == 0)
        }
    }

    @Test(
        "PUT, PATCH and .search report malformed JSON the same way",
        arguments: [
            (HTTPRequest.Method.put, "/Users/{id}"), (.patch, "/Users/{id}"), (.post, "/Users/.search"), (.post, "/.search"),
            (.post, "/Groups"),
        ])
    func malformedJSONEverywhere(_ method: HTTPRequest.Method, _ template: String) async throws {
        try await TestServer.run { scim in
            let user = try await scim.createUser("alice@example.com")
            let target = template.replacingOccurrences(of: "{id}", with: user.field("id")?.stringValue ?? "")
            let response = try await scim.send(method, target, body: "{\"schemas\": [}")
            expectSCIMError(response, status: 400, scimType: "invalidSyntax")
            #expect(response.detail.contains("line 1, column 14"), "detail: \(response.detail)")
            #expect(try await scim.get(path("/Users", user)).json == user)
        }
    }

    @Test(
        "an empty body is a 400 invalidSyntax",
        arguments: [
            (HTTPRequest.Method.post, "/Users"), (.put, "/Users/{id}"), (.patch, "/Users/{id}"), (.post, "/Users/.search"),
            (.post, "/Groups"),
        ],
        ["", "   \n"])
    func emptyBody(_ request: (HTTPRequest.Method, String), _ body: String) async throws {
        try await TestServer.run { scim in
            let user = try await scim.createUser("alice@example.com")
            let target = request.1.replacingOccurrences(of: "{id}", with: user.field("id")?.stringValue ?? "")
            let response = try await scim.send(request.0, target, body: body)
            expectSCIMError(response, status: 400, scimType: "invalidSyntax")
        }
    }

    @Test("a POST without any body is a 400 too")
    func missingBody() async throws {
        try await TestServer.run { scim in
            expectSCIMError(try await scim.send(.post, "/Users"), status: 400, scimType: "invalidSyntax")
        }
    }

    @Test(
        "a body that is JSON but not an object is a 400 invalidSyntax",
        arguments: ["null", "[]", #""alice""#, "42", #"[{"userName":"alice"}]"#])
    func nonObjectBody(_ body: String) async throws {
        try await TestServer.run { scim in
            expectSCIMError(try await scim.send(.post, "/Users", body: body), status: 400, scimType: "invalidSyntax")
            expectSCIMError(try await scim.send(.post, "/Users/.search", body: body), status: 400, scimType: "invalidSyntax")
        }
    }

    @Test("a body of exactly the maximum payload size is accepted")
    func bodyAtTheLimit() async throws {
        try await TestServer.run { scim in
            let body = Self.userBody(size: Self.maximumPayloadSize)
            #expect(body.utf8.count == Self.maximumPayloadSize)
            let response = try await scim.send(.post, "/Users", body: body)
            #expect(response.status == .created)
            #expect(response.json.field("displayName")?.stringValue?.count == Self.maximumPayloadSize - 47)
        }
    }

    @Test("a body larger than 1 MiB is a 413 with a SCIM error, and nothing is stored", arguments: [1, 512 * 1024])
    func bodyTooLarge(_ excess: Int) async throws {
        try await TestServer.run { scim in
            let body = Self.userBody(size: Self.maximumPayloadSize + excess)
            let response = try await scim.send(.post, "/Users", body: body)
            expectSCIMError(response, status: 413)
            #expect(try await scim.get("/Users").totalResults == 0)
        }
    }

    @Test("a Content-Length above 1 MiB is a 413 before any of the body is read")
    func declaredLengthTooLarge() async throws {
        try await TestServer.run { scim in
            // No body follows (the test client would set Content-Length to the body it sends): only the
            // declared length can refuse it; read, the body would be empty, a 400.
            let response = try await scim.send(
                .post, "/Users", headers: [.contentLength: String(Self.maximumPayloadSize + 1), .contentType: "application/scim+json"])
            expectSCIMError(response, status: 413)
            #expect(try await scim.get("/Users").totalResults == 0)
        }
    }

    @Test("PATCH, PUT and .search bodies are limited too")
    func bodyTooLargeElsewhere() async throws {
        try await TestServer.run { scim in
            let user = try await scim.createUser("alice@example.com")
            let padding = String(repeating: "y", count: Self.maximumPayloadSize)
            let patch = patchBody([operation("replace", path: "displayName", value: .string(padding))])
            expectSCIMError(try await scim.send(.patch, path("/Users", user), body: patch.jsonText), status: 413)
            expectSCIMError(
                try await scim.put(path("/Users", user), ["userName": "alice@example.com", "title": .string(padding)]), status: 413)
            expectSCIMError(try await scim.search("/Users", ["filter": .string("userName eq \"\(padding)\"")]), status: 413)
            #expect(try await scim.get(path("/Users", user)).json == user)
        }
    }

    @Test(
        "JSON nested deeper than the parser allows is a 400, not a crash",
        arguments: [100, 1000, 100_000])
    func deeplyNestedJSON(_ depth: Int) async throws {
        try await TestServer.run { scim in
            let arrays =
                #"{"userName":"deep","displayName":"# + String(repeating: "[", count: depth) + String(repeating: "]", count: depth) + "}"
            expectSCIMError(try await scim.send(.post, "/Users", body: arrays), status: 400, scimType: "invalidSyntax")
            let objects = String(repeating: #"{"a":"#, count: depth) + "1" + String(repeating: "}", count: depth)
            expectSCIMError(try await scim.send(.post, "/Users", body: objects), status: 400, scimType: "invalidSyntax")
            let unclosed = String(repeating: "[", count: depth)
            expectSCIMError(try await scim.send(.post, "/Users/.search", body: unclosed), status: 400, scimType: "invalidSyntax")
            // The server is still there.
            #expect(try await scim.get("/Users").status == .ok)
        }
    }
}
