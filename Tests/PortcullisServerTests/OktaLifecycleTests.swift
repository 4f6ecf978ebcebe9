import Foundation
import Hummingbird
import SCIM
import Testing

/// A full provisioning lifecycle as Okta runs it, with the request shapes of Okta's "SCIM 2.0 protocol
/// reference" (developer.okta.com, "Okta and SCIM Version 2.0"): bodies sent as `application/json`;
/// a user looked up by `userName eq` with `startIndex=1&count=100` before it is created; POST bodies
/// with `password`, `groups: []`, `locale` and `externalId`; profile updates as GET then a full PUT
/// (with `id`, `meta`, `groups` and the password again); deactivation as a PATCH without `path`
/// (`{"active": false}`), or for some apps a PUT; Push Groups creating a group with `members: []`,
/// renaming it with a path-less replace whose value carries `id` and `displayName`, and changing
/// membership with one PATCH that removes `members[value eq "ID"]` and adds `members`.
///
/// Okta never deletes users (it deactivates them), so the last step is an administrator's DELETE.
/// The stored state is read back after every step.
@Suite("Okta lifecycle")
struct OktaLifecycleTests {
    /// What Okta sends: JSON as `application/json`, bearer token in `Authorization`.
    struct Okta {
        let scim: SCIMTestClient

        func send(_ method: HTTPRequest.Method, _ path: String, _ body: JSON? = nil) async throws -> HTTPResult {
            try await scim.send(method, path, body: body?.jsonText, contentType: "application/json")
        }

        /// The lookup Okta makes before creating or linking a user.
        func findUser(_ userName: String) async throws -> HTTPResult {
            try await scim.get("/Users" + queryString([("filter", "userName eq \"\(userName)\""), ("startIndex", "1"), ("count", "100")]))
        }

        /// The body of Okta's "Create the user" request, with its password, empty groups and locale.
        static func newUser(_ userName: String, givenName: String, familyName: String, externalId: String) -> JSON {
            [
                "schemas": [.string(URN.user)],
                "userName": .string(userName),
                "name": ["givenName": .string(givenName), "familyName": .string(familyName)],
                "emails": [["primary": true, "value": .string(userName), "type": "work"]],
                "displayName": .string("\(givenName) \(familyName)"),
                "locale": "en-US",
                "externalId": .string(externalId),
                "groups": [],
                "password": "1mz050nq",
                "active": true,
            ]
        }

        /// A PatchOp body as Okta writes it.
        static func patch(_ operations: [JSON]) -> JSON {
            ["schemas": [.string(URN.patchOp)], "Operations": .array(operations)]
        }
    }

    @Test("create, update, add to group, remove from group, deactivate, reactivate, delete: the state after each step")
    func lifecycle() async throws {
        try await TestServer.run { scim in
            let okta = Okta(scim: scim)
            let userName = "test.user@okta.local"

            // 1. Import check: no such user yet, an empty ListResponse (200).
            let none = try await okta.findUser(userName)
            expectListResponse(none, totalResults: 0)
            #expect(none.json.field("startIndex") == 1)
            #expect(none.resources.isEmpty)

            // 2. Create.
            let created = try await okta.send(
                .post, "/Users", Okta.newUser(userName, givenName: "Test", familyName: "User", externalId: "00ujl29u0le5T6Aj10h7"))
            #expect(created.status == .created, "body: \(created.text)")
            let userID = try #require(created.id)
            var user = try await scim.get("/Users/" + userID).json
            #expect(user.field("userName") == .string(userName))
            #expect(user.field("name") == ["givenName": "Test", "familyName": "User"])
            #expect(user.field("displayName") == "Test User")
            #expect(user.field("locale") == "en-US")
            #expect(user.field("externalId") == "00ujl29u0le5T6Aj10h7")
            #expect(user.field("emails") == [["value": .string(userName), "type": "work", "primary": true]])
            #expect(user.field("active") == true)
            #expect(user.field("password") == nil)
            #expect(user.field("groups") == nil)
            // The lookup finds the user whatever the case Okta writes the userName in.
            for spelling in [userName, userName.uppercased(), "Test.User@Okta.Local"] {
                #expect(expectListResponse(try await okta.findUser(spelling), totalResults: 1) == [userID])
            }

            // 3. Profile update: GET, then PUT the whole user back with the change.
            var profile = try #require(try await scim.get("/Users/" + userID).json.objectValue)
            profile["name"] = ["givenName": "Another", "familyName": "User"]
            profile["displayName"] = "Another User"
            profile["groups"] = []
            profile["password"] = "mynewpassword"
            let updated = try await okta.send(.put, "/Users/" + userID, .object(profile))
            #expect(updated.status == .ok, "body: \(updated.text)")
            user = try await scim.get("/Users/" + userID).json
            #expect(user.field("name") == ["givenName": "Another", "familyName": "User"])
            #expect(user.field("displayName") == "Another User")
            #expect(user.field("userName") == .string(userName))
            #expect(user.field("locale") == "en-US")
            #expect(user.field("externalId") == "00ujl29u0le5T6Aj10h7")
            #expect(user.field("active") == true)
            #expect(user.field("password") == nil)
            #expect(user.field("meta")?.field("version") != created.json.field("meta")?.field("version"))

            // A second user, for the membership change below.
            let second = try await okta.send(
                .post, "/Users", Okta.newUser("second.user@okta.local", givenName: "Second", familyName: "User", externalId: "00ujl29u0le5T6Aj10h8"))
            #expect(second.status == .created, "body: \(second.text)")
            let secondID = try #require(second.id)

            // 4. Push Groups: create the group empty, as Okta does.
            let group = try await okta.send(.post, "/Groups", ["schemas": [.string(URN.group)], "displayName": "Test SCIMv2", "members": []])
            #expect(group.status == .created, "body: \(group.text)")
            let groupID = try #require(group.id)
            #expect(GroupTests.memberIDs(try await scim.get("/Groups/" + groupID).json).isEmpty)
            let found = try await scim.list("/Groups", [("filter", "displayName eq \"Test SCIMv2\""), ("startIndex", "1"), ("count", "100")])
            #expect(expectListResponse(found, totalResults: 1) == [groupID])

            // 5. Add the user to the group (Okta sends each member's display too).
            let added = try await okta.send(
                .patch, "/Groups/" + groupID,
                Okta.patch([operation("add", path: "members", value: [["value": .string(userID), "display": .string(userName)]])]))
            #expect(added.status == .ok, "body: \(added.text)")
            #expect(GroupTests.memberIDs(try await scim.get("/Groups/" + groupID).json) == [userID])
            user = try await scim.get("/Users/" + userID).json
            #expect(user.field("groups")?.arrayValue?.count == 1)
            #expect(user.field("groups")?.item(0)?.field("value") == .string(groupID))
            #expect(user.field("groups")?.item(0)?.field("display") == "Test SCIMv2")
            #expect(user.field("groups")?.item(0)?.field("type") == "direct")

            // 6. Rename: a replace without path whose value holds the group's id and new name.
            let renamed = try await okta.send(
                .patch, "/Groups/" + groupID,
                Okta.patch([operation("replace", value: ["id": .string(groupID), "displayName": "Test SCIMv2 Renamed"])]))
            #expect(renamed.status == .ok, "body: \(renamed.text)")
            let renamedGroup = try await scim.get("/Groups/" + groupID).json
            #expect(renamedGroup.field("displayName") == "Test SCIMv2 Renamed")
            #expect(renamedGroup.field("id") == .string(groupID))
            #expect(GroupTests.memberIDs(renamedGroup) == [userID])
            #expect(try await scim.get("/Users/" + userID).json.field("groups")?.item(0)?.field("display") == "Test SCIMv2 Renamed")

            // 7. Membership change in one PATCH: remove the user, add the second one.
            let swapped = try await okta.send(
                .patch, "/Groups/" + groupID,
                Okta.patch([
                    operation("remove", path: "members[value eq \"\(userID)\"]"),
                    operation("add", path: "members", value: [["value": .string(secondID), "display": "second.user@okta.local"]]),
                ]))
            #expect(swapped.status == .ok, "body: \(swapped.text)")
            #expect(GroupTests.memberIDs(try await scim.get("/Groups/" + groupID).json) == [secondID])
            #expect(try await scim.get("/Users/" + userID).json.field("groups") == nil)
            #expect(try await scim.get("/Users/" + secondID).json.field("groups")?.item(0)?.field("value") == .string(groupID))

            // 8. Membership replaced wholesale, then the last member removed.
            let replaced = try await okta.send(
                .patch, "/Groups/" + groupID,
                Okta.patch([operation("replace", path: "members", value: [["value": .string(userID)], ["value": .string(secondID)]])]))
            #expect(replaced.status == .ok, "body: \(replaced.text)")
            #expect(GroupTests.memberIDs(try await scim.get("/Groups/" + groupID).json) == [userID, secondID])
            for id in [userID, secondID] {
                let removed = try await okta.send(
                    .patch, "/Groups/" + groupID, Okta.patch([operation("remove", path: "members[value eq \"\(id)\"]")]))
                #expect(removed.status == .ok, "body: \(removed.text)")
            }
            #expect(GroupTests.memberIDs(try await scim.get("/Groups/" + groupID).json).isEmpty)
            #expect(try await scim.get("/Users/" + userID).json.field("groups") == nil)
            #expect(try await scim.get("/Users/" + secondID).json.field("groups") == nil)
            // Back in the group for the deactivation below: membership stays while a user is inactive.
            _ = try await okta.send(.patch, "/Groups/" + groupID, Okta.patch([operation("add", path: "members", value: [["value": .string(userID)]])]))

            // 9. Deactivate: a PATCH without path. Okta keeps the user; GET and the filter still return it.
            let deactivated = try await okta.send(.patch, "/Users/" + userID, Okta.patch([operation("replace", value: ["active": false])]))
            #expect(deactivated.status == .ok, "body: \(deactivated.text)")
            user = try await scim.get("/Users/" + userID).json
            #expect(user.field("active") == false)
            #expect(user.field("displayName") == "Another User")
            #expect(user.field("groups")?.item(0)?.field("value") == .string(groupID))
            let inactive = try await okta.findUser(userName)
            #expect(expectListResponse(inactive, totalResults: 1) == [userID])
            #expect(inactive.resources.first?.field("active") == false)

            // Some Okta apps deactivate with a full PUT instead.
            var secondProfile = try #require(try await scim.get("/Users/" + secondID).json.objectValue)
            secondProfile["active"] = false
            secondProfile["password"] = "1mz050nq"
            let putDeactivated = try await okta.send(.put, "/Users/" + secondID, .object(secondProfile))
            #expect(putDeactivated.status == .ok, "body: \(putDeactivated.text)")
            let secondUser = try await scim.get("/Users/" + secondID).json
            #expect(secondUser.field("active") == false)
            #expect(secondUser.field("name") == ["givenName": "Second", "familyName": "User"])

            // 10. Reactivate.
            let reactivated = try await okta.send(.patch, "/Users/" + userID, Okta.patch([operation("replace", value: ["active": true])]))
            #expect(reactivated.status == .ok, "body: \(reactivated.text)")
            user = try await scim.get("/Users/" + userID).json
            #expect(user.field("active") == true)
            #expect(user.field("userName") == .string(userName))
            #expect(user.field("groups")?.item(0)?.field("value") == .string(groupID))

            // 11. Delete: Okta deletes pushed groups when told to; users only an administrator deletes.
            #expect(try await okta.send(.delete, "/Groups/" + groupID).status == .noContent)
            expectSCIMError(try await scim.get("/Groups/" + groupID), status: 404)
            #expect(try await scim.get("/Users/" + userID).json.field("groups") == nil)
            #expect(try await okta.send(.delete, "/Users/" + userID).status == .noContent)
            expectSCIMError(try await scim.get("/Users/" + userID), status: 404)
            expectListResponse(try await okta.findUser(userName), totalResults: 0)
            #expect(try await scim.get("/Users/" + secondID).status == .ok)
        }
    }
}
