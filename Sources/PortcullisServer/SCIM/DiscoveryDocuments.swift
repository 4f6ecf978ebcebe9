import SCIM

/// The discovery documents of RFC 7644 §4: what this server supports, its resource types and schemas.
enum DiscoveryDocuments {
    static func serviceProviderConfig(baseURL: String) -> JSON {
        [
            "schemas": [.string(SCIMURN.serviceProviderConfig)],
            "documentationUri": "https://github.com/portcullis-vpn/portcullis#readme",
            "patch": ["supported": true],
            "bulk": [
                "supported": true, "maxOperations": .integer(BulkService.maximumOperations),
                "maxPayloadSize": .integer(SCIMService.maximumPayloadSize),
            ],
            "filter": ["supported": true, "maxResults": .integer(SCIMService.maximumPageSize)],
            "changePassword": ["supported": false],
            "sort": ["supported": true],
            "etag": ["supported": true],
            "authenticationSchemes": [
                [
                    "type": "oauthbearertoken",
                    "name": "OAuth Bearer Token",
                    "description": "A bearer token created with `portcullis token create --scope scim`",
                    "specUri": "https://www.rfc-editor.org/rfc/rfc6750",
                    "primary": true,
                ]
            ],
            "meta": [
                "resourceType": "ServiceProviderConfig",
                "location": .string(baseURL + "/ServiceProviderConfig"),
            ],
        ]
    }

    static func resourceTypes(baseURL: String) -> [JSON] {
        ResourceType.all.map { $0.json(location: baseURL + "/ResourceTypes/" + $0.name) }
    }

    static func resourceType(id: String, baseURL: String) -> JSON? {
        ResourceType.all.first { $0.name.lowercased() == id.lowercased() }.map { $0.json(location: baseURL + "/ResourceTypes/" + $0.name) }
    }

    static var schemas: [Schema] {
        [.user, .group, .enterpriseUser]
    }

    static func schemaDocuments(baseURL: String) -> [JSON] {
        schemas.map { $0.json(location: baseURL + "/Schemas/" + $0.id) }
    }

    static func schema(id: String, baseURL: String) -> JSON? {
        schemas.first { $0.id.lowercased() == id.lowercased() }.map { $0.json(location: baseURL + "/Schemas/" + $0.id) }
    }
}
