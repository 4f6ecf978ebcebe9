import Testing
@testable import SCIM

struct ResourceNormalizerTests {
    private func normalize(_ text: String, _ type: ResourceType = .user) throws -> JSONObject {
        try ResourceNormalizer(type).normalize(JSONParser.parse(text))
    }

    @Test func canonicalizesKeyCaseAndOrderAndDropsReadOnlyAndPassword() throws {
        let result = try normalize(
            #"{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": "client-chosen", "meta": {"version": "W/\"9\""}, "ACTIVE": true, "USERNAME": "ada", "password": "secret", "externalId": "e1", "groups": [{"value": "g"}], "Name": {"GIVENNAME": "Ada"}}"#
        )
        #expect(result.keys == ["externalId", "userName", "name", "active"])
        #expect(result["name"] == ["givenName": "Ada"])
    }

    @Test func unknownExtensionSchemasAreIgnored() throws {
        let result = try normalize(
            #"{"displayName": "Sales", "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group": {"x": 1}, "members": []}"#, .group)
        #expect(result == ["displayName": "Sales"])
    }

    @Test func enterpriseExtensionIsKeptUnderItsURN() throws {
        let result = try normalize(
            #"{"userName": "ada", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "R&D", "manager": {"value": "m1", "displayName": "Boss"}}}"#)
        #expect(result[SCIMURN.enterpriseUser] == ["department": "R&D", "manager": ["value": "m1"]])
    }

    @Test(arguments: [
        (#"{"userName": "ada", "shoeSize": 42}"#, "Unknown attribute 'shoeSize' for User"),
        (#"{"name": {"givenName": "Ada"}}"#, "Attribute 'userName' is required"),
        (#"{"userName": "   "}"#, "Attribute 'userName' is required"),
        (#"{"userName": 7}"#, "Attribute 'userName' expects a string, not integer"),
        (#"{"userName": "ada", "active": "yes"}"#, "Attribute 'active' is a boolean; 'yes' is neither true nor false"),
        (#"{"userName": "ada", "emails": {"value": 1}}"#, "Attribute 'emails.value' expects a string, not integer"),
        (#"{"userName": "ada", "emails": "a@example.com"}"#, "Attribute 'emails' is multi-valued and expects an array, not string"),
        (#"{"userName": "ada", "emails": [{"value": "a", "primary": true}, {"value": "b", "primary": true}]}"#, "Only one value of 'emails' may be primary"),
        (#"{"userName": "ada", "x509Certificates": [{"value": "not base64!"}]}"#, "Attribute 'x509Certificates.value' is binary and expects base64 text"),
        (#"{"userName": "ada", "name": {"nickname": "x"}}"#, "Unknown sub-attribute 'nickname' of 'name'"),
        (#"["userName"]"#, "The request body must be a JSON object describing a User"),
        (#"{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "userName": "ada"}"#,
         "'schemas' must include urn:ietf:params:scim:schemas:core:2.0:User for a User"),
        (#"{"schemas": "urn:ietf:params:scim:schemas:core:2.0:User", "userName": "ada"}"#, "'schemas' must be an array of schema URIs"),
    ])
    func invalidInputIsA400ThatSaysWhy(_ text: String, _ detail: String) throws {
        do {
            _ = try normalize(text)
            Issue.record("expected an error for \(text)")
        } catch let error as SCIMError {
            #expect(error.status == 400)
            #expect(error.detail == detail)
        }
    }

    @Test func groupMembersNeedAValueAndGetCanonicalType() throws {
        let result = try normalize(#"{"displayName": "G", "members": [{"value": "u1", "type": "user", "display": "Ada"}, {"value": "g2", "type": "GROUP"}]}"#, .group)
        #expect(result["members"] == [["value": "u1", "type": "User"], ["value": "g2", "type": "Group"]])
        #expect(throws: SCIMError.self) { _ = try normalize(#"{"displayName": "G", "members": [{"display": "Ada"}]}"#, .group) }
        #expect(throws: SCIMError.self) { _ = try normalize(#"{"displayName": "G", "members": [{"value": "u1", "type": "Robot"}]}"#, .group) }
    }

    @Test func nullAndEmptyValuesAreUnassigned() throws {
        let result = try normalize(#"{"userName": "ada", "title": null, "emails": [], "name": {}}"#)
        #expect(result == ["userName": "ada"])
    }
}
