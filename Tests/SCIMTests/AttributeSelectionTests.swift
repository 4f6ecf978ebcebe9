import Testing
@testable import SCIM

struct AttributeSelectionTests {
    static let user = Resource(
        kind: .user, id: "u1",
        attributes: [
            "externalId": "e1", "userName": "ada", "name": ["givenName": "Ada", "familyName": "Lovelace"],
            "emails": [["value": "a@example.com", "type": "work"]],
            SCIMURN.enterpriseUser: ["department": "R&D", "costCenter": "7"],
        ],
        created: 0, lastModified: 0, version: 1)

    private func select(attributes: [String] = [], excluded: [String] = []) throws -> JSONObject {
        try AttributeSelection(attributes: attributes, excludedAttributes: excluded, for: .user)
            .apply(to: Self.user.representation(baseURL: "https://x/scim/v2"), resourceType: .user)
    }

    @Test func attributesKeepsOnlyWhatIsAskedPlusIdAndSchemas() throws {
        let result = try select(attributes: ["userName", "name.givenName"])
        #expect(result.keys.sorted() == ["id", "name", "schemas", "userName"])
        #expect(result["name"] == ["givenName": "Ada"])
        #expect(result["schemas"] == [.string(SCIMURN.user)])
    }

    @Test func extensionAttributesCanBeSelectedByURN() throws {
        let result = try select(attributes: ["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"])
        #expect(result[SCIMURN.enterpriseUser] == ["department": "R&D"])
        #expect(result["schemas"] == [.string(SCIMURN.user), .string(SCIMURN.enterpriseUser)])
    }

    @Test func excludedAttributesRemovesButNeverId() throws {
        let result = try select(excluded: ["emails", "id", "name.familyName", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"])
        #expect(result["emails"] == nil)
        #expect(result["id"] == "u1")
        #expect(result["name"] == ["givenName": "Ada"])
        #expect(result[SCIMURN.enterpriseUser] == nil)
        #expect(result["schemas"] == [.string(SCIMURN.user)])
        #expect(result["meta"] != nil)
    }

    @Test func bothListsAtOnceAreRefused() {
        #expect(throws: SCIMError.self) {
            _ = try AttributeSelection(attributes: ["userName"], excludedAttributes: ["emails"], for: .user)
        }
    }

    @Test func commaSeparatedNamesAreSplitAndTrimmed() {
        #expect(AttributeSelection.names(" userName , emails,,name.givenName ") == ["userName", "emails", "name.givenName"])
    }
}
