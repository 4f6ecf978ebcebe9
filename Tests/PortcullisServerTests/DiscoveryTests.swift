import Foundation
import Hummingbird
import SCIM
import Testing

/// The discovery endpoints of RFC 7644 §4 with the documents of RFC 7643 §5–§7.
@Suite("Discovery")
struct DiscoveryTests {
    @Test("/ServiceProviderConfig advertises patch, bulk, filter, sort and etag, and the limits the server enforces")
    func serviceProviderConfig() async throws {
        try await TestServer.run { scim in
            let response = try await scim.get("/ServiceProviderConfig")
            #expect(response.status == .ok)
            let config = response.json
            #expect(config.field("schemas")?.strings == [URN.serviceProviderConfig])
            #expect(config.field("patch")?.field("supported") == true)
            #expect(config.field("filter")?.field("supported") == true)
            #expect(config.field("filter")?.field("maxResults") == 1000)
            #expect(config.field("sort")?.field("supported") == true)
            #expect(config.field("etag")?.field("supported") == true)
            #expect(config.field("changePassword")?.field("supported") == false)
            #expect(config.field("bulk")?.field("supported") == true)
            #expect(config.field("bulk")?.field("maxPayloadSize") == .integer(1_048_576))
            #expect(config.field("bulk")?.field("maxOperations") == 1000)
            let schemes = config.field("authenticationSchemes")?.arrayValue ?? []
            #expect(schemes.contains { $0.field("type") == "oauthbearertoken" })
            #expect(config.field("meta")?.field("resourceType") == "ServiceProviderConfig")
            #expect(config.field("meta")?.field("location") == .string(scimBaseURL + "/ServiceProviderConfig"))
        }
    }

    @Test("/ResourceTypes lists User and Group with their endpoints, schemas and the enterprise extension")
    func resourceTypes() async throws {
        try await TestServer.run { scim in
            let response = try await scim.get("/ResourceTypes")
            expectListResponse(response, totalResults: 2)
            let user = try #require(response.resources.first { $0.field("id") == "User" })
            #expect(user.field("schemas")?.strings == [URN.resourceType])
            #expect(user.field("name") == "User")
            #expect(user.field("endpoint") == "/Users")
            #expect(user.field("schema") == .string(URN.user))
            let extensions = user.field("schemaExtensions")?.arrayValue ?? []
            #expect(extensions == [["schema": .string(URN.enterpriseUser), "required": false]])
            #expect(user.field("meta")?.field("location") == .string(scimBaseURL + "/ResourceTypes/User"))
            let group = try #require(response.resources.first { $0.field("id") == "Group" })
            #expect(group.field("endpoint") == "/Groups")
            #expect(group.field("schema") == .string(URN.group))
        }
    }

    @Test("/ResourceTypes/{id} returns one resource type", arguments: [("User", "/Users"), ("Group", "/Groups")])
    func oneResourceType(_ id: String, _ endpoint: String) async throws {
        try await TestServer.run { scim in
            let response = try await scim.get("/ResourceTypes/" + id)
            #expect(response.status == .ok)
            #expect(response.json.field("id") == .string(id))
            #expect(response.json.field("endpoint") == .string(endpoint))
            #expect(response.json.field("meta")?.field("resourceType") == "ResourceType")
        }
    }

    @Test("/Schemas lists the User, Group and enterprise User schemas")
    func schemas() async throws {
        try await TestServer.run { scim in
            let response = try await scim.get("/Schemas")
            expectListResponse(response, totalResults: 3)
            #expect(Set(response.resourceIDs) == [URN.user, URN.group, URN.enterpriseUser])
            for schema in response.resources {
                #expect(schema.field("schemas")?.strings == [URN.schema])
                #expect(schema.field("attributes")?.arrayValue?.isEmpty == false)
            }
        }
    }

    @Test("the User schema states userName's, password's and groups' characteristics")
    func userSchemaAttributes() async throws {
        try await TestServer.run { scim in
            let response = try await scim.get("/Schemas/" + URN.user)
            #expect(response.status == .ok)
            #expect(response.json.field("id") == .string(URN.user))
            #expect(response.json.field("meta")?.field("location") == .string(scimBaseURL + "/Schemas/" + URN.user))
            let attributes = response.json.field("attributes") ?? []
            let userName = try #require(attributes.elements(where: "name", is: "userName").first)
            #expect(userName.field("type") == "string")
            #expect(userName.field("required") == true)
            #expect(userName.field("uniqueness") == "server")
            #expect(userName.field("caseExact") == false)
            #expect(userName.field("mutability") == "readWrite")
            let password = try #require(attributes.elements(where: "name", is: "password").first)
            #expect(password.field("mutability") == "writeOnly")
            #expect(password.field("returned") == "never")
            let groups = try #require(attributes.elements(where: "name", is: "groups").first)
            #expect(groups.field("mutability") == "readOnly")
            #expect(groups.field("multiValued") == true)
            let groupSubAttributes = groups.field("subAttributes") ?? []
            let groupSubNames = Set(groupSubAttributes.arrayValue?.compactMap { $0.field("name")?.stringValue } ?? [])
            #expect(groupSubNames.isSuperset(of: ["value", "$ref", "display", "type"]))
            let emails = try #require(attributes.elements(where: "name", is: "emails").first)
            #expect(emails.field("multiValued") == true)
            #expect(emails.field("type") == "complex")
        }
    }

    @Test("the Group schema requires a server-unique displayName and has members")
    func groupSchemaAttributes() async throws {
        try await TestServer.run { scim in
            let response = try await scim.get("/Schemas/" + URN.group)
            #expect(response.status == .ok)
            let attributes = response.json.field("attributes") ?? []
            let displayName = try #require(attributes.elements(where: "name", is: "displayName").first)
            #expect(displayName.field("required") == true)
            #expect(displayName.field("uniqueness") == "server")
            let members = try #require(attributes.elements(where: "name", is: "members").first)
            #expect(members.field("multiValued") == true)
            let value = try #require(members.field("subAttributes")?.elements(where: "name", is: "value").first)
            #expect(value.field("mutability") == "immutable")
        }
    }

    @Test("the enterprise User schema has a complex manager with value and $ref")
    func enterpriseSchemaManager() async throws {
        try await TestServer.run { scim in
            let response = try await scim.get("/Schemas/" + URN.enterpriseUser)
            #expect(response.status == .ok)
            let attributes = response.json.field("attributes") ?? []
            let manager = try #require(attributes.elements(where: "name", is: "manager").first)
            #expect(manager.field("type") == "complex")
            #expect(manager.field("multiValued") == false)
            let subNames = Set(manager.field("subAttributes")?.arrayValue?.compactMap { $0.field("name")?.stringValue } ?? [])
            #expect(subNames.isSuperset(of: ["value", "$ref"]))
            #expect(!attributes.elements(where: "name", is: "employeeNumber").isEmpty)
        }
    }

    @Test(
        "an unknown resource type or schema id is a SCIM 404",
        arguments: ["/ResourceTypes/Device", "/Schemas/urn:ietf:params:scim:schemas:core:2.0:Device", "/Schemas/User"])
    func unknownDiscoveryIDs(_ path: String) async throws {
        try await TestServer.run { scim in
            expectSCIMError(try await scim.get(path), status: 404)
        }
    }

    static let discoveryPaths = [
        "/ServiceProviderConfig", "/ResourceTypes", "/ResourceTypes/User", "/Schemas", "/Schemas/\(URN.user)",
    ]

    @Test(
        "writing to a discovery endpoint is a SCIM 405 that allows only GET",
        arguments: [HTTPRequest.Method.post, .put, .patch, .delete], discoveryPaths)
    func discoveryIsReadOnly(_ method: HTTPRequest.Method, _ path: String) async throws {
        try await TestServer.run { scim in
            let response = try await scim.send(method, path, body: method == .delete ? nil : "{}")
            expectSCIMError(response, status: 405)
            // RFC 9110 §15.5.6: a 405 MUST carry Allow with the methods the resource supports.
            let allowed = (response.headers[.allow] ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            #expect(allowed.contains("GET"), "Allow: \(response.headers[.allow] ?? "none")")
            #expect(!allowed.contains(method.rawValue))
        }
    }
}
