import Foundation
import Hummingbird
import SCIM
import Store
import Testing

/// Bearer tokens on `/scim/v2` (RFC 7644 §2, RFC 6750), and the unauthenticated health endpoints.
@Suite("Authentication")
struct AuthenticationTests {
    @Test("a request without Authorization gets 401 with a SCIM error and a Bearer challenge")
    func missingTokenIsUnauthorized() async throws {
        try await TestServer.run { scim in
            let response = try await scim.send(.get, "/Users", credentials: .none)
            expectSCIMError(response, status: 401)
            #expect(response.headers[.wwwAuthenticate]?.hasPrefix("Bearer") == true)
            // RFC 6750 §3.1: no error code when the request carried no credentials.
            #expect(response.headers[.wwwAuthenticate]?.contains("error=") == false)
        }
    }

    @Test("a well-formed but unknown bearer token gets 401 with a Bearer challenge")
    func wrongTokenIsUnauthorized() async throws {
        try await TestServer.run { scim in
            let response = try await scim.send(.get, "/Users", credentials: .header("Bearer pcl_not-a-token-this-server-issued"))
            expectSCIMError(response, status: 401)
            #expect(response.headers[.wwwAuthenticate]?.hasPrefix("Bearer") == true)
            #expect(response.headers[.wwwAuthenticate]?.contains(#"error="invalid_token""#) == true)
        }
    }

    /// `{token}` stands for the test's valid SCIM token: none of these headers presents it properly.
    @Test(
        "a malformed Authorization header gets 401 even when it contains the valid token",
        arguments: [
            "Basic dXNlcjpwYXNzd29yZA==",
            "Basic {token}",
            "{token}",
            "Bearer",
            "Bearer ",
            "Bearer{token}",
            "Bearer {token} trailing",
            "Token {token}",
        ])
    func malformedAuthorizationIsUnauthorized(_ template: String) async throws {
        try await TestServer.run { scim in
            let header = template.replacingOccurrences(of: "{token}", with: scim.token)
            let response = try await scim.send(.get, "/Users", credentials: .header(header))
            expectSCIMError(response, status: 401)
            #expect(response.headers[.wwwAuthenticate]?.hasPrefix("Bearer") == true)
        }
    }

    @Test("the Bearer scheme name is case-insensitive (RFC 6750 §2.1, RFC 9110 §11.1)", arguments: ["bearer", "BEARER", "Bearer"])
    func bearerSchemeIgnoresCase(_ scheme: String) async throws {
        try await TestServer.run { scim in
            let response = try await scim.send(.get, "/Users", credentials: .header("\(scheme) \(scim.token)"))
            #expect(response.status == .ok, "body: \(response.text)")
        }
    }

    @Test(
        "the 401 challenge is sent on every endpoint below /scim/v2, including unknown ones",
        arguments: [
            "/ServiceProviderConfig", "/Schemas", "/ResourceTypes", "/Users", "/Groups", "/Users/some-id", "/NoSuchEndpoint",
        ])
    func everySCIMEndpointNeedsAToken(_ path: String) async throws {
        try await TestServer.run { scim in
            let response = try await scim.send(.get, path, credentials: .none)
            expectSCIMError(response, status: 401)
        }
    }

    @Test("an admin-scope token is authenticated but forbidden on /scim/v2: 403")
    func adminTokenIsForbidden() async throws {
        try await TestServer.run { scim in
            let adminToken = try scim.store.createToken(name: "operator", scope: .admin)
            let response = try await scim.send(.get, "/Users", credentials: .header("Bearer \(adminToken)"))
            expectSCIMError(response, status: 403)
            // RFC 6750 §3.1: a valid token without the needed scope.
            #expect(response.headers[.wwwAuthenticate]?.contains(#"error="insufficient_scope""#) == true)
        }
    }

    @Test("an admin-scope token cannot write either")
    func adminTokenCannotCreateUsers() async throws {
        try await TestServer.run { scim in
            let adminToken = try scim.store.createToken(name: "operator", scope: .admin)
            let body: JSON = ["schemas": [.string(URN.user)], "userName": "mallory"]
            let response = try await scim.send(.post, "/Users", body: body.jsonText, credentials: .header("Bearer \(adminToken)"))
            expectSCIMError(response, status: 403)
            let list = try await scim.get("/Users")
            #expect(list.totalResults == 0)
        }
    }

    @Test("a revoked token stops working at once")
    func revokedTokenIsUnauthorized() async throws {
        try await TestServer.run { scim in
            let secret = try scim.store.createToken(name: "okta", scope: .scim)
            let before = try await scim.send(.get, "/Users", credentials: .header("Bearer \(secret)"))
            #expect(before.status == .ok)
            #expect(try scim.store.revokeToken(name: "okta"))
            let after = try await scim.send(.get, "/Users", credentials: .header("Bearer \(secret)"))
            expectSCIMError(after, status: 401)
            // Other tokens are unaffected.
            let other = try await scim.get("/Users")
            #expect(other.status == .ok)
        }
    }

    @Test("/healthz and /readyz answer 200 without a token", arguments: [("/healthz", "ok"), ("/readyz", "ready")])
    func healthEndpointsNeedNoToken(_ path: String, _ text: String) async throws {
        try await TestServer.run { scim in
            let response = try await scim.send(.get, uri: path, credentials: .none)
            #expect(response.status == .ok)
            #expect(response.text.trimmingCharacters(in: .whitespacesAndNewlines) == text)
        }
    }
}
