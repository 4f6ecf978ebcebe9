/// Applies PATCH operations (RFC 7644 §3.5.2) to a resource's canonical attributes.
///
/// Beyond the RFC's examples it accepts what identity providers send: operations without a `path`
/// whose value keys are themselves paths (`"name.givenName"`, URN-qualified keys), read-only
/// attributes inside such values ignored (Okta sends `id` when renaming a group), `remove` with a
/// value listing the members to remove (Entra), and `add`/`replace` on a value-filtered path with no
/// matching element creating that element from the filter's `eq` terms (Entra).
public struct PatchEngine: Sendable {
    public let resourceType: ResourceType

    public init(_ resourceType: ResourceType) {
        self.resourceType = resourceType
    }

    /// The attributes after every operation, in order; the whole request fails if one operation does.
    public func apply(_ operations: [PatchOperation], to attributes: JSONObject) throws(SCIMError) -> JSONObject {
        var document = attributes
        for operation in operations {
            try apply(operation, to: &document)
        }
        let normalizer = ResourceNormalizer(resourceType)
        let ordered = normalizer.canonicalOrder(document)
        try normalizer.checkRequired(ordered)
        try normalizer.checkSinglePrimary(ordered)
        return ordered
    }

    private func apply(_ operation: PatchOperation, to document: inout JSONObject) throws(SCIMError) {
        if let path = operation.path {
            try apply(operation.kind, path: path, value: operation.value, to: &document, fromValueKey: false)
            return
        }
        guard case .object(let values)? = operation.value else {
            throw SCIMError.invalidValue("'\(operation.kind.rawValue)' without a 'path' needs an object of attributes as its value")
        }
        for member in values {
            if member.key.caseInsensitiveEquals("schemas") { continue }
            if let extensionSchema = resourceType.extensionSchema(urn: member.key), case .object(let extensionValues) = member.value {
                for extensionMember in extensionValues {
                    let path = PatchPath(attribute: AttributePath(schema: extensionSchema.id, attribute: extensionMember.key))
                    try apply(operation.kind, path: path, value: extensionMember.value, to: &document, fromValueKey: true)
                }
                continue
            }
            guard let path = try? PatchPath.parse(member.key) else {
                throw SCIMError.invalidValue("Unknown attribute '\(member.key)' for \(resourceType.name)")
            }
            try apply(operation.kind, path: path, value: member.value, to: &document, fromValueKey: true)
        }
    }

    // MARK: One path

    /// - Parameter fromValueKey: the path came from a key of a path-less operation's value, where
    ///   read-only attributes are skipped rather than refused.
    private func apply(
        _ kind: PatchOperation.Kind, path: PatchPath, value: JSON?, to document: inout JSONObject, fromValueKey: Bool
    ) throws(SCIMError) {
        guard let resolved = resourceType.resolve(path.attribute) else {
            if let urn = path.attribute.schema, !urn.caseInsensitiveEquals(resourceType.schema.id),
                resourceType.extensionSchema(urn: urn) == nil
            {
                return  // an extension schema Portcullis does not serve, as on POST
            }
            if fromValueKey {
                throw SCIMError.invalidValue("Unknown attribute '\(path.attribute)' for \(resourceType.name)")
            }
            throw SCIMError.invalidPath("Unknown attribute '\(path.attribute)' for \(resourceType.name)")
        }
        var target = Target(resolved: resolved)
        if path.valueFilter != nil {
            guard target.sub == nil, target.attribute.multiValued, target.attribute.type == .complex else {
                throw SCIMError.invalidPath("'\(path)': a value filter applies to a multi-valued complex attribute")
            }
        }
        if let subName = path.subAttribute {
            guard let sub = target.attribute.subAttribute(named: subName) else {
                throw SCIMError.invalidPath("'\(target.attribute.name)' has no sub-attribute '\(subName)'")
            }
            target.sub = sub
        }
        let deepest = target.sub ?? target.attribute
        if deepest.mutability == .readOnly || target.attribute.mutability == .readOnly {
            if fromValueKey { return }
            throw SCIMError.mutability("'\(path)' is read-only")
        }
        if deepest.mutability == .writeOnly {
            // `password`: checked, never stored.
            if let value { _ = try AttributeValueNormalizer.normalize(value, for: deepest, path: deepest.name) }
            return
        }
        if let filter = path.valueFilter {
            try applyFiltered(kind, target: target, filter: filter, path: path, value: value, to: &document)
        } else if let sub = target.sub {
            try applyToSubAttribute(kind, target: target, sub: sub, value: value, to: &document)
        } else {
            try applyToAttribute(kind, target: target, value: value, to: &document)
        }
    }

    /// Where an operation lands: the keys of the containers above the attribute (an extension's URN
    /// or nothing), the attribute itself, and possibly one of its sub-attributes.
    private struct Target {
        var containerKeys: [String]
        var attribute: AttributeDefinition
        var sub: AttributeDefinition?

        init(resolved: ResolvedPath) {
            var steps = resolved.steps
            var sub: AttributeDefinition?
            if steps.count >= 2, !steps[steps.count - 2].key.contains(":") || steps.count == 3 {
                sub = steps.removeLast().definition
            }
            self.attribute = steps.removeLast().definition
            self.containerKeys = steps.map(\.key)
            self.sub = sub
        }

        var attributeKeys: [String] { containerKeys + [attribute.name] }
        var displayName: String { (containerKeys + [attribute.name]).joined(separator: ":") }
    }

    private func applyToAttribute(_ kind: PatchOperation.Kind, target: Target, value: JSON?, to document: inout JSONObject) throws(SCIMError) {
        let keys = target.attributeKeys
        let attribute = target.attribute
        let current = document.value(at: keys)
        switch kind {
        case .remove:
            if attribute.multiValued, let value, value != .null, case .array(let existing)? = current {
                let removals = try normalizedElements(value, for: attribute, name: target.displayName)
                let kept = existing.filter { element in !removals.contains { Self.sameElement(element, $0, attribute) } }
                document.setValue(kept.isEmpty ? nil : .array(kept), at: keys)
            } else {
                document.setValue(nil, at: keys)
            }
        case .replace:
            let normalized = try AttributeValueNormalizer.normalize(value ?? .null, for: attribute, path: target.displayName)
            if attribute.type == .complex, !attribute.multiValued, case .object(let new)? = normalized, case .object(let old)? = current {
                document.setValue(.object(Self.merge(new, into: old)), at: keys)
            } else {
                document.setValue(normalized, at: keys)
            }
        case .add:
            guard let value, value != .null else { return }
            if attribute.multiValued {
                let additions = try normalizedElements(value, for: attribute, name: target.displayName)
                var elements = current?.arrayValue ?? []
                if additions.contains(where: { $0.objectValue?["primary"] == .bool(true) }) {
                    elements = elements.map(Self.clearingPrimary)
                }
                for addition in additions where !elements.contains(where: { Self.sameElement($0, addition, attribute) }) {
                    elements.append(addition)
                }
                document.setValue(elements.isEmpty ? nil : .array(elements), at: keys)
            } else {
                let normalized = try AttributeValueNormalizer.normalize(value, for: attribute, path: target.displayName)
                if attribute.type == .complex, case .object(let new)? = normalized, case .object(let old)? = current {
                    document.setValue(.object(Self.merge(new, into: old)), at: keys)
                } else if let normalized {
                    document.setValue(normalized, at: keys)
                }
            }
        }
    }

    private func applyToSubAttribute(
        _ kind: PatchOperation.Kind, target: Target, sub: AttributeDefinition, value: JSON?, to document: inout JSONObject
    ) throws(SCIMError) {
        let keys = target.attributeKeys
        let name = target.displayName + "." + sub.name
        let newValue = kind == .remove ? nil : try AttributeValueNormalizer.normalize(value ?? .null, for: sub, path: name)
        if kind == .add, newValue == nil { return }
        if target.attribute.multiValued {
            var elements = document.value(at: keys)?.arrayValue ?? []
            if elements.isEmpty, let newValue {
                elements = [.object([sub.name: newValue])]
            } else {
                elements = try elements.map { element throws(SCIMError) -> JSON in
                    try Self.setting(sub, to: newValue, in: element, name: name)
                }
            }
            let kept = elements.filter { $0.objectValue?.isEmpty == false }
            document.setValue(kept.isEmpty ? nil : .array(kept), at: keys)
        } else {
            let updated = try Self.setting(sub, to: newValue, in: document.value(at: keys) ?? .object([:]), name: name)
            document.setValue(updated.objectValue?.isEmpty == false ? updated : nil, at: keys)
        }
    }

    private func applyFiltered(
        _ kind: PatchOperation.Kind, target: Target, filter: Filter, path: PatchPath, value: JSON?, to document: inout JSONObject
    ) throws(SCIMError) {
        let keys = target.attributeKeys
        let attribute = target.attribute
        let elementFilter: ResourceFilter
        do {
            elementFilter = try ResourceFilter(.valuePath(path.attribute, filter, position: 1), for: resourceType)
        } catch {
            throw SCIMError.invalidPath("The value filter of '\(path)' is invalid: \(error.description)")
        }
        var elements = document.value(at: keys)?.arrayValue ?? []
        let matched = elements.indices.filter { index in
            var probe = JSONObject()
            probe.setValue(.array([elements[index]]), at: keys)
            return elementFilter.matches(probe)
        }
        let subName = target.sub.map { target.displayName + "." + $0.name } ?? target.displayName
        if matched.isEmpty {
            guard kind != .remove else { return }
            guard let template = try equalityTemplate(filter, attribute: attribute) else {
                throw SCIMError.noTarget("No value of '\(target.displayName)' matches the filter of '\(path)'")
            }
            let element: JSON
            if let sub = target.sub {
                element = try Self.setting(sub, to: try AttributeValueNormalizer.normalize(value ?? .null, for: sub, path: subName), in: .object(template), name: subName)
            } else {
                let new = try AttributeValueNormalizer.normalizeSingle(value ?? .null, for: attribute, path: subName)?.objectValue ?? [:]
                element = .object(Self.merge(new, into: template))
            }
            if element.objectValue?.isEmpty == false {
                if element.objectValue?["primary"] == .bool(true) { elements = elements.map(Self.clearingPrimary) }
                elements.append(element)
            }
        } else {
            for index in matched.reversed() {
                switch (kind, target.sub) {
                case (.remove, nil):
                    elements.remove(at: index)
                case (.remove, let sub?):
                    elements[index] = try Self.setting(sub, to: nil, in: elements[index], name: subName)
                case (_, let sub?):
                    let newValue = try AttributeValueNormalizer.normalize(value ?? .null, for: sub, path: subName)
                    elements[index] = try Self.setting(sub, to: newValue, in: elements[index], name: subName)
                case (_, nil):
                    let new = try AttributeValueNormalizer.normalizeSingle(value ?? .null, for: attribute, path: subName)?.objectValue ?? [:]
                    let base = kind == .add ? (elements[index].objectValue ?? [:]) : (try equalityTemplate(filter, attribute: attribute) ?? [:])
                    elements[index] = .object(Self.merge(new, into: base))
                }
            }
            if value?.objectValue?["primary"] == .bool(true) || (target.sub?.name == "primary" && value == .bool(true)) {
                let matchedSet = Set(matched)
                elements = elements.enumerated().map { matchedSet.contains($0.offset) ? $0.element : Self.clearingPrimary($0.element) }
            }
        }
        let kept = elements.filter { $0.objectValue?.isEmpty == false }
        document.setValue(kept.isEmpty ? nil : .array(kept), at: keys)
    }

    // MARK: Helpers

    private func normalizedElements(_ value: JSON, for attribute: AttributeDefinition, name: String) throws(SCIMError) -> [JSON] {
        try AttributeValueNormalizer.normalize(value, for: attribute, path: name)?.arrayValue ?? []
    }

    /// The element an `a eq "x" and b eq "y"` filter describes, or nil for any other filter.
    private func equalityTemplate(_ filter: Filter, attribute: AttributeDefinition) throws(SCIMError) -> JSONObject? {
        switch filter {
        case .and(let left, let right):
            guard let leftTemplate = try equalityTemplate(left, attribute: attribute),
                let rightTemplate = try equalityTemplate(right, attribute: attribute)
            else { return nil }
            return Self.merge(rightTemplate, into: leftTemplate)
        case .comparison(let path, .eq, let value, _) where path.schema == nil && path.subAttribute == nil:
            guard let sub = attribute.subAttribute(named: path.attribute),
                let normalized = try AttributeValueNormalizer.normalizeSingle(value, for: sub, path: attribute.name + "." + sub.name)
            else { return nil }
            return [sub.name: normalized]
        default:
            return nil
        }
    }

    /// `element` with `sub` set to `value` (removed when nil); an immutable sub-attribute cannot change once set.
    private static func setting(_ sub: AttributeDefinition, to value: JSON?, in element: JSON, name: String) throws(SCIMError) -> JSON {
        var object = element.objectValue ?? [:]
        if sub.mutability == .immutable, let existing = object[sub.name], existing != value {
            throw SCIMError.mutability("'\(name)' is immutable")
        }
        object[sub.name] = value
        return .object(object)
    }

    /// `old` with every sub-attribute of `new` set (RFC 7644 §3.5.2.3: unspecified sub-attributes stay).
    private static func merge(_ new: JSONObject, into old: JSONObject) -> JSONObject {
        var result = old
        for member in new { result[member.key] = member.value }
        return result
    }

    /// Whether `candidate` names the value `existing`: group members, and values given by `value`
    /// alone, are matched on `value`; anything else must be equal.
    private static func sameElement(_ existing: JSON, _ candidate: JSON, _ attribute: AttributeDefinition) -> Bool {
        guard attribute.name == "members" || candidate.objectValue?.keys == ["value"],
            case .string(let left)? = existing.objectValue?["value"], case .string(let right)? = candidate.objectValue?["value"]
        else { return existing == candidate }
        return left == right
    }

    private static func clearingPrimary(_ element: JSON) -> JSON {
        guard case .object(var object) = element, object["primary"] == .bool(true) else { return element }
        object["primary"] = .bool(false)
        return .object(object)
    }
}

extension JSONObject {
    /// The value at a chain of keys.
    func value(at keys: [String]) -> JSON? {
        guard let first = keys.first else { return .object(self) }
        guard let value = self.value(named: first) else { return nil }
        if keys.count == 1 { return value }
        guard case .object(let child) = value else { return nil }
        return child.value(at: Array(keys.dropFirst()))
    }

    /// Sets (or with nil removes) the value at a chain of keys, creating objects on the way and
    /// removing objects left empty.
    mutating func setValue(_ value: JSON?, at keys: [String]) {
        guard let first = keys.first else { return }
        let key = member(named: first)?.key ?? first
        if keys.count == 1 {
            if let value { setValue(value, named: key) } else { removeValue(named: key) }
            return
        }
        var child = self.value(named: key)?.objectValue ?? [:]
        child.setValue(value, at: Array(keys.dropFirst()))
        if child.isEmpty { removeValue(named: key) } else { setValue(.object(child), named: key) }
    }
}
