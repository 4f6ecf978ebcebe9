/// The `attributes` and `excludedAttributes` parameters (RFC 7644 §3.4.2.5 and §3.9): which
/// attributes a response carries. Attributes whose `returned` is `always` (`id`) are always kept.
public struct AttributeSelection: Sendable {
    enum Mode: Sendable {
        case all
        case include([ResolvedPath])
        case exclude([ResolvedPath])
    }

    let mode: Mode

    /// Every attribute returned by default.
    public static let all = AttributeSelection(mode: .all)

    init(mode: Mode) {
        self.mode = mode
    }

    /// Reads the two mutually exclusive lists; names that the resource type does not have are ignored,
    /// so a search across resource types can name attributes of either.
    public init(attributes: [String], excludedAttributes: [String], for resourceType: ResourceType) throws(SCIMError) {
        guard attributes.isEmpty || excludedAttributes.isEmpty else {
            throw SCIMError.invalidValue("'attributes' and 'excludedAttributes' cannot be used together")
        }
        func resolveAll(_ names: [String]) throws(SCIMError) -> [ResolvedPath] {
            var paths: [ResolvedPath] = []
            for name in names {
                guard let path = AttributePath.parse(name) else {
                    throw SCIMError.invalidValue("'\(name)' is not a valid attribute path")
                }
                if let resolved = resourceType.resolve(path) { paths.append(resolved) }
            }
            return paths
        }
        if !attributes.isEmpty {
            mode = .include(try resolveAll(attributes))
        } else if !excludedAttributes.isEmpty {
            mode = .exclude(try resolveAll(excludedAttributes))
        } else {
            mode = .all
        }
    }

    /// Splits a comma-separated parameter value into attribute names.
    public static func names(_ parameter: String?) -> [String] {
        guard let parameter else { return [] }
        return parameter.split(separator: ",").map { String(String($0).trimmingWhitespace) }.filter { !$0.isEmpty }
    }

    /// Applies the selection to a full representation.
    public func apply(to representation: JSONObject, resourceType: ResourceType) -> JSONObject {
        var result: JSONObject
        switch mode {
        case .all:
            return representation
        case .include(let paths):
            result = JSONObject()
            for member in representation {
                if member.key == "schemas" || isAlwaysReturned(member.key, resourceType) {
                    result[member.key] = member.value
                    continue
                }
                let matching = paths.filter { $0.steps[0].key.caseInsensitiveEquals(member.key) }
                guard !matching.isEmpty else { continue }
                if let kept = Self.keep(member.value, paths: matching.map { Array($0.steps.dropFirst()) }) {
                    result[member.key] = kept
                }
            }
        case .exclude(let paths):
            result = representation
            for path in paths where !isAlwaysReturned(path.steps[0].key, resourceType) {
                result = Self.remove(path.steps.map(\.key)[...], from: result)
            }
        }
        return Self.fixSchemas(result, resourceType: resourceType)
    }

    private func isAlwaysReturned(_ key: String, _ resourceType: ResourceType) -> Bool {
        resourceType.resolveTopLevel(key: key)?.definition.returned == .always
    }

    /// The parts of `value` named by the remaining steps of the included paths; an empty step list keeps all.
    private static func keep(_ value: JSON, paths: [[ResolvedPath.Step]]) -> JSON? {
        if paths.contains(where: \.isEmpty) { return value }
        switch value {
        case .array(let elements):
            let kept = elements.compactMap { keep($0, paths: paths) }
            return kept.isEmpty ? nil : .array(kept)
        case .object(let object):
            var result = JSONObject()
            for member in object {
                let matching = paths.filter { $0[0].key.caseInsensitiveEquals(member.key) }.map { Array($0.dropFirst()) }
                guard !matching.isEmpty, let kept = keep(member.value, paths: matching) else { continue }
                result[member.key] = kept
            }
            return result.isEmpty ? nil : .object(result)
        default:
            return nil
        }
    }

    private static func remove(_ keys: ArraySlice<String>, from object: JSONObject) -> JSONObject {
        guard let first = keys.first else { return object }
        var result = object
        if keys.count == 1 {
            result.removeValue(named: first)
            return result
        }
        guard let member = object.member(named: first) else { return object }
        switch member.value {
        case .object(let child):
            let updated = remove(keys.dropFirst(), from: child)
            result.setValue(.object(updated), named: member.key)
            if updated.isEmpty { result.removeValue(named: member.key) }
        case .array(let elements):
            let updated = elements.map { element -> JSON in
                guard case .object(let child) = element else { return element }
                return .object(remove(keys.dropFirst(), from: child))
            }
            result.setValue(.array(updated), named: member.key)
        default:
            break
        }
        return result
    }

    /// `schemas` lists the extensions whose attributes are still in the response.
    private static func fixSchemas(_ object: JSONObject, resourceType: ResourceType) -> JSONObject {
        guard object["schemas"] != nil else { return object }
        var result = object
        var schemas: [JSON] = [.string(resourceType.schema.id)]
        for extensionSchema in resourceType.extensions where object[extensionSchema.id] != nil {
            schemas.append(.string(extensionSchema.id))
        }
        result["schemas"] = .array(schemas)
        return result
    }
}
