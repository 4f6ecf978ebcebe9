import Foundation
import Hummingbird
import HTTPTypes
import HummingbirdTesting
import PortcullisServer
import Reconciler
import SCIM
import Store
import Testing
import WireGuard

/// Enrollment links: made through `POST /api/v1/users/{id}/enrollments`, used once on the page at
/// `/enroll/{token}`, refused when used, expired or unknown, and kept only as a hash.
@Suite("Enrollment links")
struct EnrollmentTests {
    @Test func aLinkWorksOnceAndSaysSoAfterwards() async throws {
        try await GatewayTestServer.run { server in
            let user = try await server.createUser("ada", ["displayName": "Ada Lovelace"])
            let before = Reconciler.now()
            let created = try await server.api(.post, "/users/\(user)/enrollments")
            #expect(created.status == .created, "\(created.text)")
            #expect(created.json.keys == ["url", "expiresAt"])
            let url = try #require(created.json.field("url")?.stringValue)
            #expect(url.hasPrefix("http://localhost/enroll/"))
            let expires = try #require(created.json.field("expiresAt")?.stringValue.flatMap(SCIMDateTime.parse))
            #expect(abs(expires - (before + 72 * 3_600_000)) < 5000, "links last 72 hours by default")
            let page = pagePath(url)

            let form = try await server.anonymous(.get, page)
            #expect(form.status == .ok)
            #expect(form.mediaType == "text/html")
            #expect(form.headers[.cacheControl] == "no-store")
            #expect(form.text.contains("VPN access for <strong>Ada Lovelace</strong>"))
            #expect(form.text.contains("<form method=\"post\">"))

            let enrolled = try await server.anonymous(.post, page, form: [("name", "laptop")])
            #expect(enrolled.status == .created, "\(enrolled.text)")
            #expect(enrolled.text.contains("Your device <strong>laptop</strong> is set up"))
            let devices = try await server.store.devices(ofUser: user)
            let device = try #require(devices.first)
            #expect(devices.count == 1)
            #expect(device.name == "laptop")
            #expect(enrolled.text.contains("PrivateKey = "), "a generated key pair's private key is shown this once")
            #expect(enrolled.text.contains("download=\"laptop.conf\""))
            #expect(try server.wireGuardFile().contains("PublicKey = \(device.publicKey)"))
            let secret = String(page.dropFirst("/enroll/".count))
            let enrollment = try #require(try await server.store.enrollment(secret: secret))
            #expect(enrollment.used != nil)
            #expect(enrollment.deviceID == device.id)

            let again = try await server.anonymous(.post, page, form: [("name", "desktop")])
            #expect(again.status == .gone)
            #expect(again.text.contains("Link already used"))
            #expect(!again.text.contains("PrivateKey"))
            let shownAgain = try await server.anonymous(.get, page)
            #expect(shownAgain.status == .gone)
            #expect(shownAgain.text.contains("Link already used"))
            #expect(try await server.store.devices(ofUser: user).count == 1)
        }
    }

    @Test func twoSimultaneousUsesGiveOneDevice() async throws {
        try await GatewayTestServer.run { server in
            let user = try await server.createUser("ada")
            let page = pagePath(try await server.link(for: user))
            let statuses = try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                for name in ["one", "two", "three"] {
                    group.addTask { try await server.anonymous(.post, page, form: [("name", name)]).status }
                }
                return try await group.reduce(into: [HTTPResponse.Status]()) { $0.append($1) }
            }
            #expect(statuses.filter { $0 == .created }.count == 1, "\(statuses)")
            #expect(statuses.filter { $0 == .gone }.count == 2, "\(statuses)")
            #expect(try await server.store.devices(ofUser: user).count == 1)
        }
    }

    @Test func anExpiredLinkGivesNothing() async throws {
        try await GatewayTestServer.run { server in
            let user = try await server.createUser("ada")
            let (secret, enrollment) = try await server.store.createEnrollment(userID: user, ttl: 1)
            while Reconciler.now() <= enrollment.expires { try await Task.sleep(for: .milliseconds(5)) }

            let shown = try await server.anonymous(.get, "/enroll/\(secret)")
            #expect(shown.status == .gone)
            #expect(shown.text.contains("Link expired"))
            let used = try await server.anonymous(.post, "/enroll/\(secret)", form: [("name", "laptop")])
            #expect(used.status == .gone)
            #expect(used.text.contains("Link expired"))
            #expect(try await server.store.devices(ofUser: user).isEmpty)
            #expect(try await server.store.enrollment(secret: secret)?.used == nil)
        }
    }

    @Test func theStoreRefusesALinkFromItsExpiryOn() async throws {
        try await GatewayTestServer.run { server in
            let user = try await server.createUser("ada")
            let (secret, enrollment) = try await server.store.createEnrollment(userID: user, ttl: 60_000)
            await #expect(throws: EnrollmentError.expired) {
                try await server.store.consumeEnrollment(secret: secret, now: enrollment.expires) { _ in
                    Issue.record("an expired link must not create a device")
                    throw EnrollmentError.expired
                }
            }
            let (used, device) = try await server.store.consumeEnrollment(secret: secret, now: enrollment.expires - 1) { claimed in
                try await server.setup.enrollments.devices!.issue(userID: claimed.userID, name: "laptop").device
            }
            #expect(used.id == enrollment.id)
            #expect(try await server.store.enrollment(secret: secret)?.deviceID == device.id)
            await #expect(throws: EnrollmentError.used) {
                try await server.store.consumeEnrollment(secret: secret, now: enrollment.expires - 1) { _ in device }
            }
        }
    }

    @Test func aLinkForADeactivatedUserGivesNothingWhileTheyAre() async throws {
        try await GatewayTestServer.run { server in
            let user = try await server.createUser("ada", ["displayName": "Ada Lovelace"])
            let page = pagePath(try await server.link(for: user))
            try await server.setActive(user, false)

            let shown = try await server.anonymous(.get, page)
            #expect(shown.status == .forbidden)
            #expect(shown.text.contains("Link cannot be used"))
            #expect(shown.text.contains("the account it is for is not active"))
            #expect(!shown.text.contains("<form"))
            #expect(!shown.text.contains("Ada Lovelace"), "the page tells nothing about the account")
            let used = try await server.anonymous(.post, page, form: [("name", "laptop")])
            #expect(used.status == .forbidden)
            #expect(used.text.contains("Link cannot be used"))
            #expect(!used.text.contains("PrivateKey"))
            #expect(try await server.store.devices(ofUser: user).isEmpty)
            let secret = String(page.dropFirst("/enroll/".count))
            #expect(try await server.store.enrollment(secret: secret)?.used == nil, "a refused link is not used up")

            // Active again before it expires (a suspension lifted): the link works.
            try await server.setActive(user, true)
            let enrolled = try await server.anonymous(.post, page, form: [("name", "laptop")])
            #expect(enrolled.status == .created, "\(enrolled.text)")
            #expect(try await server.store.devices(ofUser: user).count == 1)
        }
    }

    @Test func aLinkForADeletedUserGivesNothing() async throws {
        try await GatewayTestServer.run { server in
            let user = try await server.createUser("ada")
            let page = pagePath(try await server.link(for: user))
            let deleted = try await server.send(.delete, "/scim/v2/Users/\(user)", bearer: .token(server.scimToken))
            #expect(deleted.status == .noContent)

            let shown = try await server.anonymous(.get, page)
            #expect(shown.status == .notFound)
            #expect(!shown.text.contains("<form"))
            let used = try await server.anonymous(.post, page, form: [("name", "laptop")])
            #expect(used.status == .notFound)
            #expect(!used.text.contains("PrivateKey"))
            #expect(try await server.store.devices().isEmpty)
        }
    }

    @Test func linksLongerThanThirtyDaysAreRefusedByDefault() async throws {
        try await GatewayTestServer.run { server in
            let user = try await server.createUser("ada")
            expectAPIError(
                try await server.api(.post, "/users/\(user)/enrollments", ["ttl": "31d"]), status: 400,
                containing: "'ttl' is too long: an enrollment link may work at most 30d (--max-enrollment-ttl), not 31d")
            expectAPIError(
                try await server.api(.post, "/users/\(user)/enrollments", ["ttl": .integer(30 * 86_400 + 1)]), status: 400, containing: "not 2592001s")
            #expect(try await server.store.enrollments(ofUser: user).isEmpty)
            let longest = try await server.api(.post, "/users/\(user)/enrollments", ["ttl": "30d"])
            #expect(longest.status == .created, "\(longest.text)")
        }
    }

    @Test func theMaximumLinkLifetimeIsASetting() async throws {
        try await GatewayTestServer.run(enrollment: EnrollmentSettings(maximumLinkLifetime: 7 * 86_400_000)) { server in
            let user = try await server.createUser("ada")
            expectAPIError(try await server.api(.post, "/users/\(user)/enrollments", ["ttl": "8d"]), status: 400, containing: "at most 7d")
            #expect(try await server.api(.post, "/users/\(user)/enrollments", ["ttl": "7d"]).status == .created)
            await #expect(throws: EnrollmentLifetimeError.self) {
                try await server.enrollments.createLink(userID: user, lifetime: 7 * 86_400_000 + 1, baseURL: nil)
            }
        }
    }

    @Test func aDeviceMadeThroughALinkGetsTheDefaultKeyLifetime() async throws {
        try await GatewayTestServer.run(defaultKeyLifetime: 30 * 86_400_000) { server in
            let user = try await server.createUser("ada")
            let enrolled = try await server.anonymous(.post, pagePath(try await server.link(for: user)), form: [("name", "laptop")])
            #expect(enrolled.status == .created, "\(enrolled.text)")
            let device = try #require(try await server.store.devices(ofUser: user).first)
            let expires = try #require(device.expires)
            #expect(expires - device.created == 30 * 86_400_000)
            #expect(enrolled.text.contains("The key works until \(SCIMDateTime.format(expires))"))
        }
        try await GatewayTestServer.run { server in
            let user = try await server.createUser("ada")
            let enrolled = try await server.anonymous(.post, pagePath(try await server.link(for: user)), form: [("name", "laptop")])
            #expect(try await server.store.devices(ofUser: user).first?.expires == nil)
            #expect(!enrolled.text.contains("The key works until"))
        }
    }

    @Test func unknownLinksAreNotFound() async throws {
        try await GatewayTestServer.run { server in
            let shown = try await server.anonymous(.get, "/enroll/no-such-link")
            #expect(shown.status == .notFound)
            #expect(shown.mediaType == "text/html")
            #expect(shown.text.contains("Link not found"))
            let used = try await server.anonymous(.post, "/enroll/no-such-link", form: [("name", "laptop")])
            #expect(used.status == .notFound)
            #expect(used.text.contains("Link not found"))
        }
    }

    @Test func theUserCanBringTheirOwnKey() async throws {
        try await GatewayTestServer.run { server in
            let user = try await server.createUser("ada")
            let page = pagePath(try await server.link(for: user))
            let own = WireGuardKeyPair.generate()

            let bad = try await server.anonymous(.post, page, form: [("name", "phone"), ("publicKey", "not a key")])
            #expect(bad.status == .badRequest)
            #expect(bad.text.contains("That is not a public key"))
            #expect(try await server.anonymous(.get, page).status == .ok, "a refused form leaves the link usable")

            let enrolled = try await server.anonymous(.post, page, form: [("name", "phone"), ("publicKey", " \(own.publicKey.base64) ")])
            #expect(enrolled.status == .created, "\(enrolled.text)")
            #expect(enrolled.text.contains("# PrivateKey = &lt;the private key that matches the public key you registered&gt;"))
            #expect(!enrolled.text.contains("PrivateKey = \(own.privateKey.base64)"))
            #expect(!enrolled.text.contains("which Portcullis does not keep"))
            let device = try #require(try await server.store.devices(ofUser: user).first)
            #expect(device.publicKey == own.publicKey.base64)
            #expect(try server.wireGuardFile().contains("PublicKey = \(own.publicKey.base64)"))
        }
    }

    @Test func aRefusedNameOrDuplicateLeavesTheLinkUsable() async throws {
        try await GatewayTestServer.run { server in
            let user = try await server.createUser("ada")
            _ = try await server.issue(user, name: "laptop")
            let page = pagePath(try await server.link(for: user))

            let badName = try await server.anonymous(.post, page, form: [("name", "<b>x</b>")])
            #expect(badName.status == .badRequest)
            #expect(badName.text.contains("Device name needed"))
            let duplicate = try await server.anonymous(.post, page, form: [("name", "laptop")])
            #expect(duplicate.status == .conflict)
            #expect(duplicate.text.contains("Name or key already used"))

            #expect(try await server.anonymous(.get, page).status == .ok)
            let enrolled = try await server.anonymous(.post, page, form: [("name", "work phone")])
            #expect(enrolled.status == .created, "\(enrolled.text)")
            #expect(try await server.store.devices(ofUser: user).map(\.name).sorted() == ["laptop", "work phone"])
        }
    }

    @Test func theSecretIsStoredOnlyAsAHash() async throws {
        try await GatewayTestServer.run { server in
            let user = try await server.createUser("ada")
            let page = pagePath(try await server.link(for: user))
            let secret = String(page.dropFirst("/enroll/".count))
            #expect(secret.count >= 32, "the secret must be long enough not to be guessed: \(secret)")
            #expect(try await server.store.enrollment(secret: secret)?.userID == user)
            #expect(try server.dataFilesContain(secret) == false, "the database must not contain the link's secret")
            #expect(try await server.store.enrollment(secret: secret + "x") == nil)
        }
    }

    @Test func theDisplayNameIsEscaped() async throws {
        try await GatewayTestServer.run { server in
            let user = try await server.createUser("mallory", ["displayName": "<script>alert(\"hi\")</script> & 'co'"])
            let page = try await server.anonymous(.get, pagePath(try await server.link(for: user)))
            #expect(page.status == .ok)
            #expect(page.text.contains("<strong>&lt;script&gt;alert(&quot;hi&quot;)&lt;/script&gt; &amp; &#39;co&#39;</strong>"))
            #expect(!page.text.contains("<script>"))
            #expect(page.headers[.contentSecurityPolicy]?.contains("default-src 'none'") == true)
        }
    }

    @Test func linksThroughTheAPI() async throws {
        try await GatewayTestServer.run { server in
            let user = try await server.createUser("ada")
            let before = Reconciler.now()
            let short = try await server.api(.post, "/users/\(user)/enrollments", ["ttl": "30m"])
            #expect(short.status == .created, "\(short.text)")
            let expires = try #require(short.json.field("expiresAt")?.stringValue.flatMap(SCIMDateTime.parse))
            #expect(abs(expires - (before + 30 * 60_000)) < 5000)

            let proxied = try await server.send(.post, "/api/v1/users/\(user)/enrollments", body: "{\"ttl\": 600}", headers: [HTTPField.Name("X-Forwarded-Proto")!: "https"])
            #expect(proxied.json.field("url")?.stringValue?.hasPrefix("https://localhost/enroll/") == true, "\(proxied.text)")

            expectAPIError(try await server.api(.post, "/users/\(user)/enrollments", ["ttl": "forever"]), status: 400, containing: "'ttl' must be a duration")
            expectAPIError(try await server.api(.post, "/users/\(user)/enrollments", ["ttl": -1]), status: 400, containing: "'ttl' must be")
            expectAPIError(try await server.api(.post, "/users/nobody/enrollments"), status: 404, containing: "No user nobody")
            let scim = try await server.send(.post, "/api/v1/users/\(user)/enrollments", bearer: .token(server.scimToken))
            expectAPIError(scim, status: 403, containing: "this endpoint needs 'admin'")
            #expect(try await server.store.enrollments(ofUser: user).count == 2)
        }
    }
}

extension GatewayTestClient {
    /// Deactivates or reactivates a user, as an identity provider does (a SCIM PATCH of `active`).
    func setActive(_ userID: String, _ active: Bool, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let operation = #"{"op": "replace", "path": "active", "value": \#(active)}"#
        let body = #"{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [\#(operation)]}"#
        let response = try await send(.patch, "/scim/v2/Users/\(userID)", body: body, bearer: .token(scimToken))
        try #require(response.status == .ok, "setting active to \(active): \(response.text)", sourceLocation: sourceLocation)
    }

    /// A fresh enrollment link for `userID`, made through the admin API.
    func link(for userID: String, sourceLocation: SourceLocation = #_sourceLocation) async throws -> String {
        let response = try await api(.post, "/users/\(userID)/enrollments")
        try #require(response.status == .created, "making a link: \(response.text)", sourceLocation: sourceLocation)
        return try #require(response.json.field("url")?.stringValue, sourceLocation: sourceLocation)
    }
}

/// The path of a link, e.g. `/enroll/abc` of `http://localhost/enroll/abc`.
func pagePath(_ url: String) -> String {
    guard let range = url.range(of: "/enroll/") else { return url }
    return String(url[range.lowerBound...])
}
