/// A SCIM resource type (RFC 7643 §6): an endpoint, its core schema and its extensions.
public struct ResourceType: Sendable {
    /// The resource types Portcullis serves.
    public enum Kind: String, Sendable {
        case user = "User"
        case group = "Group"
    }

    public var kind: Kind
    public var endpoint: String
    public var description: String
    public var schema: Schema
    public var extensions: [Schema]

    /// The `id` and `name` of the resource type, e.g. "User".
    public var name: String { kind.rawValue }

    public init(kind: Kind, endpoint: String, description: String, schema: Schema, extensions: [Schema]) {
        self.kind = kind
        self.endpoint = endpoint
        self.description = description
        self.schema = schema
        self.extensions = extensions
    }

    /// Users, with the enterprise extension.
    public static let user = ResourceType(
        kind: .user, endpoint: "/Users", description: "User Account", schema: .user, extensions: [.enterpriseUser])

    /// Groups, whose members are users or groups.
    public static let group = ResourceType(
        kind: .group, endpoint: "/Groups", description: "Group", schema: .group, extensions: [])

    /// Every resource type, in the order discovery lists them.
    public static let all: [ResourceType] = [.user, .group]

    /// The resource type for `kind`.
    public static func of(_ kind: Kind) -> ResourceType {
        kind == .user ? .user : .group
    }

    /// The extension schema with this URN, compared case-insensitively.
    public func extensionSchema(urn: String) -> Schema? {
        // Every extension's id is an ASCII "urn:…", and most keys asked about are plain attribute
        // names: those are told apart by their first byte (this runs for every key of every resource
        // rendered).
        guard let first = urn.utf8.first, first | 0x20 == UInt8(ascii: "u") else { return nil }
        return extensions.first { $0.id.caseInsensitiveEquals(urn) }
    }

    /// An extension seen as one complex attribute whose key is its URN, as it sits in a resource.
    func extensionAttribute(_ schema: Schema) -> AttributeDefinition {
        AttributeDefinition(schema.id, .complex, description: schema.description, subAttributes: schema.attributes)
    }

    /// The resource type as `/ResourceTypes/{id}` publishes it.
    public func json(location: String) -> JSON {
        var object: JSONObject = [
            "schemas": [.string(SCIMURN.resourceType)],
            "id": .string(name),
            "name": .string(name),
            "description": .string(description),
            "endpoint": .string(endpoint),
            "schema": .string(schema.id),
        ]
        if !extensions.isEmpty {
            object["schemaExtensions"] = .array(extensions.map { ["schema": .string($0.id), "required": false] })
        }
        object["meta"] = ["resourceType": "ResourceType", "location": .string(location)]
        return .object(object)
    }
}

extension JSONObject: ExpressibleByDictionaryLiteral {
    public init(dictionaryLiteral elements: (String, JSON)...) {
        self.init(elements.map { Member(key: $0.0, value: $0.1) })
    }
}
