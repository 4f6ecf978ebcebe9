/// A stored User or Group as the SCIM layer sees it: its writable attributes in canonical form,
/// plus what the server derives (`id`, `meta`, a user's `groups`).
public struct Resource: Sendable, Equatable {
    /// A group a user belongs to, directly or through nested groups.
    public struct GroupMembership: Sendable, Equatable {
        public var id: String
        public var displayName: String
        public var isDirect: Bool

        public init(id: String, displayName: String, isDirect: Bool) {
            self.id = id
            self.displayName = displayName
            self.isDirect = isDirect
        }
    }

    public var kind: ResourceType.Kind
    public var id: String
    /// Canonical writable attributes: `externalId`, core attributes, extension objects keyed by URN,
    /// and for groups `members` as `[{value, type}]`.
    public var attributes: JSONObject
    /// For users: the groups they belong to. Empty for groups.
    public var groups: [GroupMembership]
    /// Milliseconds since 1970.
    public var created: Int64
    public var lastModified: Int64
    /// Increases with every change; `meta.version` and the ETag are `W/"<version>"`.
    public var version: Int

    public init(
        kind: ResourceType.Kind, id: String, attributes: JSONObject, groups: [GroupMembership] = [], created: Int64, lastModified: Int64,
        version: Int
    ) {
        self.kind = kind
        self.id = id
        self.attributes = attributes
        self.groups = groups
        self.created = created
        self.lastModified = lastModified
        self.version = version
    }

    public var resourceType: ResourceType { .of(kind) }

    /// The entity tag of this version (RFC 7644 §3.14), also `meta.version`.
    public var etag: String { "W/\"\(version)\"" }

    /// The URI of this resource under `baseURL` (e.g. `https://vpn.example.com/scim/v2`).
    public func location(baseURL: String) -> String {
        baseURL + resourceType.endpoint + "/" + id
    }

    /// The full JSON representation, before any `attributes`/`excludedAttributes` selection.
    public func representation(baseURL: String) -> JSONObject {
        let type = resourceType
        var schemas: [JSON] = [.string(type.schema.id)]
        for extensionSchema in type.extensions where attributes[extensionSchema.id] != nil {
            schemas.append(.string(extensionSchema.id))
        }
        var object: JSONObject = ["schemas": .array(schemas), "id": .string(id)]
        for member in attributes {
            switch member.key {
            case "members":
                object["members"] = .array(member.value.arrayValue?.map { Self.renderMember($0, baseURL: baseURL) } ?? [])
            default:
                if type.extensionSchema(urn: member.key) != nil, case .object(let extensionObject) = member.value {
                    object[member.key] = .object(Self.renderExtension(extensionObject, baseURL: baseURL))
                } else {
                    object[member.key] = member.value
                }
            }
        }
        if kind == .user, !groups.isEmpty {
            object["groups"] = .array(
                groups.map { group in
                    [
                        "value": .string(group.id),
                        "$ref": .string(baseURL + "/Groups/" + group.id),
                        "display": .string(group.displayName),
                        "type": group.isDirect ? "direct" : "indirect",
                    ]
                })
        }
        object["meta"] = [
            "resourceType": .string(type.name),
            "created": .string(SCIMDateTime.format(created)),
            "lastModified": .string(SCIMDateTime.format(lastModified)),
            "location": .string(location(baseURL: baseURL)),
            "version": .string(etag),
        ]
        return object
    }

    private static func renderMember(_ member: JSON, baseURL: String) -> JSON {
        guard case .object(var object) = member, case .string(let value)? = object["value"] else { return member }
        let endpoint = object["type"] == "Group" ? "/Groups/" : "/Users/"
        let head: JSONObject = ["value": .string(value), "$ref": .string(baseURL + endpoint + value)]
        object = head.merging(object)
        return .object(object)
    }

    /// The enterprise `manager` carries a `$ref` derived from its `value`.
    private static func renderExtension(_ extensionObject: JSONObject, baseURL: String) -> JSONObject {
        guard case .object(var manager)? = extensionObject["manager"], case .string(let value)? = manager["value"] else {
            return extensionObject
        }
        manager["$ref"] = .string(baseURL + "/Users/" + value)
        var result = extensionObject
        result["manager"] = .object(manager)
        return result
    }
}

extension JSONObject {
    /// These members followed by those of `other` whose keys are not here yet.
    func merging(_ other: JSONObject) -> JSONObject {
        var result = self
        for member in other where result[member.key] == nil {
            result[member.key] = member.value
        }
        return result
    }
}
