/// Orders resources by an attribute (RFC 7644 §3.4.2.3). A multi-valued attribute sorts by its
/// primary value, or its first. Resources without a value sort last ascending and first descending.
public struct ResourceSorter: Sendable {
    let path: ResolvedPath
    let order: ListQuery.SortOrder

    /// Resolves `sortBy` against `resourceType`.
    public init(sortBy: String, order: ListQuery.SortOrder, for resourceType: ResourceType) throws(SCIMError) {
        guard let parsed = AttributePath.parse(sortBy), let resolved = resourceType.resolve(parsed), let comparable = resolved.comparable() else {
            throw SCIMError.invalidValue("Cannot sort \(resourceType.name) by '\(sortBy)': not a sortable attribute")
        }
        self.path = comparable
        self.order = order
    }

    /// Whether sorting reads the top-level attribute `key` (e.g. `groups`).
    public func references(topLevelKey key: String) -> Bool {
        path.steps[0].key == key
    }

    /// Whether `resourceType` has the attribute, for searches across resource types.
    public static func canSort(_ sortBy: String, for resourceType: ResourceType) -> Bool {
        guard let parsed = AttributePath.parse(sortBy) else { return false }
        return resourceType.resolve(parsed) != nil
    }

    /// The value a resource sorts by.
    public func key(for representation: JSONObject) -> JSON? {
        guard path.steps.count >= 2, path.steps[path.steps.count - 2].definition.multiValued else {
            return path.values(in: representation).first
        }
        // Prefer the primary element of a multi-valued complex attribute.
        let parent = ResolvedPath(steps: Array(path.steps.dropLast()))
        let elements = parent.values(in: representation)
        let primary = elements.first { $0.objectValue?["primary"] == .bool(true) } ?? elements.first
        guard case .object(let element)? = primary else { return nil }
        return element.value(named: path.steps[path.steps.count - 1].key)
    }

    /// Whether the resource with key `lhs` comes before the one with key `rhs`.
    public func precedes(_ lhs: JSON?, _ rhs: JSON?) -> Bool {
        switch (lhs, rhs) {
        case (nil, nil): return false
        case (nil, _): return order == .descending
        case (_, nil): return order == .ascending
        case (let left?, let right?):
            let ascending = Self.ascending(left, right, caseExact: path.definition.caseExact, isDate: path.definition.type == .dateTime)
            if order == .ascending { return ascending }
            return Self.ascending(right, left, caseExact: path.definition.caseExact, isDate: path.definition.type == .dateTime)
        }
    }

    private static func ascending(_ lhs: JSON, _ rhs: JSON, caseExact: Bool, isDate: Bool) -> Bool {
        switch (lhs, rhs) {
        case (.string(let left), .string(let right)):
            if isDate, let leftDate = SCIMDateTime.parse(left), let rightDate = SCIMDateTime.parse(right) {
                return leftDate < rightDate
            }
            return caseExact ? left < right : left.lowercased() < right.lowercased()
        case (.bool(let left), .bool(let right)):
            return !left && right
        default:
            if let left = lhs.doubleValue, let right = rhs.doubleValue { return left < right }
            return false
        }
    }
}
