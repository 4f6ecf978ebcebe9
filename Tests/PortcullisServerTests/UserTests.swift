import Foundation
import Hummingbird
import SCIM
import Testing

/// Creating, reading, replacing and deleting users (RFC 7644 §3.3, §3.4.1, §3.5.1, §3.6).
@Suite("Users")
struct UserTests {
    @Test("POST /Users answers 201 with a server-assigned UUID, and Location and ETag equal to meta.location and meta.version")
    func createReturnsLocationAndETag() async throws {
        try await TestServer.run { scim in
            let body: JSON = [
                "schemas": [.string(URN.user)],
                "userName": "bjensen@example.com",
                "externalId": "00ub0oNGTSWTBKOLGLNR",
                "name": ["givenName": "Barbara", "familyName": "Jensen"],
                "emails": [["value": "bjensen@example.com", "type": "work", "primary": true]],
                "active": true,
            ]
            let response = try await scim.post("/Users", body)
            #expect(response.status == .created, "body: \(response.text)")
            #expect(response.mediaType == "application/scim+json")
            let id = try #require(response.id)
            #expect(UUID(uuidString: id) != nil, "id \(id) is a UUID")
            let meta = try #require(response.json.field("meta"))
            #expect(meta.field("resourceType") == "User")
            #expect(meta.field("location") == .string("\(scimBaseURL)/Users/\(id)"))
            #expect(response.location == meta.field("location")?.stringValue)
            #expect(response.etag != nil)
            #expect(response.etag == meta.field("version")?.stringValue)
            #expect(meta.field("created") != nil)
            #expect(meta.field("created") == meta.field("lastModified"))
            #expect(response.json.field("schemas")?.strings == [URN.user])
            #expect(response.json.field("userName") == "bjensen@example.com")
            #expect(response.json.field("externalId") == "00ub0oNGTSWTBKOLGLNR")
            #expect(response.json.field("name")?.field("givenName") == "Barbara")
            #expect(response.json.field("emails")?.item(0)?.field("value") == "bjensen@example.com")
            #expect(response.json.field("active") == true)
        }
    }

    @Test("every created user gets a different id, ignoring any id the client sends")
    func idsAreServerAssigned() async throws {
        try await TestServer.run { scim in
            let first = try await scim.createUser("one@example.com", ["id": "client-chosen-id"])
            let second = try await scim.createUser("two@example.com", ["id": "client-chosen-id"])
            let firstID = try #require(first.field("id")?.stringValue)
            #expect(firstID != "client-chosen-id")
            #expect(firstID != second.field("id")?.stringValue)
            expectSCIMError(try await scim.get("/Users/client-chosen-id"), status: 404)
        }
    }

    @Test("GET /Users/{id} returns what POST returned, with the same ETag")
    func getReturnsTheCreatedUser() async throws {
        try await TestServer.run { scim in
            let created = try await scim.createUser("alice@example.com", ["displayName": "Alice", "title": "Engineer"])
            let response = try await scim.get(path("/Users", created))
            #expect(response.status == .ok)
            #expect(response.json == created)
            #expect(response.etag == created.field("meta")?.field("version")?.stringValue)
            #expect(response.location == nil || response.location == created.field("meta")?.field("location")?.stringValue)
        }
    }

    @Test("a password is accepted but never returned, not even when asked for")
    func passwordIsWriteOnly() async throws {
        try await TestServer.run { scim in
            let created = try await scim.createUser("alice@example.com", ["password": "t1meMa$heen"])
            #expect(created.field("password") == nil)
            #expect(!created.jsonText.contains("t1meMa$heen"))
            let fetched = try await scim.get(path("/Users", created))
            #expect(fetched.json.field("password") == nil)
            let asked = try await scim.get(path("/Users", created) + "?attributes=password")
            #expect(asked.status == .ok)
            #expect(asked.json.field("password") == nil)
            #expect(!asked.text.contains("t1meMa$heen"))
            let listed = try await scim.get("/Users")
            #expect(!listed.text.contains("t1meMa$heen"))
        }
    }

    @Test("an extension schema the server does not serve (Entra's) is ignored, not refused")
    func unknownExtensionSchemaIsIgnored() async throws {
        try await TestServer.run { scim in
            let body: JSON = [
                "schemas": [.string(URN.user), .string(URN.entraExtension)],
                "userName": "entra@example.com",
                URN.entraExtension: ["employeeType": "Contractor", "costCenter": "42"],
            ]
            let response = try await scim.post("/Users", body)
            #expect(response.status == .created, "body: \(response.text)")
            #expect(response.json.field(URN.entraExtension) == nil)
            #expect(response.json.field("schemas")?.strings == [URN.user])
            #expect(!response.text.contains("Contractor"))
        }
    }

    @Test("the enterprise extension is kept, listed in schemas, and its manager gets a $ref")
    func enterpriseExtensionIsStored() async throws {
        try await TestServer.run { scim in
            let manager = try await scim.createUser("boss@example.com")
            let managerID = try #require(manager.field("id")?.stringValue)
            let employee = try await scim.createUser(
                "worker@example.com",
                [
                    URN.enterpriseUser: [
                        "employeeNumber": "701984", "department": "Tour Operations", "manager": ["value": .string(managerID)],
                    ]
                ])
            #expect(employee.field("schemas")?.strings == [URN.user, URN.enterpriseUser])
            let enterprise = try #require(employee.field(URN.enterpriseUser))
            #expect(enterprise.field("employeeNumber") == "701984")
            #expect(enterprise.field("department") == "Tour Operations")
            #expect(enterprise.field("manager")?.field("value") == .string(managerID))
            #expect(enterprise.field("manager")?.field("$ref") == .string("\(scimBaseURL)/Users/\(managerID)"))
        }
    }

    @Test("an attribute the User schema does not define is a 400 that names it")
    func unknownCoreAttributeIsRefused() async throws {
        try await TestServer.run { scim in
            let body: JSON = ["schemas": [.string(URN.user)], "userName": "alice@example.com", "favoriteColor": "green"]
            let response = try await scim.post("/Users", body)
            expectSCIMError(response, status: 400, scimType: "invalidSyntax")
            #expect(response.detail.contains("favoriteColor"))
            #expect(try await scim.get("/Users").totalResults == 0)
        }
    }

    @Test(
        "a user without userName is refused: it is required",
        arguments: [#"{"displayName":"No Name"}"#, #"{"userName":""}"#, #"{"userName":null}"#])
    func userNameIsRequired(_ body: String) async throws {
        try await TestServer.run { scim in
            let response = try await scim.send(.post, "/Users", body: body)
            expectSCIMError(response, status: 400, scimType: "invalidValue")
            #expect(try await scim.get("/Users").totalResults == 0)
        }
    }

    @Test(
        "a value of the wrong type is a 400 invalidValue",
        arguments: [
            #"{"userName":"a@example.com","active":"maybe"}"#, #"{"userName":42}"#,
            #"{"userName":"a@example.com","emails":"a@example.com"}"#,
        ])
    func wrongTypeIsInvalidValue(_ body: String) async throws {
        try await TestServer.run { scim in
            let response = try await scim.send(.post, "/Users", body: body)
            expectSCIMError(response, status: 400, scimType: "invalidValue")
        }
    }

    @Test(
        "userName is unique ignoring case: a second user with it gets 409 uniqueness",
        arguments: ["alice@example.com", "ALICE@Example.COM", "Alice@example.com"])
    func userNameUniquenessIgnoresCase(_ duplicate: String) async throws {
        try await TestServer.run { scim in
            try await scim.createUser("alice@example.com")
            let response = try await scim.post("/Users", ["userName": .string(duplicate)])
            expectSCIMError(response, status: 409, scimType: "uniqueness")
            #expect(try await scim.get("/Users").totalResults == 1)
        }
    }

    @Test("of two simultaneous creates of one userName, exactly one succeeds")
    func concurrentCreatesConflict() async throws {
        try await TestServer.run { scim in
            async let first = scim.post("/Users", ["userName": "race@example.com"])
            async let second = scim.post("/Users", ["userName": "RACE@example.com"])
            let responses = try await [first, second]
            #expect(responses.map(\.code).sorted() == [201, 409])
            #expect(try await scim.get("/Users").totalResults == 1)
        }
    }

    @Test("more than one primary email is refused (RFC 7643 §2.4)")
    func onePrimaryOnly() async throws {
        try await TestServer.run { scim in
            let body: JSON = [
                "userName": "alice@example.com",
                "emails": [["value": "a@example.com", "primary": true], ["value": "b@example.com", "primary": true]],
            ]
            expectSCIMError(try await scim.post("/Users", body), status: 400, scimType: "invalidValue")
        }
    }

    @Test("renaming a user to a taken userName with PUT or PATCH is a 409 too")
    func renamingToATakenUserNameConflicts() async throws {
        try await TestServer.run { scim in
            try await scim.createUser("alice@example.com")
            let bob = try await scim.createUser("bob@example.com")
            expectSCIMError(try await scim.put(path("/Users", bob), ["userName": "ALICE@example.com"]), status: 409, scimType: "uniqueness")
            let patched = try await scim.patch(path("/Users", bob), [operation("replace", path: "userName", value: "Alice@Example.com")])
            expectSCIMError(patched, status: 409, scimType: "uniqueness")
            #expect(try await scim.get(path("/Users", bob)).json.field("userName") == "bob@example.com")
        }
    }

    @Test("a user may change the case of its own userName")
    func changingTheCaseOfOwnUserNameIsAllowed() async throws {
        try await TestServer.run { scim in
            let alice = try await scim.createUser("alice@example.com")
            let response = try await scim.put(path("/Users", alice), ["userName": "Alice@Example.com"])
            #expect(response.status == .ok, "body: \(response.text)")
            #expect(response.json.field("userName") == "Alice@Example.com")
        }
    }

    @Test("PUT replaces every writable attribute; id and meta in the body are ignored; the version moves")
    func putReplaces() async throws {
        try await TestServer.run { scim in
            let created = try await scim.createUser(
                "alice@example.com",
                ["displayName": "Alice", "title": "Engineer", "emails": [["value": "alice@example.com", "type": "work"]]])
            let id = try #require(created.field("id")?.stringValue)
            let body: JSON = [
                "schemas": [.string(URN.user)],
                "id": "someone-else",
                "userName": "alice@example.com",
                "nickName": "Al",
                "meta": ["version": "W/\"999\"", "created": "2000-01-01T00:00:00Z", "resourceType": "Group"],
            ]
            let response = try await scim.put("/Users/" + id, body)
            #expect(response.status == .ok, "body: \(response.text)")
            #expect(response.id == id)
            #expect(response.json.field("nickName") == "Al")
            #expect(response.json.field("displayName") == nil)
            #expect(response.json.field("title") == nil)
            #expect(response.json.field("emails") == nil)
            let meta = try #require(response.json.field("meta"))
            #expect(meta.field("resourceType") == "User")
            #expect(meta.field("created") == created.field("meta")?.field("created"))
            #expect(meta.field("version") != created.field("meta")?.field("version"))
            #expect(meta.field("version") != "W/\"999\"")
            #expect(response.etag == meta.field("version")?.stringValue)
            #expect(response.location == nil, "Location is for 201 Created")
            // The stored user is the replaced one, and no user appeared under the id in the body.
            #expect(try await scim.get("/Users/" + id).json == response.json)
            expectSCIMError(try await scim.get("/Users/someone-else"), status: 404)
            #expect(try await scim.get("/Users").totalResults == 1)
        }
    }

    @Test("PUT without userName is refused and leaves the user as it was")
    func putNeedsRequiredAttributes() async throws {
        try await TestServer.run { scim in
            let created = try await scim.createUser("alice@example.com", ["displayName": "Alice"])
            let response = try await scim.put(path("/Users", created), ["displayName": "Nameless"])
            expectSCIMError(response, status: 400, scimType: "invalidValue")
            #expect(try await scim.get(path("/Users", created)).json == created)
        }
    }

    @Test("DELETE answers 204 without a body; the user is then 404 for GET, PUT, PATCH and DELETE")
    func deleteRemoves() async throws {
        try await TestServer.run { scim in
            let created = try await scim.createUser("alice@example.com")
            let target = path("/Users", created)
            let response = try await scim.delete(target)
            #expect(response.status == .noContent)
            #expect(response.text.isEmpty)
            expectSCIMError(try await scim.get(target), status: 404)
            expectSCIMError(try await scim.put(target, ["userName": "alice@example.com"]), status: 404)
            expectSCIMError(try await scim.patch(target, [operation("replace", path: "title", value: "x")]), status: 404)
            expectSCIMError(try await scim.delete(target), status: 404)
            #expect(try await scim.get("/Users").totalResults == 0)
            // The userName is free again.
            try await scim.createUser("alice@example.com")
        }
    }
}
