import Foundation
import Hummingbird
import SCIM
import Testing

/// `attributes` and `excludedAttributes` (RFC 7644 §3.4.2.5, §3.9) on every operation that returns
/// resources. `id` is returned always (RFC 7643 §3.1) and `schemas` is part of every resource.
@Suite("Attribute selection")
struct AttributeSelectionTests {
    static func makeUser(_ scim: SCIMTestClient) async throws -> JSON {
        try await scim.createUser(
            "alice@example.com",
            [
                "displayName": "Alice",
                "title": "Engineer",
                "name": ["givenName": "Alice", "familyName": "Liddell"],
                "emails": [["value": "alice@example.com", "type": "work", "primary": true]],
                URN.enterpriseUser: ["employeeNumber": "42", "department": "R&D"],
            ])
    }

    @Test(
        "GET /Users/{id} with attributes returns just those, plus id and schemas",
        arguments: [
            ("userName", ["userName"]),
            ("USERNAME", ["userName"]),
            ("userName,displayName", ["userName", "displayName"]),
            ("userName, title", ["userName", "title"]),
            ("\(URN.user):userName", ["userName"]),
            ("id", []),
            ("name.givenName", ["name"]),
            ("emails.value", ["emails"]),
            ("meta.version", ["meta"]),
            ("\(URN.enterpriseUser):employeeNumber", [URN.enterpriseUser]),
            (URN.enterpriseUser, [URN.enterpriseUser]),
        ] as [(String, [String])])
    func attributesOnGet(_ attributes: String, _ expectedKeys: [String]) async throws {
        try await TestServer.run { scim in
            let user = try await Self.makeUser(scim)
            let expected = Set(expectedKeys)
            let response = try await scim.list(path("/Users", user), [("attributes", attributes)])
            #expect(response.status == .ok, "body: \(response.text)")
            #expect(response.json.keys == expected.union(["schemas", "id"]), "attributes=\(attributes): \(response.text)")
            #expect(response.id == user.field("id")?.stringValue)
            let schemas = expected.contains(URN.enterpriseUser) ? [URN.user, URN.enterpriseUser] : [URN.user]
            #expect(response.json.field("schemas")?.strings == schemas)
        }
    }

    @Test("sub-attribute paths keep only the named sub-attributes")
    func subAttributePaths() async throws {
        try await TestServer.run { scim in
            let user = try await Self.makeUser(scim)
            let response = try await scim.list(
                path("/Users", user), [("attributes", "name.givenName,emails.value,meta.version,\(URN.enterpriseUser):employeeNumber")])
            #expect(response.json.field("name") == ["givenName": "Alice"])
            #expect(response.json.field("emails") == [["value": "alice@example.com"]])
            #expect(response.json.field("meta") == ["version": .string(response.etag ?? "")])
            #expect(response.json.field(URN.enterpriseUser) == ["employeeNumber": "42"])
        }
    }

    @Test(
        "GET /Users/{id} with excludedAttributes drops those but never id",
        arguments: [
            ("emails", ["emails"]),
            ("emails,name", ["emails", "name"]),
            ("id", []),
            ("id,title", ["title"]),
            (URN.enterpriseUser, [URN.enterpriseUser]),
            ("meta", ["meta"]),
        ] as [(String, [String])])
    func excludedAttributesOnGet(_ excluded: String, _ removedKeys: [String]) async throws {
        try await TestServer.run { scim in
            let user = try await Self.makeUser(scim)
            let removed = Set(removedKeys)
            let response = try await scim.list(path("/Users", user), [("excludedAttributes", excluded)])
            #expect(response.status == .ok, "body: \(response.text)")
            #expect(response.json.keys == user.keys.subtracting(removed), "excludedAttributes=\(excluded): \(response.text)")
            #expect(response.id == user.field("id")?.stringValue)
            let schemas = removed.contains(URN.enterpriseUser) ? [URN.user] : [URN.user, URN.enterpriseUser]
            #expect(response.json.field("schemas")?.strings == schemas)
        }
    }

    @Test("excluding a sub-attribute keeps its siblings")
    func excludeSubAttribute() async throws {
        try await TestServer.run { scim in
            let user = try await Self.makeUser(scim)
            let response = try await scim.list(path("/Users", user), [("excludedAttributes", "name.familyName,emails.primary")])
            #expect(response.json.field("name") == ["givenName": "Alice"])
            #expect(response.json.field("emails") == [["value": "alice@example.com", "type": "work"]])
        }
    }

    @Test("attributes applies to every resource of a list")
    func attributesOnList() async throws {
        try await TestServer.run { scim in
            _ = try await Self.makeUser(scim)
            try await scim.createUser("bob@example.com", ["title": "Manager"])
            let response = try await scim.list("/Users", [("attributes", "userName")])
            expectListResponse(response, totalResults: 2)
            for resource in response.resources {
                #expect(resource.keys == ["schemas", "id", "userName"])
            }
            let excluded = try await scim.list("/Users", [("excludedAttributes", "title,meta")])
            for resource in excluded.resources {
                #expect(resource.field("title") == nil)
                #expect(resource.field("meta") == nil)
                #expect(resource.field("userName") != nil)
            }
        }
    }

    @Test("a .search body's attributes and excludedAttributes apply, as arrays or as a comma-separated string")
    func attributesOnSearch() async throws {
        try await TestServer.run { scim in
            _ = try await Self.makeUser(scim)
            let listed = try await scim.search("/Users", ["attributes": ["userName", "emails"]])
            #expect(listed.resources.first?.keys == ["schemas", "id", "userName", "emails"])
            let asString = try await scim.search("/Users", ["attributes": "userName,title"])
            #expect(asString.resources.first?.keys == ["schemas", "id", "userName", "title"])
            let excluded = try await scim.search("/Users", ["excludedAttributes": ["emails", "name", "id"]])
            let resource = try #require(excluded.resources.first)
            #expect(resource.field("emails") == nil)
            #expect(resource.field("name") == nil)
            #expect(resource.field("id") != nil)
            #expect(resource.field("userName") != nil)
        }
    }

    @Test("POST /.search selects attributes of users and groups alike")
    func attributesOnRootSearch() async throws {
        try await TestServer.run { scim in
            let user = try await Self.makeUser(scim)
            let group = try await scim.createGroup("Engineering", members: [user.field("id")?.stringValue ?? ""])
            let response = try await scim.search("", ["attributes": ["displayName"]])
            expectListResponse(response, totalResults: 2)
            let userResource = try #require(response.resources.first { $0.field("id") == user.field("id") })
            #expect(userResource.keys == ["schemas", "id", "displayName"])
            #expect(userResource.field("schemas")?.strings == [URN.user])
            let groupResource = try #require(response.resources.first { $0.field("id") == group.field("id") })
            #expect(groupResource.keys == ["schemas", "id", "displayName"])
            #expect(groupResource.field("schemas")?.strings == [URN.group])
            let excluded = try await scim.search("", ["excludedAttributes": ["members", "emails"]])
            for resource in excluded.resources {
                #expect(resource.field("members") == nil)
                #expect(resource.field("emails") == nil)
                #expect(resource.field("displayName") != nil)
            }
        }
    }

    @Test("POST with attributes answers 201 with just those, and still with Location and ETag")
    func attributesOnCreate() async throws {
        try await TestServer.run { scim in
            let body: JSON = ["userName": "alice@example.com", "title": "Engineer", "emails": [["value": "alice@example.com"]]]
            let response = try await scim.post("/Users?attributes=userName", body)
            #expect(response.status == .created, "body: \(response.text)")
            #expect(response.json.keys == ["schemas", "id", "userName"])
            let id = try #require(response.id)
            #expect(response.location == "\(scimBaseURL)/Users/\(id)")
            #expect(response.etag != nil)
            // The selection shapes the answer only: the stored user has everything.
            let stored = try await scim.get("/Users/" + id)
            #expect(stored.json.field("title") == "Engineer")
            #expect(response.etag == stored.etag)
        }
    }

    @Test("PUT and PATCH honour attributes and excludedAttributes in their answers")
    func attributesOnPutAndPatch() async throws {
        try await TestServer.run { scim in
            let user = try await Self.makeUser(scim)
            let target = path("/Users", user)
            let put = try await scim.put(
                target + "?excludedAttributes=emails,name",
                ["userName": "alice@example.com", "title": "CTO", "emails": [["value": "a@b.c"]]])
            #expect(put.status == .ok, "body: \(put.text)")
            #expect(put.json.field("emails") == nil)
            #expect(put.json.field("title") == "CTO")
            #expect(put.etag == put.version)
            let patch = try await scim.patch(target + "?attributes=displayName", [operation("replace", path: "displayName", value: "Al")])
            #expect(patch.status == .ok, "body: \(patch.text)")
            #expect(patch.json.keys == ["schemas", "id", "displayName"])
            #expect(patch.json.field("displayName") == "Al")
            #expect(patch.etag != nil)
            // The emails left out of the PUT answer were stored all the same.
            #expect(try await scim.get(target).json.field("emails")?.item(0)?.field("value") == "a@b.c")
        }
    }

    @Test(
        "a bad attributes parameter on POST, PUT or PATCH is a 400 and nothing is written",
        arguments: ["POST", "PUT", "PATCH"],
        ["attributes=userName&excludedAttributes=title", "attributes=emails%5Btype%20eq%20%22work%22%5D"])
    func badSelectionFailsBeforeWriting(_ method: String, _ query: String) async throws {
        try await TestServer.run { scim in
            let user = try await Self.makeUser(scim)
            let response: HTTPResult
            switch method {
            case "POST": response = try await scim.post("/Users?" + query, ["userName": "bob@example.com"])
            case "PUT": response = try await scim.put(path("/Users", user) + "?" + query, ["userName": "alice@example.com"])
            default: response = try await scim.patch(path("/Users", user) + "?" + query, [operation("remove", path: "title")])
            }
            expectSCIMError(response, status: 400, scimType: "invalidValue")
            #expect(try await scim.get("/Users").totalResults == 1)
            #expect(try await scim.get(path("/Users", user)).json == user)
        }
    }

    @Test("list parameters mean nothing on POST, PUT and PATCH and are ignored like unknown ones")
    func listParametersAreIgnoredOnWrites() async throws {
        try await TestServer.run { scim in
            let created = try await scim.post("/Users?count=abc&sortOrder=sideways&attributes=userName", ["userName": "bob@example.com"])
            #expect(created.status == .created, "body: \(created.text)")
            #expect(created.json.keys == ["schemas", "id", "userName"])
            let id = try #require(created.id)
            let patched = try await scim.patch("/Users/\(id)?startIndex=x", [operation("replace", path: "title", value: "CTO")])
            #expect(patched.status == .ok, "body: \(patched.text)")
            #expect(try await scim.get("/Users/\(id)?count=-x").json.field("title") == "CTO")
        }
    }

    @Test("a group's members can be left out, as identity providers do to keep answers small")
    func excludeMembers() async throws {
        try await TestServer.run { scim in
            let user = try await scim.createUser("alice@example.com")
            let group = try await scim.createGroup("Engineering", members: [user.field("id")?.stringValue ?? ""])
            let response = try await scim.list(path("/Groups", group), [("excludedAttributes", "members")])
            #expect(response.json.keys == ["schemas", "id", "displayName", "meta"])
            let listed = try await scim.list("/Groups", [("excludedAttributes", "members")])
            #expect(listed.resources.first?.field("members") == nil)
            #expect(listed.resources.first?.field("displayName") == "Engineering")
        }
    }
}
