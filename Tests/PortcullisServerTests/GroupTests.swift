import Foundation
import Hummingbird
import SCIM
import Testing

/// Groups and their members (RFC 7643 §4.2, RFC 7644 §3.5.2), and what membership shows on users.
@Suite("Groups")
struct GroupTests {
    /// The ids in a group representation's `members`, as a set.
    static func memberIDs(_ group: JSON) -> Set<String> {
        Set(group.field("members")?.arrayValue?.compactMap { $0.field("value")?.stringValue } ?? [])
    }

    @Test("a group is created with users and a nested group as members, each typed and with a $ref")
    func createWithMembers() async throws {
        try await TestServer.run { scim in
            let alice = try #require(try await scim.createUser("alice@example.com").field("id")?.stringValue)
            let bob = try #require(try await scim.createUser("bob@example.com").field("id")?.stringValue)
            let inner = try #require(try await scim.createGroup("Backend").field("id")?.stringValue)
            let body: JSON = [
                "schemas": [.string(URN.group)],
                "displayName": "Engineering",
                "externalId": "eng-1",
                "members": [
                    ["value": .string(alice), "type": "User"],
                    ["value": .string(bob), "display": "Bob"],
                    ["value": .string(inner), "type": "Group"],
                ],
            ]
            let response = try await scim.post("/Groups", body)
            #expect(response.status == .created, "body: \(response.text)")
            let id = try #require(response.id)
            #expect(UUID(uuidString: id) != nil)
            #expect(response.location == .some("\(scimBaseURL)/Groups/\(id)"))
            #expect(response.etag == response.version)
            #expect(response.json.field("schemas")?.strings == [URN.group])
            #expect(response.json.field("displayName") == "Engineering")
            #expect(response.json.field("externalId") == "eng-1")
            #expect(response.json.field("meta")?.field("resourceType") == "Group")
            let members = response.json.field("members") ?? []
            #expect(Self.memberIDs(response.json) == [alice, bob, inner])
            for (memberID, type, endpoint) in [(alice, "User", "Users"), (bob, "User", "Users"), (inner, "Group", "Groups")] {
                let member = members.elements(where: "value", is: memberID).first
                #expect(member?.field("type") == .string(type))
                #expect(member?.field("$ref") == .string("\(scimBaseURL)/\(endpoint)/\(memberID)"))
            }
            #expect(try await scim.get("/Groups/" + id).json == response.json)
        }
    }

    @Test("an unknown member id is a 400 invalidValue and no group is created")
    func unknownMemberIsInvalidValue() async throws {
        try await TestServer.run { scim in
            let alice = try #require(try await scim.createUser("alice@example.com").field("id")?.stringValue)
            let body: JSON = [
                "displayName": "Engineering",
                "members": [["value": .string(alice)], ["value": "6a7f6cb4-0000-4000-8000-000000000000"]],
            ]
            let response = try await scim.post("/Groups", body)
            expectSCIMError(response, status: 400, scimType: "invalidValue")
            #expect(response.detail.contains("6a7f6cb4-0000-4000-8000-000000000000"))
            #expect(try await scim.get("/Groups").totalResults == 0)
            #expect(try await scim.get("/Users/" + alice).json.field("groups") == nil)
        }
    }

    @Test("PATCH adding an unknown member is a 400 invalidValue and adds no one")
    func patchUnknownMemberIsInvalidValue() async throws {
        try await TestServer.run { scim in
            let alice = try #require(try await scim.createUser("alice@example.com").field("id")?.stringValue)
            let bob = try #require(try await scim.createUser("bob@example.com").field("id")?.stringValue)
            let group = try await scim.createGroup("Engineering", members: [alice])
            let response = try await scim.patch(
                path("/Groups", group),
                [operation("add", path: "members", value: [["value": .string(bob)], ["value": "00000000-0000-4000-8000-000000000000"]])])
            expectSCIMError(response, status: 400, scimType: "invalidValue")
            #expect(try await scim.get(path("/Groups", group)).json == group)
            #expect(try await scim.get("/Users/" + bob).json.field("groups") == nil)
        }
    }

    @Test("a member whose declared type is wrong is a 400 invalidValue")
    func wrongMemberTypeIsInvalidValue() async throws {
        try await TestServer.run { scim in
            let alice = try #require(try await scim.createUser("alice@example.com").field("id")?.stringValue)
            let response = try await scim.post("/Groups", ["displayName": "Eng", "members": [["value": .string(alice), "type": "Group"]]])
            expectSCIMError(response, status: 400, scimType: "invalidValue")
        }
    }

    @Test("a group cannot be its own member")
    func groupCannotContainItself() async throws {
        try await TestServer.run { scim in
            let group = try await scim.createGroup("Loop")
            let id = try #require(group.field("id")?.stringValue)
            let response = try await scim.patch("/Groups/" + id, [operation("add", path: "members", value: [["value": .string(id)]])])
            expectSCIMError(response, status: 400, scimType: "invalidValue")
            #expect(try await scim.get("/Groups/" + id).json == group)
        }
    }

    @Test("PATCH add members adds to the existing members")
    func patchAddMembers() async throws {
        try await TestServer.run { scim in
            let alice = try #require(try await scim.createUser("alice@example.com").field("id")?.stringValue)
            let bob = try #require(try await scim.createUser("bob@example.com").field("id")?.stringValue)
            let carol = try #require(try await scim.createUser("carol@example.com").field("id")?.stringValue)
            let group = try await scim.createGroup("Engineering", members: [alice])
            let response = try await scim.patch(
                path("/Groups", group), [operation("add", path: "members", value: [["value": .string(bob)], ["value": .string(carol)]])])
            #expect(response.status == .ok, "body: \(response.text)")
            #expect(Self.memberIDs(response.json) == [alice, bob, carol])
            #expect(response.version != group.field("meta")?.field("version")?.stringValue)
            // Adding an existing member again changes nothing.
            let again = try await scim.patch(path("/Groups", group), [operation("Add", path: "members", value: [["value": .string(bob)]])])
            #expect(Self.memberIDs(again.json) == [alice, bob, carol])
            #expect(again.version == response.version)
        }
    }

    @Test("PATCH remove members[value eq \"id\"] removes just that member")
    func patchRemoveMemberByFilter() async throws {
        try await TestServer.run { scim in
            let alice = try #require(try await scim.createUser("alice@example.com").field("id")?.stringValue)
            let bob = try #require(try await scim.createUser("bob@example.com").field("id")?.stringValue)
            let group = try await scim.createGroup("Engineering", members: [alice, bob])
            let response = try await scim.patch(path("/Groups", group), [operation("remove", path: "members[value eq \"\(alice)\"]")])
            #expect(response.status == .ok, "body: \(response.text)")
            #expect(Self.memberIDs(response.json) == [bob])
            #expect(try await scim.get("/Users/" + alice).json.field("groups") == nil)
        }
    }

    @Test("PATCH remove members with a value array (Entra) removes the listed members")
    func patchRemoveMembersWithValueArray() async throws {
        try await TestServer.run { scim in
            let alice = try #require(try await scim.createUser("alice@example.com").field("id")?.stringValue)
            let bob = try #require(try await scim.createUser("bob@example.com").field("id")?.stringValue)
            let carol = try #require(try await scim.createUser("carol@example.com").field("id")?.stringValue)
            let group = try await scim.createGroup("Engineering", members: [alice, bob, carol])
            let response = try await scim.patch(
                path("/Groups", group),
                [operation("Remove", path: "members", value: [["value": .string(alice)], ["value": .string(carol)]])])
            #expect(response.status == .ok, "body: \(response.text)")
            #expect(Self.memberIDs(response.json) == [bob])
        }
    }

    @Test("PATCH remove members without a value removes every member")
    func patchRemoveAllMembers() async throws {
        try await TestServer.run { scim in
            let alice = try #require(try await scim.createUser("alice@example.com").field("id")?.stringValue)
            let group = try await scim.createGroup("Engineering", members: [alice])
            let response = try await scim.patch(path("/Groups", group), [operation("remove", path: "members")])
            #expect(response.status == .ok, "body: \(response.text)")
            #expect(Self.memberIDs(response.json).isEmpty)
            #expect(try await scim.get("/Users/" + alice).json.field("groups") == nil)
        }
    }

    @Test("Okta's rename sends id and displayName without a path; the id is ignored")
    func oktaRename() async throws {
        try await TestServer.run { scim in
            let group = try await scim.createGroup("Engineering")
            let id = try #require(group.field("id")?.stringValue)
            let response = try await scim.patch("/Groups/" + id, [operation("replace", value: ["id": .string(id), "displayName": "R&D"])])
            #expect(response.status == .ok, "body: \(response.text)")
            #expect(response.json.field("displayName") == "R&D")
            #expect(response.id == id)
        }
    }

    @Test("PUT replaces the members")
    func putReplacesMembers() async throws {
        try await TestServer.run { scim in
            let alice = try #require(try await scim.createUser("alice@example.com").field("id")?.stringValue)
            let bob = try #require(try await scim.createUser("bob@example.com").field("id")?.stringValue)
            let group = try await scim.createGroup("Engineering", members: [alice])
            let response = try await scim.put(path("/Groups", group), ["displayName": "Engineering", "members": [["value": .string(bob)]]])
            #expect(response.status == .ok, "body: \(response.text)")
            #expect(Self.memberIDs(response.json) == [bob])
            #expect(try await scim.get("/Users/" + alice).json.field("groups") == nil)
            #expect(try await scim.get("/Users/" + bob).json.field("groups")?.item(0)?.field("value") == group.field("id"))
        }
    }

    @Test("a user's groups list direct and indirect (nested) memberships, read-only")
    func userGroupsShowDirectAndIndirect() async throws {
        try await TestServer.run { scim in
            let alice = try #require(try await scim.createUser("alice@example.com").field("id")?.stringValue)
            let backend = try #require(try await scim.createGroup("Backend", members: [alice]).field("id")?.stringValue)
            let engineering = try #require(try await scim.createGroup("Engineering", members: [backend]).field("id")?.stringValue)
            let company = try #require(try await scim.createGroup("Company", members: [engineering]).field("id")?.stringValue)
            _ = try await scim.createGroup("Unrelated")
            let user = try await scim.get("/Users/" + alice)
            let groups = user.json.field("groups") ?? []
            #expect(groups.arrayValue?.count == 3)
            for (groupID, name, type) in [
                (backend, "Backend", "direct"), (engineering, "Engineering", "indirect"), (company, "Company", "indirect"),
            ] {
                let membership = groups.elements(where: "value", is: groupID).first
                #expect(membership?.field("display") == .string(name))
                #expect(membership?.field("type") == .string(type))
                #expect(membership?.field("$ref") == .string("\(scimBaseURL)/Groups/\(groupID)"))
            }
        }
    }

    @Test("groups sent by the client on a user are ignored: they are read-only")
    func clientCannotSetGroupsOnAUser() async throws {
        try await TestServer.run { scim in
            let group = try await scim.createGroup("Engineering")
            let user = try await scim.createUser("alice@example.com", ["groups": [["value": group.field("id") ?? .null]]])
            #expect(user.field("groups") == nil)
            #expect(Self.memberIDs(try await scim.get(path("/Groups", group)).json).isEmpty)
        }
    }

    @Test("deleting a user removes it from its groups and gives those groups a new version")
    func deletingAUserRemovesItFromGroups() async throws {
        try await TestServer.run { scim in
            let alice = try #require(try await scim.createUser("alice@example.com").field("id")?.stringValue)
            let bob = try #require(try await scim.createUser("bob@example.com").field("id")?.stringValue)
            let group = try await scim.createGroup("Engineering", members: [alice, bob])
            #expect(try await scim.delete("/Users/" + alice).status == .noContent)
            let after = try await scim.get(path("/Groups", group))
            #expect(Self.memberIDs(after.json) == [bob])
            #expect(after.version != group.field("meta")?.field("version")?.stringValue)
            let byMember = try await scim.list("/Groups", [("filter", "members.value eq \"\(alice)\"")])
            expectListResponse(byMember, totalResults: 0)
        }
    }

    @Test("deleting a nested group removes it from its parent and the indirect memberships it gave")
    func deletingANestedGroup() async throws {
        try await TestServer.run { scim in
            let alice = try #require(try await scim.createUser("alice@example.com").field("id")?.stringValue)
            let inner = try await scim.createGroup("Backend", members: [alice])
            let outer = try await scim.createGroup("Engineering", members: [inner.field("id")?.stringValue ?? ""])
            #expect(try await scim.delete(path("/Groups", inner)).status == .noContent)
            let parent = try await scim.get(path("/Groups", outer))
            #expect(Self.memberIDs(parent.json).isEmpty)
            #expect(parent.version != outer.field("meta")?.field("version")?.stringValue)
            #expect(try await scim.get("/Users/" + alice).json.field("groups") == nil)
        }
    }

    @Test("a group's displayName is unique ignoring case: 409 uniqueness", arguments: ["Engineering", "engineering", "ENGINEERING"])
    func displayNameIsUnique(_ duplicate: String) async throws {
        try await TestServer.run { scim in
            let original = try await scim.createGroup("Engineering")
            expectSCIMError(try await scim.post("/Groups", ["displayName": .string(duplicate)]), status: 409, scimType: "uniqueness")
            let other = try await scim.createGroup("Sales")
            expectSCIMError(
                try await scim.put(path("/Groups", other), ["displayName": .string(duplicate)]), status: 409, scimType: "uniqueness")
            expectSCIMError(
                try await scim.patch(path("/Groups", other), [operation("replace", path: "displayName", value: .string(duplicate))]),
                status: 409, scimType: "uniqueness")
            #expect(try await scim.get("/Groups").totalResults == 2)
            #expect(try await scim.get(path("/Groups", original)).json == original)
        }
    }

    @Test("a group without displayName is refused")
    func displayNameIsRequired() async throws {
        try await TestServer.run { scim in
            expectSCIMError(try await scim.post("/Groups", ["externalId": "x"]), status: 400, scimType: "invalidValue")
        }
    }

    @Test("deleting a group answers 204 and leaves its member users in place")
    func deleteGroup() async throws {
        try await TestServer.run { scim in
            let alice = try await scim.createUser("alice@example.com")
            let group = try await scim.createGroup("Engineering", members: [alice.field("id")?.stringValue ?? ""])
            let response = try await scim.delete(path("/Groups", group))
            #expect(response.status == .noContent)
            expectSCIMError(try await scim.get(path("/Groups", group)), status: 404)
            let user = try await scim.get(path("/Users", alice))
            #expect(user.status == .ok)
            #expect(user.json.field("groups") == nil)
        }
    }
}
