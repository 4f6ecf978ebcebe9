import Foundation
import Hummingbird
import SCIM
import Testing

/// What is not there: unknown endpoints and ids are SCIM 404s (RFC 7644 §3.12), methods an endpoint
/// does not have are SCIM 405s, and `/Me` is 501 (RFC 7644 §3.11).
@Suite("Routing")
struct RoutingTests {
    @Test(
        "an unknown path below /scim/v2 is a SCIM 404, whatever the method",
        arguments: [
            (HTTPRequest.Method.get, "/Devices"),
            (.get, ""),
            (.get, "/"),
            (.post, ""),
            (.get, "/Users/some-id/extra"),
            (.get, "/Bulk/extra"),
            (.post, "/Devices"),
            (.put, "/Devices/1"),
            (.patch, "/Devices/1"),
            (.delete, "/Devices/1"),
        ])
    func unknownPathIsSCIMNotFound(_ method: HTTPRequest.Method, _ path: String) async throws {
        try await TestServer.run { scim in
            let response = try await scim.send(method, path, body: method == .post || method == .put || method == .patch ? "{}" : nil)
            expectSCIMError(response, status: 404)
        }
    }

    @Test(
        "an unknown id is a SCIM 404 for every method on users and groups",
        arguments: ["/Users", "/Groups"], [HTTPRequest.Method.get, .put, .patch, .delete])
    func unknownIDIsSCIMNotFound(_ endpoint: String, _ method: HTTPRequest.Method) async throws {
        try await TestServer.run { scim in
            let body: String?
            switch method {
            case .put:
                body = (endpoint == "/Users" ? ["userName": "ghost"] : ["displayName": "ghost"] as JSON).jsonText
            case .patch:
                body = patchBody([operation("replace", path: endpoint == "/Users" ? "userName" : "displayName", value: "ghost")]).jsonText
            default:
                body = nil
            }
            let response = try await scim.send(method, endpoint + "/" + UUID().uuidString.lowercased(), body: body)
            expectSCIMError(response, status: 404)
            // Nothing was created under the unknown id.
            let list = try await scim.get(endpoint)
            #expect(list.totalResults == 0)
        }
    }

    @Test("a user's id is not found under /Groups, nor a group's under /Users")
    func idsBelongToTheirEndpoint() async throws {
        try await TestServer.run { scim in
            let user = try await scim.createUser("alice@example.com")
            let group = try await scim.createGroup("Engineering")
            expectSCIMError(try await scim.get(path("/Groups", user)), status: 404)
            expectSCIMError(try await scim.get(path("/Users", group)), status: 404)
        }
    }

    @Test(
        "a method a resource endpoint does not have is a SCIM 405",
        arguments: [
            (HTTPRequest.Method.put, "/Users"), (.patch, "/Users"), (.delete, "/Users"), (.post, "/Users/{id}"),
            (.put, "/Groups"), (.delete, "/Groups"), (.post, "/Groups/{id}"),
        ])
    func methodNotAllowedOnResourceEndpoints(_ method: HTTPRequest.Method, _ template: String) async throws {
        try await TestServer.run { scim in
            let user = try await scim.createUser("alice@example.com")
            let target = template.replacingOccurrences(of: "{id}", with: user.field("id")?.stringValue ?? "")
            let response = try await scim.send(method, target, body: method == .delete ? nil : "{}")
            expectSCIMError(response, status: 405)
            #expect(response.headers[.allow]?.contains("GET") == true, "Allow: \(response.headers[.allow] ?? "none")")
            // The user is untouched.
            #expect(try await scim.get(path("/Users", user)).version == user.field("meta")?.field("version")?.stringValue)
        }
    }

    @Test("/Me is not supported: 501 with a SCIM error (RFC 7644 §3.11)")
    func meIsNotImplemented() async throws {
        try await TestServer.run { scim in
            expectSCIMError(try await scim.get("/Me"), status: 501)
        }
    }
}
