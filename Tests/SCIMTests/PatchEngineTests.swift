import Testing
@testable import SCIM

struct PatchEngineTests {
    static let enterprise = SCIMURN.enterpriseUser

    static let ada: JSONObject = [
        "userName": "ada@example.com",
        "name": ["givenName": "Ada", "familyName": "Lovelace"],
        "active": true,
        "emails": [
            ["value": "ada@work.example", "type": "work", "primary": true],
            ["value": "ada@home.example", "type": "home"],
        ],
    ]

    private func patch(_ attributes: JSONObject, _ operations: String, type: ResourceType = .user) throws(SCIMError) -> JSONObject {
        let body: JSON
        do {
            body = try JSONParser.parse(#"{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": \#(operations)}"#)
        } catch {
            throw SCIMError.invalidSyntax("\(error)")
        }
        return try PatchEngine(type).apply(PatchOperation.parseRequest(body), to: attributes)
    }

    @Test func replaceWithPathSetsASimpleAttribute() throws {
        let result = try patch(Self.ada, #"[{"op": "replace", "path": "title", "value": "Countess"}]"#)
        #expect(result["title"] == "Countess")
    }

    @Test func replaceOfASubAttributeKeepsTheOthers() throws {
        let result = try patch(Self.ada, #"[{"op": "replace", "path": "name.givenName", "value": "Augusta"}]"#)
        #expect(result["name"] == ["givenName": "Augusta", "familyName": "Lovelace"])
    }

    @Test func oktaDeactivationWithoutPath() throws {
        let result = try patch(Self.ada, #"[{"op": "replace", "value": {"active": false}}]"#)
        #expect(result["active"] == false)
    }

    @Test func entraCapitalizedOperationsAndStringBooleans() throws {
        let result = try patch(Self.ada, #"[{"op": "Replace", "path": "active", "value": "False"}]"#)
        #expect(result["active"] == false)
        let again = try patch(result, #"[{"op": "Replace", "path": "active", "value": "True"}]"#)
        #expect(again["active"] == true)
    }

    @Test func pathlessValueKeysMayBePathsAndUrnQualified() throws {
        let result = try patch(
            Self.ada,
            #"[{"op": "Replace", "value": {"name.givenName": "Augusta", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "Analytics", "emails[type eq \"work\"].value": "augusta@work.example"}}]"#
        )
        #expect(result["name"]?.objectValue?["givenName"] == "Augusta")
        #expect(result[Self.enterprise] == ["department": "Analytics"])
        #expect(result["emails"]?.arrayValue?.first?.objectValue?["value"] == "augusta@work.example")
    }

    @Test func readOnlyAttributesInsideAPathlessValueAreIgnored() throws {
        let group: JSONObject = ["displayName": "Old"]
        let result = try patch(group, #"[{"op": "replace", "value": {"id": "abc", "displayName": "New"}}]"#, type: .group)
        #expect(result == ["displayName": "New"])
    }

    @Test func readOnlyAttributeNamedByPathIsAMutabilityError() {
        #expect(throws: SCIMError.mutability("'groups' is read-only")) {
            _ = try patch(Self.ada, #"[{"op": "add", "path": "groups", "value": [{"value": "x"}]}]"#)
        }
        #expect(throws: SCIMError.self) {
            _ = try patch(Self.ada, #"[{"op": "replace", "path": "id", "value": "x"}]"#)
        }
    }

    @Test func addToAMultiValuedAttributeAppendsAndANewPrimaryDemotesTheOld() throws {
        let result = try patch(Self.ada, #"[{"op": "add", "path": "emails", "value": [{"value": "ada@new.example", "type": "other", "primary": true}]}]"#)
        let emails = try #require(result["emails"]?.arrayValue)
        #expect(emails.count == 3)
        #expect(emails.filter { $0.objectValue?["primary"] == true }.count == 1)
        #expect(emails.last?.objectValue?["primary"] == true)
    }

    @Test func addingAnExistingValueChangesNothing() throws {
        let result = try patch(Self.ada, #"[{"op": "add", "path": "emails", "value": [{"value": "ada@home.example", "type": "home"}]}]"#)
        #expect(result == Self.ada)
    }

    @Test func valueFilteredReplaceChangesOnlyMatchingElements() throws {
        let result = try patch(Self.ada, #"[{"op": "replace", "path": "emails[type eq \"home\"].value", "value": "ada@cottage.example"}]"#)
        let emails = try #require(result["emails"]?.arrayValue)
        #expect(emails[0].objectValue?["value"] == "ada@work.example")
        #expect(emails[1].objectValue?["value"] == "ada@cottage.example")
    }

    @Test func valueFilteredAddWithoutMatchCreatesTheElementFromTheFilter() throws {
        let result = try patch(
            Self.ada,
            #"[{"op": "Add", "path": "phoneNumbers[type eq \"work\"].value", "value": "+1 555 0100"}, {"op": "Add", "path": "phoneNumbers[type eq \"work\"].primary", "value": true}]"#
        )
        #expect(result["phoneNumbers"] == [["value": "+1 555 0100", "type": "work", "primary": true]])
    }

    @Test func valueFilteredReplaceWithANonEqualityFilterAndNoMatchIsNoTarget() {
        #expect(throws: SCIMError.self) {
            _ = try patch(Self.ada, #"[{"op": "replace", "path": "emails[value co \"nowhere\"].display", "value": "x"}]"#)
        }
    }

    @Test func removeWithAFilterRemovesMatchingElements() throws {
        let result = try patch(Self.ada, #"[{"op": "remove", "path": "emails[type eq \"home\"]"}]"#)
        #expect(result["emails"]?.arrayValue?.count == 1)
        let none = try patch(result, #"[{"op": "remove", "path": "emails[type eq \"work\"]"}]"#)
        #expect(none["emails"] == nil)
    }

    @Test func removeOfAnAbsentValueIsNotAnError() throws {
        let result = try patch(Self.ada, #"[{"op": "remove", "path": "emails[value eq \"nobody@example.com\"]"}, {"op": "remove", "path": "title"}]"#)
        #expect(result == Self.ada)
    }

    @Test func removeOfARequiredAttributeFails() {
        #expect(throws: SCIMError.invalidValue("Attribute 'userName' is required")) {
            _ = try patch(Self.ada, #"[{"op": "remove", "path": "userName"}]"#)
        }
    }

    @Test func removeWithoutPathIsNoTarget() {
        #expect(throws: SCIMError.noTarget("Operation 1: 'remove' needs a 'path'")) {
            _ = try patch(Self.ada, #"[{"op": "remove"}]"#)
        }
    }

    @Test func groupMembershipAsOktaSendsIt() throws {
        let group: JSONObject = ["displayName": "Engineering", "members": [["value": "u1"], ["value": "u2"]]]
        let result = try patch(
            group,
            #"[{"op": "remove", "path": "members[value eq \"u1\"]"}, {"op": "add", "path": "members", "value": [{"value": "u3", "display": "Carol"}]}]"#,
            type: .group)
        #expect(result["members"] == [["value": "u2"], ["value": "u3"]])
    }

    @Test func groupMembershipAsEntraSendsIt() throws {
        let group: JSONObject = ["displayName": "Engineering", "members": [["value": "u1"], ["value": "u2"], ["value": "u3"]]]
        let result = try patch(
            group,
            #"[{"op": "Remove", "path": "members", "value": [{"value": "u1"}, {"value": "u3"}]}, {"op": "Add", "path": "members", "value": [{"value": "u4", "$ref": null}, {"value": "u5", "$ref": null}]}]"#,
            type: .group)
        #expect(result["members"] == [["value": "u2"], ["value": "u4"], ["value": "u5"]])
    }

    @Test func addingAnExistingMemberAgainIsIdempotent() throws {
        let group: JSONObject = ["displayName": "G", "members": [["value": "u1", "type": "User"]]]
        let result = try patch(group, #"[{"op": "add", "path": "members", "value": [{"value": "u1"}]}]"#, type: .group)
        #expect(result["members"] == [["value": "u1", "type": "User"]])
    }

    @Test func replacingMembersWholesale() throws {
        let group: JSONObject = ["displayName": "G", "members": [["value": "u1"]]]
        let result = try patch(group, #"[{"op": "replace", "path": "members", "value": [{"value": "u7"}, {"value": "u8"}]}]"#, type: .group)
        #expect(result["members"] == [["value": "u7"], ["value": "u8"]])
        let emptied = try patch(result, #"[{"op": "replace", "path": "members", "value": []}]"#, type: .group)
        #expect(emptied["members"] == nil)
    }

    @Test func enterpriseManagerAsABareStringOrAnObject() throws {
        let bare = try patch(Self.ada, #"[{"op": "add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": "boss-id"}]"#)
        #expect(bare[Self.enterprise] == ["manager": ["value": "boss-id"]])
        let object = try patch(Self.ada, #"[{"op": "replace", "value": {"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"manager": {"value": "boss-2"}}}}]"#)
        #expect(object[Self.enterprise] == ["manager": ["value": "boss-2"]])
    }

    @Test func wholeExtensionReplaceMergesItsAttributes() throws {
        let start = try patch(Self.ada, #"[{"op": "add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", "value": {"department": "R&D", "costCenter": "42"}}]"#)
        let result = try patch(start, #"[{"op": "replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", "value": {"department": "Sales"}}]"#)
        #expect(result[Self.enterprise] == ["department": "Sales", "costCenter": "42"])
        let removed = try patch(result, #"[{"op": "remove", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"}]"#)
        #expect(removed[Self.enterprise] == nil)
    }

    @Test func unknownExtensionPathsAreIgnoredButUnknownCoreAttributesAreNot() throws {
        let result = try patch(Self.ada, #"[{"op": "add", "path": "urn:example:params:scim:schemas:extension:custom:2.0:User:badge", "value": "x"}]"#)
        #expect(result == Self.ada)
        #expect(throws: SCIMError.invalidPath("Unknown attribute 'badge' for User")) {
            _ = try patch(Self.ada, #"[{"op": "add", "path": "badge", "value": "x"}]"#)
        }
    }

    @Test func passwordIsAcceptedButNeverStored() throws {
        let result = try patch(Self.ada, #"[{"op": "replace", "path": "password", "value": "hunter2"}, {"op": "replace", "value": {"password": "x"}}]"#)
        #expect(result == Self.ada)
    }

    @Test(arguments: [
        #"[{"op": "replace", "path": "active", "value": "maybe"}]"#,
        #"[{"op": "replace", "path": "emails", "value": "not-an-array"}]"#,
        #"[{"op": "replace", "path": "userName", "value": 42}]"#,
        #"[{"op": "frobnicate", "path": "title", "value": "x"}]"#,
        #"[{"op": "add", "path": "title"}]"#,
        #"[{"op": "add", "path": "emails[type eq ", "value": "x"}]"#,
        #"[{"op": "add", "path": "name.nonsense", "value": "x"}]"#,
        #"[]"#,
        #""not operations""#,
    ])
    func malformedOperationsAreRejectedWithoutCrashing(_ operations: String) {
        #expect(throws: SCIMError.self) {
            _ = try patch(Self.ada, operations)
        }
    }

    @Test func aFailingOperationLeavesNothingHalfApplied() {
        // The engine works on a copy; the store only writes what `apply` returns.
        #expect(throws: SCIMError.self) {
            _ = try patch(Self.ada, #"[{"op": "replace", "path": "title", "value": "ok"}, {"op": "replace", "path": "active", "value": 3}]"#)
        }
    }

    @Test func tooManyOperationsAreRefused() {
        let operations = "[" + Array(repeating: #"{"op": "replace", "path": "title", "value": "x"}"#, count: 1001).joined(separator: ",") + "]"
        #expect(throws: SCIMError.tooMany("At most 1000 operations per PATCH request")) {
            _ = try patch(Self.ada, operations)
        }
    }
}
