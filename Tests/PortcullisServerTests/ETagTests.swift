import Foundation
import Hummingbird
import SCIM
import Testing

/// Versions and conditional requests (RFC 7644 §3.14, RFC 9110 §13).
@Suite("ETags")
struct ETagTests {
    static func makeUser(_ scim: SCIMTestClient) async throws -> (path: String, etag: String) {
        let user = try await scim.createUser("alice@example.com", ["title": "Engineer"])
        let etag = try #require(user.field("meta")?.field("version")?.stringValue)
        return (path("/Users", user), etag)
    }

    @Test("GET answers with an ETag equal to meta.version, for users and groups")
    func getHasETag() async throws {
        try await TestServer.run { scim in
            let (userPath, etag) = try await Self.makeUser(scim)
            let user = try await scim.get(userPath)
            #expect(user.etag == etag)
            #expect(user.etag == user.version)
            let group = try await scim.createGroup("Engineering")
            let fetched = try await scim.get(path("/Groups", group))
            #expect(fetched.etag != nil)
            #expect(fetched.etag == fetched.version)
        }
    }

    @Test("GET with If-None-Match naming the current ETag is 304 without a body, with the ETag")
    func ifNoneMatchCurrentIsNotModified() async throws {
        try await TestServer.run { scim in
            let (userPath, etag) = try await Self.makeUser(scim)
            let response = try await scim.get(userPath, headers: [.ifNoneMatch: etag])
            #expect(response.status == .notModified)
            #expect(response.text.isEmpty)
            #expect(response.etag == etag)
        }
    }

    @Test("If-None-Match matches within a list, and * matches any version", arguments: ["W/\"x\", {etag}", "{etag},W/\"y\"", "*"])
    func ifNoneMatchListsAndStar(_ template: String) async throws {
        try await TestServer.run { scim in
            let (userPath, etag) = try await Self.makeUser(scim)
            let header = template.replacingOccurrences(of: "{etag}", with: etag)
            #expect(try await scim.get(userPath, headers: [.ifNoneMatch: header]).status == .notModified)
        }
    }

    @Test("If-None-Match uses the weak comparison: the opaque tag without W/ matches too (RFC 9110 §13.1.2)")
    func ifNoneMatchIsWeakComparison() async throws {
        try await TestServer.run { scim in
            let (userPath, etag) = try await Self.makeUser(scim)
            #expect(etag.hasPrefix("W/"))
            let strong = String(etag.dropFirst(2))
            #expect(try await scim.get(userPath, headers: [.ifNoneMatch: strong]).status == .notModified)
        }
    }

    @Test("GET with If-None-Match naming an old version answers 200 with the resource")
    func ifNoneMatchStaleIsOK() async throws {
        try await TestServer.run { scim in
            let (userPath, etag) = try await Self.makeUser(scim)
            let patched = try await scim.patch(userPath, [operation("replace", path: "title", value: "CTO")])
            #expect(patched.status == .ok)
            let response = try await scim.get(userPath, headers: [.ifNoneMatch: etag])
            #expect(response.status == .ok)
            #expect(response.json.field("title") == "CTO")
            #expect(response.etag == patched.etag)
            #expect(response.etag != etag)
        }
    }

    @Test("PUT, PATCH and DELETE with a stale If-Match are 412 and change nothing", arguments: ["PUT", "PATCH", "DELETE"])
    func staleIfMatchIsPreconditionFailed(_ method: String) async throws {
        try await TestServer.run { scim in
            let (userPath, staleETag) = try await Self.makeUser(scim)
            let current = try await scim.patch(userPath, [operation("replace", path: "title", value: "CTO")])
            #expect(current.etag != staleETag)
            let headers: HTTPFields = [.ifMatch: staleETag]
            let response: HTTPResult
            switch method {
            case "PUT": response = try await scim.put(userPath, ["userName": "alice@example.com", "title": "Intern"], headers: headers)
            case "PATCH":
                response = try await scim.patch(userPath, [operation("replace", path: "title", value: "Intern")], headers: headers)
            default: response = try await scim.delete(userPath, headers: headers)
            }
            expectSCIMError(response, status: 412)
            let after = try await scim.get(userPath)
            #expect(after.status == .ok)
            #expect(after.json == current.json)
        }
    }

    @Test("a matching If-Match lets the change through and the version moves", arguments: ["PUT", "PATCH"])
    func matchingIfMatchSucceeds(_ method: String) async throws {
        try await TestServer.run { scim in
            let (userPath, etag) = try await Self.makeUser(scim)
            let headers: HTTPFields = [.ifMatch: etag]
            let response =
                method == "PUT"
                ? try await scim.put(userPath, ["userName": "alice@example.com", "title": "CTO"], headers: headers)
                : try await scim.patch(userPath, [operation("replace", path: "title", value: "CTO")], headers: headers)
            #expect(response.status == .ok, "body: \(response.text)")
            #expect(response.json.field("title") == "CTO")
            let newETag = try #require(response.etag)
            #expect(newETag != etag)
            #expect(response.version == newETag)
            #expect(try await scim.get(userPath).etag == newETag)
            // The old tag is now stale, the new one is current.
            let again = try await scim.patch(userPath, [operation("replace", path: "title", value: "CEO")], headers: [.ifMatch: etag])
            expectSCIMError(again, status: 412)
            let deleted = try await scim.delete(userPath, headers: [.ifMatch: newETag])
            #expect(deleted.status == .noContent)
        }
    }

    @Test("If-Match: * matches any version")
    func ifMatchStar() async throws {
        try await TestServer.run { scim in
            let (userPath, _) = try await Self.makeUser(scim)
            let response = try await scim.patch(userPath, [operation("replace", path: "title", value: "CTO")], headers: [.ifMatch: "*"])
            #expect(response.status == .ok)
        }
    }

    @Test("every change gives a new version; reading does not")
    func versionsMoveOnlyOnChange() async throws {
        try await TestServer.run { scim in
            let (userPath, first) = try await Self.makeUser(scim)
            #expect(try await scim.get(userPath).etag == first)
            let second = try #require(try await scim.patch(userPath, [operation("replace", path: "title", value: "A")]).etag)
            let third = try #require(try await scim.put(userPath, ["userName": "alice@example.com", "title": "B"]).etag)
            #expect(Set([first, second, third]).count == 3)
            #expect(try await scim.get(userPath).etag == third)
        }
    }

    /// A user's `groups` are part of its representation (RFC 7643 §4.1.2), so joining a group or a
    /// rename of one changes the user: a weak ETag must change with any semantically significant change
    /// (RFC 9110 §8.8.1), else If-None-Match answers 304 over a stale copy and `meta.lastModified gt`
    /// syncs miss the change. Known bug in Store: only the group's version moves.
    @Test("a change of a user's group memberships moves the user's version and lastModified")
    func membershipChangeMovesTheUsersVersion() async throws {
        try await TestServer.run { scim in
            let alice = try await scim.createUser("alice@example.com")
            let userPath = path("/Users", alice)
            let etag = try #require(alice.field("meta")?.field("version")?.stringValue)
            let lastModified = try #require(alice.field("meta")?.field("lastModified")?.stringValue)
            try await Task.sleep(for: .milliseconds(5))
            let group = try await scim.createGroup("Engineering", members: [alice.field("id")?.stringValue ?? ""])
            let joined = try await scim.get(userPath)
            #expect(joined.json.field("groups")?.item(0)?.field("display") == "Engineering")
            let conditional = try await scim.get(userPath, headers: [.ifNoneMatch: etag])
            let changedSince = try await scim.list("/Users", [("filter", "meta.lastModified gt \"\(lastModified)\"")])
            #expect(joined.etag != etag)
            #expect(joined.json.field("meta")?.field("lastModified")?.stringValue != lastModified)
            #expect(conditional.status == .ok)
            #expect(changedSince.totalResults == 1)
            let before = try #require(joined.etag)
            _ = try await scim.patch(path("/Groups", group), [operation("replace", path: "displayName", value: "R&D")])
            let renamed = try await scim.get(userPath)
            #expect(renamed.json.field("groups")?.item(0)?.field("display") == "R&D")
            let conditionalAfterRename = try await scim.get(userPath, headers: [.ifNoneMatch: before])
            #expect(renamed.etag != before)
            #expect(conditionalAfterRename.status == .ok)
        }
    }

    @Test("a group's version moves when its members change")
    func groupVersionMovesWithMembers() async throws {
        try await TestServer.run { scim in
            let user = try await scim.createUser("alice@example.com")
            let group = try await scim.createGroup("Engineering")
            let groupPath = path("/Groups", group)
            let before = try #require(group.field("meta")?.field("version")?.stringValue)
            let added = try await scim.patch(groupPath, [operation("add", path: "members", value: [["value": user.field("id") ?? .null]])])
            #expect(added.etag != before)
            // A client holding the old version cannot overwrite the new membership.
            let stale = try await scim.put(groupPath, ["displayName": "Engineering"], headers: [.ifMatch: before])
            expectSCIMError(stale, status: 412)
            #expect(try await scim.get(groupPath, headers: [.ifNoneMatch: before]).status == .ok)
        }
    }
}
