/// Turns the JSON body of a POST or PUT into a resource's canonical writable attributes.
///
/// Read-only attributes (`id`, `meta`, a user's `groups`) are ignored, `password` is checked and
/// dropped, unknown extension schemas (Entra sends its own) are ignored, and an unknown core
/// attribute is a 400 that names it.
public struct ResourceNormalizer: Sendable {
    public let resourceType: ResourceType

    public init(_ resourceType: ResourceType) {
        self.resourceType = resourceType
    }

    /// The canonical attributes of `body`, with the required ones present.
    public func normalize(_ body: JSON) throws(SCIMError) -> JSONObject {
        guard case .object(let object) = body else {
            throw SCIMError.invalidSyntax("The request body must be a JSON object describing a \(resourceType.name)")
        }
        var attributes = JSONObject()
        for member in object {
            if member.key.caseInsensitiveEquals("schemas") {
                try checkSchemas(member.value)
                continue
            }
            guard let path = resourceType.resolveTopLevel(key: member.key) else {
                if Self.looksLikeSchemaURN(member.key) { continue }
                throw SCIMError.invalidSyntax("Unknown attribute '\(member.key)' for \(resourceType.name)")
            }
            let definition = path.definition
            guard definition.mutability != .readOnly else { continue }
            guard let value = try AttributeValueNormalizer.normalize(member.value, for: definition, path: definition.name) else {
                continue
            }
            if definition.mutability == .writeOnly { continue }
            attributes[definition.name] = value
        }
        let ordered = canonicalOrder(attributes)
        try checkRequired(ordered)
        try checkSinglePrimary(ordered)
        return ordered
    }

    /// The attributes in the order responses show them: `externalId`, core attributes, then extensions.
    public func canonicalOrder(_ attributes: JSONObject) -> JSONObject {
        var ordered = JSONObject()
        if let externalId = attributes["externalId"] { ordered["externalId"] = externalId }
        for definition in resourceType.schema.attributes {
            if let value = attributes[definition.name] { ordered[definition.name] = value }
        }
        for extensionSchema in resourceType.extensions {
            if case .object(let object)? = attributes[extensionSchema.id], !object.isEmpty {
                ordered[extensionSchema.id] = .object(object)
            }
        }
        return ordered
    }

    /// Fails when a required attribute (`userName`, a group's `displayName`) is missing or empty.
    public func checkRequired(_ attributes: JSONObject) throws(SCIMError) {
        for definition in resourceType.schema.attributes where definition.required {
            switch attributes[definition.name] {
            case .string(let string)? where !string.trimmingWhitespace.isEmpty:
                continue
            case nil, .null?, .string?:
                throw SCIMError.invalidValue("Attribute '\(definition.name)' is required")
            default:
                continue
            }
        }
    }

    /// Fails when more than one value of a multi-valued attribute is marked primary (RFC 7643 §2.4).
    func checkSinglePrimary(_ attributes: JSONObject) throws(SCIMError) {
        for member in attributes {
            guard case .array(let elements) = member.value else { continue }
            let primaries = elements.filter { $0.objectValue?["primary"] == .bool(true) }.count
            if primaries > 1 {
                throw SCIMError.invalidValue("Only one value of '\(member.key)' may be primary")
            }
        }
    }

    /// `schemas`, when sent, must name this resource type's core schema: a Group sent to /Users is an
    /// error, not a user. (A missing `schemas` is tolerated, as several identity providers omit it.)
    private func checkSchemas(_ value: JSON) throws(SCIMError) {
        guard case .array(let uris) = value, uris.allSatisfy({ $0.stringValue != nil }) else {
            throw SCIMError.invalidSyntax("'schemas' must be an array of schema URIs")
        }
        guard uris.contains(where: { $0.stringValue?.caseInsensitiveEquals(resourceType.schema.id) == true }) else {
            throw SCIMError.invalidValue("'schemas' must include \(resourceType.schema.id) for a \(resourceType.name)")
        }
    }

    /// Whether a key is a schema URI rather than an attribute name: extension blocks are keyed by URN.
    static func looksLikeSchemaURN(_ key: String) -> Bool {
        key.contains(":")
    }
}

extension String {
    var trimmingWhitespace: Substring {
        var slice = Substring(self)
        while let first = slice.first, first.isWhitespace { slice.removeFirst() }
        while let last = slice.last, last.isWhitespace { slice.removeLast() }
        return slice
    }
}
