import Foundation
import Hummingbird
import SCIM
import Testing

/// `application/scim+json` (RFC 7644 §3.1, §8.1): every SCIM response carries it; requests may be
/// sent as `application/scim+json` or `application/json`, with parameters; other media types are refused.
@Suite("Media types")
struct MediaTypeTests {
    /// One request; `{user}` in the path is replaced by the id of a user created beforehand.
    struct Probe: Sendable, CustomTestStringConvertible {
        let method: HTTPRequest.Method
        let path: String
        var body: String? = nil
        var credentials: Credentials = .scimToken
        let expectedStatus: Int

        var testDescription: String { "\(method.rawValue) \(path) → \(expectedStatus)" }
    }

    static let probes: [Probe] = [
        Probe(method: .get, path: "/ServiceProviderConfig", expectedStatus: 200),
        Probe(method: .get, path: "/ResourceTypes", expectedStatus: 200),
        Probe(method: .get, path: "/ResourceTypes/User", expectedStatus: 200),
        Probe(method: .get, path: "/Schemas", expectedStatus: 200),
        Probe(method: .get, path: "/Schemas/\(URN.user)", expectedStatus: 200),
        Probe(method: .get, path: "/Users", expectedStatus: 200),
        Probe(method: .get, path: "/Users/{user}", expectedStatus: 200),
        Probe(method: .post, path: "/Users", body: #"{"userName":"new.user@example.com"}"#, expectedStatus: 201),
        Probe(method: .put, path: "/Users/{user}", body: #"{"userName":"renamed@example.com"}"#, expectedStatus: 200),
        Probe(
            method: .patch, path: "/Users/{user}",
            body: #"{"schemas":["\#(URN.patchOp)"],"Operations":[{"op":"replace","path":"title","value":"CTO"}]}"#, expectedStatus: 200),
        Probe(method: .post, path: "/Users/.search", body: #"{"schemas":["\#(URN.searchRequest)"]}"#, expectedStatus: 200),
        Probe(method: .post, path: "/.search", body: #"{"schemas":["\#(URN.searchRequest)"]}"#, expectedStatus: 200),
        Probe(method: .get, path: "/Groups", expectedStatus: 200),
        // Errors
        Probe(method: .get, path: "/Users", credentials: .none, expectedStatus: 401),
        Probe(method: .get, path: "/Users/00000000-0000-0000-0000-000000000000", expectedStatus: 404),
        Probe(method: .get, path: "/NoSuchThing", expectedStatus: 404),
        Probe(method: .post, path: "/Users", body: "{not json", expectedStatus: 400),
        Probe(method: .post, path: "/Users", body: #"{"userName":"{user-name}"}"#, expectedStatus: 409),
        Probe(method: .get, path: "/Users?filter=userName%20eq", expectedStatus: 400),
        Probe(method: .post, path: "/Schemas", body: "{}", expectedStatus: 405),
        Probe(method: .put, path: "/Users/{user}", body: "{}", expectedStatus: 400),
    ]

    @Test("every SCIM response, success or error, is application/scim+json", arguments: probes)
    func responsesAreSCIMJSON(_ probe: Probe) async throws {
        try await TestServer.run { scim in
            let user = try await scim.createUser("existing@example.com")
            let id = try #require(user.field("id")?.stringValue)
            let path = probe.path.replacingOccurrences(of: "{user}", with: id)
            let body = probe.body?.replacingOccurrences(of: "{user-name}", with: "EXISTING@example.com")
            let response = try await scim.send(probe.method, path, body: body, credentials: probe.credentials)
            #expect(response.code == probe.expectedStatus, "body: \(response.text)")
            #expect(response.mediaType == "application/scim+json", "Content-Type: \(response.contentType ?? "none")")
            #expect(response.json != .null, "the body is JSON: \(response.text)")
        }
    }

    @Test(
        "POST /Users accepts the SCIM and the plain JSON media type, with parameters and in any case",
        arguments: [
            "application/scim+json",
            "application/json",
            "application/scim+json; charset=utf-8",
            "application/json;charset=UTF-8",
            "Application/SCIM+JSON",
        ])
    func jsonMediaTypesAreAccepted(_ contentType: String) async throws {
        try await TestServer.run { scim in
            let body: JSON = ["schemas": [.string(URN.user)], "userName": "media@example.com"]
            let response = try await scim.send(.post, "/Users", body: body.jsonText, contentType: contentType)
            #expect(response.status == .created, "body: \(response.text)")
            #expect(response.mediaType == "application/scim+json")
        }
    }

    @Test("PATCH and .search accept application/json with a charset too")
    func plainJSONIsAcceptedForPatchAndSearch() async throws {
        try await TestServer.run { scim in
            let user = try await scim.createUser("media@example.com")
            let patch = patchBody([operation("replace", path: "displayName", value: "Media")])
            let patched = try await scim.send(
                .patch, path("/Users", user), body: patch.jsonText, contentType: "application/json; charset=utf-8")
            #expect(patched.status == .ok, "body: \(patched.text)")
            #expect(patched.json.field("displayName") == "Media")
            let search: JSON = ["schemas": [.string(URN.searchRequest)], "filter": "displayName eq \"Media\""]
            let found = try await scim.send(.post, "/Users/.search", body: search.jsonText, contentType: "application/json")
            #expect(expectListResponse(found, totalResults: 1) == [user.field("id")?.stringValue])
        }
    }

    @Test(
        "a body of another media type gets 415 with a SCIM error and changes nothing",
        arguments: ["text/plain", "application/xml", "application/x-www-form-urlencoded", "text/json"])
    func otherMediaTypesAreUnsupported(_ contentType: String) async throws {
        try await TestServer.run { scim in
            let body: JSON = ["schemas": [.string(URN.user)], "userName": "plain@example.com"]
            let response = try await scim.send(.post, "/Users", body: body.jsonText, contentType: contentType)
            expectSCIMError(response, status: 415)
            let list = try await scim.get("/Users")
            #expect(list.totalResults == 0)
        }
    }

    @Test("PUT, PATCH and .search refuse text/plain with 415 too")
    func otherMethodsRefuseTextPlain() async throws {
        try await TestServer.run { scim in
            let user = try await scim.createUser("plain@example.com")
            let put: JSON = ["userName": "changed@example.com"]
            expectSCIMError(try await scim.send(.put, path("/Users", user), body: put.jsonText, contentType: "text/plain"), status: 415)
            let patch = patchBody([operation("replace", path: "userName", value: "changed@example.com")])
            expectSCIMError(try await scim.send(.patch, path("/Users", user), body: patch.jsonText, contentType: "text/plain"), status: 415)
            expectSCIMError(try await scim.send(.post, "/Users/.search", body: "{}", contentType: "text/plain"), status: 415)
            let unchanged = try await scim.get(path("/Users", user))
            #expect(unchanged.json.field("userName") == "plain@example.com")
        }
    }
}
