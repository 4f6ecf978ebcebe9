import Foundation
import Hummingbird
import SCIM
import Testing

/// A full provisioning lifecycle as Microsoft Entra ID runs it, with the request shapes of Microsoft's
/// "Tutorial: Develop and plan provisioning for a SCIM endpoint" and "Known issues and resolutions with
/// SCIM 2.0 protocol compliance": the connection test (a filter on a random GUID), users created with the
/// enterprise extension and `meta`/`roles` that mean nothing to a service provider, capitalized `op`
/// names and booleans as strings ("False") from tenants without the `aadOptscim062020` flag, and with it
/// path-less `replace` operations whose value keys are attribute paths (`name.givenName`,
/// `emails[type eq "work"].value`, URN-qualified enterprise keys), the enterprise `manager` as a bare id
/// and as an object, groups looked up with `excludedAttributes=members`, members added several at a time
/// with `"$ref": null` and removed with `Remove` and a value array.
///
/// The stored state is read back after every step.
@Suite("Microsoft Entra ID lifecycle")
struct EntraLifecycleTests {
    /// The extension Entra lists in `schemas` when it creates a group; Portcullis does not serve it.
    static let entraGroupExtension = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"
    /// The query parameter of the tenant URL that opts in to Entra's RFC-compliant behaviour.
    static let flag = "aadOptscim062020"

    /// Entra's Create User body (the tutorial's, with the enterprise attributes Portcullis's docs map).
    static func newUser(_ userName: String, externalId: String, given: String, family: String, enterprise: JSON) -> JSON {
        [
            "schemas": [.string(URN.user), .string(URN.enterpriseUser)],
            "externalId": .string(externalId),
            "userName": .string(userName),
            "active": true,
            "emails": [["primary": true, "type": "work", "value": .string(userName)]],
            "meta": ["resourceType": "User"],
            "name": ["formatted": .string("\(given) \(family)"), "familyName": .string(family), "givenName": .string(given)],
            "roles": [],
            URN.enterpriseUser: enterprise,
        ]
    }

    @Test("create, update, add to group, remove from group, deactivate, reactivate, delete: the state after each step")
    func lifecycle() async throws {
        try await TestServer.run { scim in
            // 1. Test Connection: a filter on a random GUID, with and without the flag, answers an empty list.
            let guid = UUID().uuidString.lowercased()
            for flagged in [false, true] {
                let parameters = (flagged ? [(Self.flag, "")] : []) + [("filter", "userName eq \"\(guid)\"")]
                expectListResponse(try await scim.list("/Users", parameters), totalResults: 0)
                expectListResponse(
                    try await scim.list("/Groups", [("excludedAttributes", "members"), ("filter", "displayName eq \"\(guid)\"")]),
                    totalResults: 0)
            }

            // 2. Create the manager, with the manager-less enterprise extension, then the user with
            //    department and the manager as an object.
            let managerBody = Self.newUser(
                "Test_Manager_4b1e@testuser.com", externalId: "f2c5d9e6-1111-4c5e-9c1c-7dfc3a5f0a01", given: "Grace", family: "Hopper",
                enterprise: ["department": "Engineering"])
            let manager = try await scim.post("/Users", managerBody)
            #expect(manager.status == .created, "body: \(manager.text)")
            let managerID = try #require(manager.id)
            let userName = "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1@testuser.com"
            let externalId = "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"
            let created = try await scim.post(
                "/Users",
                Self.newUser(
                    userName, externalId: externalId, given: "givenName", family: "familyName",
                    enterprise: ["department": "Sales", "employeeNumber": "701984", "manager": ["value": .string(managerID)]]))
            #expect(created.status == .created, "body: \(created.text)")
            let userID = try #require(created.id)
            var user = try await scim.get("/Users/" + userID).json
            #expect(user.field("schemas")?.strings == [URN.user, URN.enterpriseUser])
            #expect(user.field("userName") == .string(userName))
            #expect(user.field("externalId") == .string(externalId))
            #expect(user.field("active") == true)
            #expect(user.field("name")?.field("givenName") == "givenName")
            #expect(user.field("name")?.field("familyName") == "familyName")
            #expect(user.field("emails")?.item(0)?.field("value") == .string(userName))
            #expect(user.field("roles") == nil)
            var enterprise = user.field(URN.enterpriseUser)
            #expect(enterprise?.field("department") == "Sales")
            #expect(enterprise?.field("employeeNumber") == "701984")
            #expect(enterprise?.field("manager")?.field("value") == .string(managerID))
            #expect(user.field("meta")?.field("resourceType") == "User")

            // Entra finds users by userName and by externalId (the anchor it matches on).
            let byUserName = try await scim.list("/Users", [(Self.flag, ""), ("filter", "userName eq \"\(userName)\"")])
            #expect(expectListResponse(byUserName, totalResults: 1) == [userID])
            let byExternalId = try await scim.list("/Users", [("filter", "externalId eq \"\(externalId)\"")])
            #expect(expectListResponse(byExternalId, totalResults: 1) == [userID])

            // 3a. Update without the flag: capitalized ops, one path each.
            let update = try await scim.patch(
                "/Users/" + userID,
                [
                    operation("Replace", path: "emails[type eq \"work\"].value", value: "updatedEmail@microsoft.com"),
                    operation("Replace", path: "name.familyName", value: "updatedFamilyName"),
                    operation("Replace", path: "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", value: "Marketing"),
                    operation("Add", path: "nickName", value: "Babs"),
                ])
            #expect(update.status == .ok, "body: \(update.text)")
            user = try await scim.get("/Users/" + userID).json
            #expect(user.field("emails") == [["value": "updatedEmail@microsoft.com", "type": "work", "primary": true]])
            #expect(user.field("name")?.field("familyName") == "updatedFamilyName")
            #expect(user.field("name")?.field("givenName") == "givenName")
            #expect(user.field("nickName") == "Babs")
            #expect(user.field(URN.enterpriseUser)?.field("department") == "Marketing")
            #expect(user.field(URN.enterpriseUser)?.field("manager")?.field("value") == .string(managerID))

            // 3b. Update with the flag: one path-less replace whose keys are paths, URN-qualified ones included.
            let flagged = try await scim.patch(
                "/Users/" + userID + "?" + Self.flag,
                [
                    operation(
                        "replace",
                        value: [
                            "displayName": "Pvlo",
                            "emails[type eq \"work\"].value": "TestBcwqnm@test.microsoft.com",
                            "name.givenName": "Gtfd",
                            "name.familyName": "Pkqf",
                            "externalId": .string(externalId),
                            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "Eqpj",
                            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "Research",
                        ])
                ])
            #expect(flagged.status == .ok, "body: \(flagged.text)")
            user = try await scim.get("/Users/" + userID).json
            #expect(user.field("displayName") == "Pvlo")
            #expect(user.field("emails")?.arrayValue?.count == 1)
            #expect(user.field("emails")?.item(0)?.field("value") == "TestBcwqnm@test.microsoft.com")
            #expect(user.field("emails")?.item(0)?.field("type") == "work")
            #expect(user.field("name")?.field("givenName") == "Gtfd")
            #expect(user.field("name")?.field("familyName") == "Pkqf")
            #expect(user.field("name")?.field("formatted") == "givenName familyName")
            enterprise = user.field(URN.enterpriseUser)
            #expect(enterprise?.field("employeeNumber") == "Eqpj")
            #expect(enterprise?.field("department") == "Research")
            #expect(user.field("externalId") == .string(externalId))

            // 3c. An address through a filter that matches nothing yet: both operations fill one new element.
            let address = try await scim.patch(
                "/Users/" + userID,
                [
                    operation("Add", path: "addresses[type eq \"work\"].streetAddress", value: "1 Microsoft Way"),
                    operation("Add", path: "addresses[type eq \"work\"].locality", value: "Redmond"),
                ])
            #expect(address.status == .ok, "body: \(address.text)")
            #expect(
                try await scim.get("/Users/" + userID).json.field("addresses")
                    == [["streetAddress": "1 Microsoft Way", "locality": "Redmond", "type": "work"]])

            // 3d. The manager as a bare id in PATCH (Entra's usual form), then as an object, then removed.
            let other = try await scim.createUser("Test_Manager_2@testuser.com")
            let otherID = try #require(other.field("id")?.stringValue)
            let managerPath = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"
            #expect(try await scim.patch("/Users/" + userID, [operation("Replace", path: managerPath, value: .string(otherID))]).status == .ok)
            #expect(try await scim.get("/Users/" + userID).json.field(URN.enterpriseUser)?.field("manager")?.field("value") == .string(otherID))
            #expect(
                try await scim.patch("/Users/" + userID, [operation("Add", path: managerPath, value: ["value": .string(managerID)])]).status
                    == .ok)
            let managed = try await scim.get("/Users/" + userID).json.field(URN.enterpriseUser)?.field("manager")
            #expect(managed?.field("value") == .string(managerID))
            #expect(managed?.field("$ref") == .string("\(scimBaseURL)/Users/\(managerID)"))
            #expect(try await scim.patch("/Users/" + userID, [operation("Remove", path: managerPath)]).status == .ok)
            enterprise = try await scim.get("/Users/" + userID).json.field(URN.enterpriseUser)
            #expect(enterprise?.field("manager") == nil)
            #expect(enterprise?.field("department") == "Research")

            // 4. Create the group as Entra does: its own extension in schemas, externalId, meta; no members.
            let groupName = "Entra Provisioned Group"
            let group = try await scim.post(
                "/Groups",
                [
                    "schemas": [.string(URN.group), .string(Self.entraGroupExtension)],
                    "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
                    "displayName": .string(groupName),
                    "meta": ["resourceType": "Group"],
                ])
            #expect(group.status == .created, "body: \(group.text)")
            let groupID = try #require(group.id)
            let lookup = try await scim.list("/Groups", [("excludedAttributes", "members"), ("filter", "displayName eq \"\(groupName)\"")])
            #expect(expectListResponse(lookup, totalResults: 1) == [groupID])
            #expect(lookup.resources.first?.field("externalId") == "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159")
            let byGroupExternalId = try await scim.list("/Groups", [("filter", "externalId eq \"8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159\"")])
            #expect(expectListResponse(byGroupExternalId, totalResults: 1) == [groupID])

            // 5. Add to group: several members in one Add, each with "$ref": null.
            let added = try await scim.patch(
                "/Groups/" + groupID,
                [operation("Add", path: "members", value: [["$ref": nil, "value": .string(userID)], ["$ref": nil, "value": .string(managerID)]])])
            #expect(added.status == .ok, "body: \(added.text)")
            #expect(GroupTests.memberIDs(try await scim.get("/Groups/" + groupID).json) == [userID, managerID])
            // Entra reads the group back without its members.
            let slim = try await scim.get("/Groups/" + groupID + "?excludedAttributes=members")
            #expect(slim.json.field("members") == nil)
            #expect(slim.json.field("displayName") == .string(groupName))
            user = try await scim.get("/Users/" + userID).json
            #expect(user.field("groups")?.item(0)?.field("value") == .string(groupID))
            #expect(user.field("groups")?.item(0)?.field("display") == .string(groupName))

            // Rename, as Entra does: a Replace with a path.
            #expect(try await scim.patch("/Groups/" + groupID, [operation("Replace", path: "displayName", value: "Entra Renamed")]).status == .ok)
            #expect(try await scim.get("/Groups/" + groupID).json.field("displayName") == "Entra Renamed")
            #expect(try await scim.get("/Users/" + userID).json.field("groups")?.item(0)?.field("display") == "Entra Renamed")

            // 6. Remove from group: Remove on members with a value array (without the flag)…
            let removed = try await scim.patch(
                "/Groups/" + groupID, [operation("Remove", path: "members", value: [["$ref": nil, "value": .string(userID)]])])
            #expect(removed.status == .ok, "body: \(removed.text)")
            #expect(GroupTests.memberIDs(try await scim.get("/Groups/" + groupID).json) == [managerID])
            #expect(try await scim.get("/Users/" + userID).json.field("groups") == nil)
            // …and with a value filter (with the flag).
            let filtered = try await scim.patch(
                "/Groups/" + groupID + "?" + Self.flag, [operation("remove", path: "members[value eq \"\(managerID)\"]")])
            #expect(filtered.status == .ok, "body: \(filtered.text)")
            #expect(GroupTests.memberIDs(try await scim.get("/Groups/" + groupID).json).isEmpty)
            #expect(try await scim.get("/Users/" + managerID).json.field("groups") == nil)

            // 7. Deactivate: "False" as a string (without the flag), false (with it).
            let disabled = try await scim.patch("/Users/" + userID, [operation("Replace", path: "active", value: "False")])
            #expect(disabled.status == .ok, "body: \(disabled.text)")
            #expect(try await scim.get("/Users/" + userID).json.field("active") == false)
            let disabledFlagged = try await scim.patch("/Users/" + managerID + "?" + Self.flag, [operation("replace", path: "active", value: false)])
            #expect(disabledFlagged.status == .ok, "body: \(disabledFlagged.text)")
            #expect(try await scim.get("/Users/" + managerID).json.field("active") == false)
            // A disabled user is still found by Entra's lookups.
            #expect(expectListResponse(try await scim.list("/Users", [("filter", "userName eq \"\(userName)\"")]), totalResults: 1) == [userID])

            // 8. Reactivate: "True" as a string, and a path-less Replace with a string boolean.
            #expect(try await scim.patch("/Users/" + userID, [operation("Replace", path: "active", value: "True")]).status == .ok)
            user = try await scim.get("/Users/" + userID).json
            #expect(user.field("active") == true)
            #expect(user.field("displayName") == "Pvlo")
            #expect(try await scim.patch("/Users/" + managerID, [operation("Replace", value: ["active": "True"])]).status == .ok)
            #expect(try await scim.get("/Users/" + managerID).json.field("active") == true)

            // 9. Delete: the user (Entra deletes when the user goes out of scope or is deleted), then the group.
            #expect(try await scim.patch("/Groups/" + groupID, [operation("Add", path: "members", value: [["value": .string(userID)]])]).status == .ok)
            #expect(try await scim.delete("/Users/" + userID).status == .noContent)
            expectSCIMError(try await scim.get("/Users/" + userID), status: 404)
            #expect(GroupTests.memberIDs(try await scim.get("/Groups/" + groupID).json).isEmpty)
            expectListResponse(try await scim.list("/Users", [("filter", "userName eq \"\(userName)\"")]), totalResults: 0)
            #expect(try await scim.delete("/Groups/" + groupID).status == .noContent)
            expectSCIMError(try await scim.get("/Groups/" + groupID), status: 404)
            expectListResponse(try await scim.list("/Groups", [("filter", "displayName eq \"Entra Renamed\"")]), totalResults: 0)
        }
    }
}
