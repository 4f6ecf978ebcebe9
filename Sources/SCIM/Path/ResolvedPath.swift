/// An attribute path given meaning by a resource type: the chain of definitions from the top of a
/// resource down to the attribute, with the key each step has in the resource's JSON.
///
/// An extension is one step of its own, keyed by its URN, so `urn:…:enterprise:2.0:User:manager.value`
/// resolves to three steps: the extension, `manager`, `value`.
public struct ResolvedPath: Sendable, CustomStringConvertible {
    public struct Step: Sendable {
        /// The key under which the value sits in its parent object.
        public let key: String
        public let definition: AttributeDefinition
    }

    public let steps: [Step]

    /// The attribute the path ends at.
    public var definition: AttributeDefinition { steps[steps.count - 1].definition }

    /// Whether the path is one of the common attributes `id`, `externalId`, `meta` or below.
    public var isCommon: Bool {
        ["id", "externalId", "meta"].contains(steps[0].key)
    }

    public var description: String {
        var text = ""
        for (position, step) in steps.enumerated() {
            if position > 0 { text += steps[position - 1].key.contains(":") ? ":" : "." }
            text += step.key
        }
        return text
    }

    /// The same path with one more step.
    func appending(_ definition: AttributeDefinition) -> ResolvedPath {
        ResolvedPath(steps: steps + [Step(key: definition.name, definition: definition)])
    }
}

extension ResourceType {
    /// Gives `path` meaning: finds the attribute it names in the core schema, the common attributes,
    /// or the extension its URN names. Returns nil for an attribute this resource type does not have.
    public func resolve(_ path: AttributePath) -> ResolvedPath? {
        var steps: [ResolvedPath.Step] = []
        let topLevel: AttributeDefinition?
        if let urn = path.schema {
            if urn.caseInsensitiveEquals(schema.id) {
                topLevel = schema.attribute(named: path.attribute) ?? Schema.common.attribute(named: path.attribute)
            } else if let extensionSchema = extensionSchema(urn: urn) {
                steps.append(.init(key: extensionSchema.id, definition: extensionAttribute(extensionSchema)))
                topLevel = extensionSchema.attribute(named: path.attribute)
            } else if path.subAttribute == nil, let extensionSchema = extensionSchema(urn: urn + ":" + path.attribute) {
                return ResolvedPath(steps: [.init(key: extensionSchema.id, definition: extensionAttribute(extensionSchema))])
            } else {
                return nil
            }
        } else {
            topLevel = schema.attribute(named: path.attribute) ?? Schema.common.attribute(named: path.attribute)
        }
        guard let topLevel else { return nil }
        steps.append(.init(key: topLevel.name, definition: topLevel))
        if let subAttribute = path.subAttribute {
            guard topLevel.type == .complex, let sub = topLevel.subAttribute(named: subAttribute) else { return nil }
            steps.append(.init(key: sub.name, definition: sub))
        }
        return ResolvedPath(steps: steps)
    }

    /// Resolves a top-level key of a resource document: a core or common attribute name, or an extension URN.
    public func resolveTopLevel(key: String) -> ResolvedPath? {
        if let extensionSchema = extensionSchema(urn: key) {
            return ResolvedPath(steps: [.init(key: extensionSchema.id, definition: extensionAttribute(extensionSchema))])
        }
        guard let definition = schema.attribute(named: key) ?? Schema.common.attribute(named: key) else { return nil }
        return ResolvedPath(steps: [.init(key: definition.name, definition: definition)])
    }
}
