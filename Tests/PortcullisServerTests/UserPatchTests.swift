import Foundation
import Hummingbird
import SCIM
import Testing

/// PATCH on users (RFC 7644 §3.5.2), including the forms Microsoft Entra ID and Okta send.
@Suite("PATCH /Users")
struct UserPatchTests {
    /// A user with a name, a title and a work and a home email.
    static func makeUser(_ scim: SCIMTestClient) async throws -> JSON {
        try await scim.createUser(
            "alice@example.com",
            [
                "displayName": "Alice",
                "title": "Engineer",
                "name": ["givenName": "Alice", "familyName": "Liddell"],
                "emails": [
                    ["value": "alice@work.example", "type": "work", "primary": true],
                    ["value": "alice@home.example", "type": "home"],
                ],
            ])
    }

    @Test("add without path sets single-valued attributes and appends to multi-valued ones")
    func addWithoutPath() async throws {
        try await TestServer.run { scim in
            let user = try await Self.makeUser(scim)
            let response = try await scim.patch(
                path("/Users", user),
                [operation("add", value: ["nickName": "Al", "emails": [["value": "al@other.example", "type": "other"]]])])
            #expect(response.status == .ok, "body: \(response.text)")
            #expect(response.json.field("nickName") == "Al")
            let emails = response.json.field("emails")?.arrayValue?.compactMap { $0.field("value")?.stringValue }
            #expect(emails == ["alice@work.example", "alice@home.example", "al@other.example"])
        }
    }

    @Test("add with a path to a single-valued attribute replaces it; to a multi-valued one appends")
    func addWithPath() async throws {
        try await TestServer.run { scim in
            let user = try await Self.makeUser(scim)
            let response = try await scim.patch(
                path("/Users", user),
                [
                    operation("add", path: "title", value: "Principal Engineer"),
                    operation("add", path: "phoneNumbers", value: [["value": "+1 555 0100", "type": "mobile"]]),
                ])
            #expect(response.status == .ok, "body: \(response.text)")
            #expect(response.json.field("title") == "Principal Engineer")
            #expect(response.json.field("phoneNumbers")?.item(0)?.field("value") == "+1 555 0100")
            #expect(response.json.field("emails")?.arrayValue?.count == 2)
        }
    }

    @Test("replace with a path sets the attribute")
    func replaceWithPath() async throws {
        try await TestServer.run { scim in
            let user = try await Self.makeUser(scim)
            let response = try await scim.patch(path("/Users", user), [operation("replace", path: "displayName", value: "Alice L.")])
            #expect(response.status == .ok, "body: \(response.text)")
            #expect(response.json.field("displayName") == "Alice L.")
            #expect(response.json.field("title") == "Engineer")
        }
    }

    @Test("replace without path takes attribute names and sub-attribute paths as keys")
    func replaceWithoutPath() async throws {
        try await TestServer.run { scim in
            let user = try await Self.makeUser(scim)
            let response = try await scim.patch(
                path("/Users", user), [operation("replace", value: ["displayName": "Ali", "name.givenName": "Alicia"])])
            #expect(response.status == .ok, "body: \(response.text)")
            #expect(response.json.field("displayName") == "Ali")
            #expect(response.json.field("name")?.field("givenName") == "Alicia")
            #expect(response.json.field("name")?.field("familyName") == "Liddell")
        }
    }

    @Test("replace of a complex attribute leaves the sub-attributes it does not name (RFC 7644 §3.5.2.3)")
    func replaceComplexMerges() async throws {
        try await TestServer.run { scim in
            let user = try await Self.makeUser(scim)
            let response = try await scim.patch(path("/Users", user), [operation("replace", path: "name", value: ["givenName": "Alicia"])])
            #expect(response.status == .ok, "body: \(response.text)")
            #expect(response.json.field("name") == ["givenName": "Alicia", "familyName": "Liddell"])
        }
    }

    @Test("remove with a path unassigns the attribute")
    func removeWithPath() async throws {
        try await TestServer.run { scim in
            let user = try await Self.makeUser(scim)
            let response = try await scim.patch(path("/Users", user), [operation("remove", path: "title")])
            #expect(response.status == .ok, "body: \(response.text)")
            #expect(response.json.field("title") == nil)
            #expect(try await scim.get(path("/Users", user)).json.field("title") == nil)
        }
    }

    @Test("replace on emails[type eq \"work\"].value changes only the work address")
    func replaceFilteredSubAttribute() async throws {
        try await TestServer.run { scim in
            let user = try await Self.makeUser(scim)
            let response = try await scim.patch(
                path("/Users", user), [operation("replace", path: #"emails[type eq "work"].value"#, value: "alice@new-work.example")])
            #expect(response.status == .ok, "body: \(response.text)")
            let emails = response.json.field("emails") ?? []
            #expect(emails.elements(where: "type", is: "work").first?.field("value") == "alice@new-work.example")
            #expect(emails.elements(where: "type", is: "work").first?.field("primary") == true)
            #expect(emails.elements(where: "type", is: "home").first?.field("value") == "alice@home.example")
            #expect(emails.arrayValue?.count == 2)
        }
    }

    @Test("remove on emails[type eq \"home\"] removes only the matching value")
    func removeFilteredValue() async throws {
        try await TestServer.run { scim in
            let user = try await Self.makeUser(scim)
            let response = try await scim.patch(path("/Users", user), [operation("remove", path: #"emails[type eq "home"]"#)])
            #expect(response.status == .ok, "body: \(response.text)")
            let emails = response.json.field("emails")?.arrayValue ?? []
            #expect(emails.map { $0.field("type") } == ["work"])
        }
    }

    @Test("replace on a value filter that matches nothing is a 400 noTarget (RFC 7644 §3.5.2.3)")
    func replaceFilterWithoutMatchIsNoTarget() async throws {
        try await TestServer.run { scim in
            let user = try await Self.makeUser(scim)
            let response = try await scim.patch(
                path("/Users", user), [operation("replace", path: #"emails[value co "nowhere"].display"#, value: "Nowhere")])
            expectSCIMError(response, status: 400, scimType: "noTarget")
        }
    }

    @Test(
        "Entra's capitalized op names and \"True\"/\"False\" strings are understood",
        arguments: [
            ("Replace", "False", false), ("Replace", "True", true), ("Add", "False", false), ("REPLACE", "false", false),
        ])
    func entraStyleOperations(_ op: String, _ value: String, _ expected: Bool) async throws {
        try await TestServer.run { scim in
            let user = try await scim.createUser("entra@example.com", ["active": .bool(!expected)])
            let response = try await scim.patch(path("/Users", user), [operation(op, path: "active", value: .string(value))])
            #expect(response.status == .ok, "body: \(response.text)")
            #expect(response.json.field("active") == .bool(expected))
            #expect(try await scim.get(path("/Users", user)).json.field("active") == .bool(expected))
        }
    }

    @Test("Entra's add on emails[type eq \"work\"].value creates the work address when there is none")
    func entraAddCreatesFilteredElement() async throws {
        try await TestServer.run { scim in
            let user = try await scim.createUser("entra@example.com")
            let response = try await scim.patch(
                path("/Users", user),
                [
                    operation("Add", path: #"emails[type eq "work"].value"#, value: "entra@work.example"),
                    operation("Replace", path: "name.givenName", value: "Entra"),
                    operation("Add", path: "\(URN.enterpriseUser):department", value: "Sales"),
                ])
            #expect(response.status == .ok, "body: \(response.text)")
            #expect(response.json.field("emails") == [["value": "entra@work.example", "type": "work"]])
            #expect(response.json.field("name")?.field("givenName") == "Entra")
            #expect(response.json.field(URN.enterpriseUser)?.field("department") == "Sales")
            #expect(response.json.field("schemas")?.strings == [URN.user, URN.enterpriseUser])
        }
    }

    @Test("Entra's manager sent as a bare id becomes manager.value with a $ref")
    func entraManagerAsString() async throws {
        try await TestServer.run { scim in
            let boss = try await scim.createUser("boss@example.com")
            let bossID = try #require(boss.field("id")?.stringValue)
            let user = try await scim.createUser("entra@example.com")
            let response = try await scim.patch(
                path("/Users", user), [operation("Add", path: "\(URN.enterpriseUser):manager", value: .string(bossID))])
            #expect(response.status == .ok, "body: \(response.text)")
            let manager = response.json.field(URN.enterpriseUser)?.field("manager")
            #expect(manager?.field("value") == .string(bossID))
            #expect(manager?.field("$ref") == .string("\(scimBaseURL)/Users/\(bossID)"))
        }
    }

    @Test("remove without a path is a 400 noTarget (RFC 7644 §3.5.2.2)")
    func removeWithoutPathIsNoTarget() async throws {
        try await TestServer.run { scim in
            let user = try await Self.makeUser(scim)
            expectSCIMError(try await scim.patch(path("/Users", user), [operation("remove")]), status: 400, scimType: "noTarget")
        }
    }

    @Test(
        "a path naming no attribute is a 400 invalidPath",
        arguments: ["favoriteColor", "name.nickname", "emails[type eq \"work\"", "emails[nosuch eq 1].value"])
    func unknownPathIsInvalidPath(_ path: String) async throws {
        try await TestServer.run { scim in
            let user = try await Self.makeUser(scim)
            let response = try await scim.patch(
                "/Users/" + (user.field("id")?.stringValue ?? ""), [operation("replace", path: path, value: "x")])
            expectSCIMError(response, status: 400, scimType: "invalidPath")
        }
    }

    @Test("changing the read-only id with a path is a 400 mutability", arguments: ["id", "meta.created", "groups"])
    func readOnlyPathIsMutabilityError(_ path: String) async throws {
        try await TestServer.run { scim in
            let user = try await Self.makeUser(scim)
            let id = try #require(user.field("id")?.stringValue)
            let response = try await scim.patch("/Users/" + id, [operation("replace", path: path, value: "2000-01-01T00:00:00Z")])
            expectSCIMError(response, status: 400, scimType: "mutability")
            #expect(try await scim.get("/Users/" + id).json == user)
        }
    }

    @Test("a PATCH is all or nothing: when one operation fails, the earlier ones are not applied")
    func patchIsAtomic() async throws {
        try await TestServer.run { scim in
            let user = try await Self.makeUser(scim)
            let response = try await scim.patch(
                path("/Users", user),
                [operation("replace", path: "displayName", value: "Changed"), operation("replace", path: "favoriteColor", value: "x")])
            expectSCIMError(response, status: 400)
            #expect(try await scim.get(path("/Users", user)).json == user)
        }
    }

    @Test("a PATCH answers with the resource, its new version in meta.version and ETag")
    func patchMovesTheVersion() async throws {
        try await TestServer.run { scim in
            let user = try await Self.makeUser(scim)
            let response = try await scim.patch(path("/Users", user), [operation("replace", path: "title", value: "CTO")])
            #expect(response.status == .ok)
            #expect(response.id == user.field("id")?.stringValue)
            #expect(response.version != nil)
            #expect(response.version != user.field("meta")?.field("version")?.stringValue)
            #expect(response.etag == response.version)
            #expect(response.json.field("meta")?.field("created") == user.field("meta")?.field("created"))
        }
    }

    @Test("a PATCH that changes nothing keeps the version")
    func noOpPatchKeepsTheVersion() async throws {
        try await TestServer.run { scim in
            let user = try await Self.makeUser(scim)
            let response = try await scim.patch(path("/Users", user), [operation("replace", path: "title", value: "Engineer")])
            #expect(response.status == .ok)
            #expect(response.json == user)
        }
    }

    @Test(
        "a malformed PatchOp message is a 400 invalidSyntax",
        arguments: [
            #"{"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],"Operations":[{"op":"add","path":"title","value":"x"}]}"#,
            #"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"]}"#,
            #"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[]}"#,
            #"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"move","path":"title"}]}"#,
            #"[{"op":"add","path":"title","value":"x"}]"#,
        ])
    func malformedPatchOp(_ body: String) async throws {
        try await TestServer.run { scim in
            let user = try await Self.makeUser(scim)
            let response = try await scim.send(.patch, path("/Users", user), body: body)
            expectSCIMError(response, status: 400, scimType: "invalidSyntax")
        }
    }

    @Test("add and replace need a value: 400 invalidValue")
    func operationWithoutValue() async throws {
        try await TestServer.run { scim in
            let user = try await Self.makeUser(scim)
            expectSCIMError(
                try await scim.patch(path("/Users", user), [operation("add", path: "title")]), status: 400, scimType: "invalidValue")
        }
    }
}
