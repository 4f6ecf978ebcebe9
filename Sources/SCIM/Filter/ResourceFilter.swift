/// A filter checked against a resource type and ready to evaluate: every path resolved, every operand
/// typed and case-folded once, so that scanning many resources does no parsing.
public struct ResourceFilter: Sendable {
    indirect enum Node: Sendable {
        case compare(ResolvedPath, Filter.ComparisonOperator, Operand)
        case present(ResolvedPath)
        case and(Node, Node)
        case or(Node, Node)
        case not(Node)
        case valuePath(ResolvedPath, Node)
    }

    enum Operand: Sendable {
        case string(String, caseExact: Bool)
        case number(Double)
        case bool(Bool)
        case dateTime(SCIMDateTime.Milliseconds)
        case null
    }

    let root: Node

    /// Checks `filter` against `resourceType`: unknown attributes, operators that do not apply to an
    /// attribute's type (`gt` on a boolean) and values of the wrong type are errors with their position.
    public init(_ filter: Filter, for resourceType: ResourceType) throws(FilterError) {
        root = try Self.build(filter, scope: .resource(resourceType))
    }

    /// Parses and checks `text`.
    public init(parsing text: String, for resourceType: ResourceType) throws(FilterError) {
        try self.init(FilterParser.parse(text), for: resourceType)
    }

    /// Whether `resource` (its full JSON representation) matches.
    public func matches(_ resource: JSONObject) -> Bool {
        Self.evaluate(root, on: resource)
    }

    /// Whether the filter reads the top-level attribute `key` (e.g. `groups`), so a store knows whether it
    /// must load derived attributes before evaluating.
    public func references(topLevelKey key: String) -> Bool {
        func visit(_ node: Node) -> Bool {
            switch node {
            case .and(let left, let right), .or(let left, let right): visit(left) || visit(right)
            case .not(let inner): visit(inner)
            case .present(let path), .compare(let path, _, _), .valuePath(let path, _): path.steps[0].key == key
            }
        }
        return visit(root)
    }

    /// The `attribute eq "value"` terms that every match must satisfy (the top-level `and` chain), keyed by
    /// canonical path such as `userName` or `members.value`, so a store can answer them from an index.
    /// A value is as the filter compares it: lowercased (`String.lowercased()`) when the attribute is not
    /// caseExact, so a store that keeps the lowercased value finds the matches by comparing bytes.
    public var requiredEqualities: [(path: String, value: String)] {
        var terms: [(String, String)] = []
        func collect(_ node: Node) {
            if case .and(let left, let right) = node {
                collect(left)
                collect(right)
            } else if let term = Self.equality(node) {
                terms.append(term)
            }
        }
        collect(root)
        return terms
    }

    /// Whether the whole filter is one `attribute eq "value"` term (the only one `requiredEqualities`
    /// lists): a resource whose stored value equals that value, byte for byte, matches without evaluating.
    public var isSingleEquality: Bool {
        Self.equality(root) != nil
    }

    private static func equality(_ node: Node) -> (path: String, value: String)? {
        switch node {
        case .compare(let path, .eq, .string(let value, _)):
            (path.description, value)
        case .valuePath(let outer, .compare(let inner, .eq, .string(let value, _))) where inner.steps.count == 1:
            (outer.description + "." + inner.steps[0].key, value)
        default:
            nil
        }
    }

    // MARK: Building

    private enum Scope {
        case resource(ResourceType)
        case complex(ResolvedPath)
    }

    private static func build(_ filter: Filter, scope: Scope) throws(FilterError) -> Node {
        switch filter {
        case .and(let left, let right):
            return .and(try build(left, scope: scope), try build(right, scope: scope))
        case .or(let left, let right):
            return .or(try build(left, scope: scope), try build(right, scope: scope))
        case .not(let inner):
            return .not(try build(inner, scope: scope))
        case .present(let path, let position):
            return .present(try resolve(path, scope: scope, position: position))
        case .valuePath(let path, let inner, let position):
            let outer = try resolve(path, scope: scope, position: position)
            guard outer.definition.type == .complex, path.subAttribute == nil else {
                throw FilterError("'\(path)' is not a complex attribute and cannot take a value filter", position: position)
            }
            return .valuePath(outer, try build(inner, scope: .complex(outer)))
        case .comparison(let path, let comparison, let value, let position):
            let resolved = try resolve(path, scope: scope, position: position)
            guard let target = resolved.comparable() else {
                throw FilterError("'\(path)' is a complex attribute; compare one of its sub-attributes", position: position)
            }
            let operand = try typedOperand(value, for: target.definition, comparison: comparison, path: path, position: position)
            return .compare(target, comparison, operand)
        }
    }

    private static func resolve(_ path: AttributePath, scope: Scope, position: Int) throws(FilterError) -> ResolvedPath {
        switch scope {
        case .resource(let resourceType):
            guard let resolved = resourceType.resolve(path) else {
                throw FilterError("Unknown attribute '\(path)' for \(resourceType.name)", position: position)
            }
            if resolved.steps.count == 1, resolved.steps[0].key.contains(":") {
                throw FilterError("'\(path)' names a whole schema extension; filter on one of its attributes", position: position)
            }
            return resolved
        case .complex(let outer):
            guard path.schema == nil, path.subAttribute == nil, let sub = outer.definition.subAttribute(named: path.attribute) else {
                throw FilterError("Unknown sub-attribute '\(path)' of '\(outer)'", position: position)
            }
            return ResolvedPath(steps: [.init(key: sub.name, definition: sub)])
        }
    }

    private static func typedOperand(
        _ value: JSON, for definition: AttributeDefinition, comparison: Filter.ComparisonOperator, path: AttributePath, position: Int
    ) throws(FilterError) -> Operand {
        let isOrdering = [.gt, .ge, .lt, .le].contains(comparison)
        let isSubstring = [.co, .sw, .ew].contains(comparison)
        if value == .null {
            guard comparison == .eq || comparison == .ne else {
                throw FilterError("'\(comparison.rawValue)' cannot compare with null", position: position)
            }
            return .null
        }
        switch definition.type {
        case .boolean:
            guard case .bool(let bool) = value else {
                throw FilterError("'\(path)' is a boolean; compare it with true or false", position: position)
            }
            guard !isOrdering, !isSubstring else {
                throw FilterError("'\(comparison.rawValue)' does not apply to the boolean '\(path)'", position: position)
            }
            return .bool(bool)
        case .integer, .decimal:
            guard let number = value.doubleValue else {
                throw FilterError("'\(path)' is a number; compare it with a number", position: position)
            }
            guard !isSubstring else {
                throw FilterError("'\(comparison.rawValue)' does not apply to the number '\(path)'", position: position)
            }
            return .number(number)
        case .dateTime:
            guard case .string(let text) = value else {
                throw FilterError("'\(path)' is a dateTime; compare it with a quoted date such as \"2026-01-31T00:00:00Z\"", position: position)
            }
            if isSubstring { return .string(text, caseExact: true) }
            guard let milliseconds = SCIMDateTime.parse(text) else {
                throw FilterError("'\(text)' is not a valid dateTime", position: position)
            }
            return .dateTime(milliseconds)
        case .binary:
            guard case .string(let text) = value else {
                throw FilterError("'\(path)' is binary; compare it with a quoted base64 string", position: position)
            }
            guard !isOrdering else {
                throw FilterError("'\(comparison.rawValue)' does not apply to the binary '\(path)'", position: position)
            }
            return .string(text, caseExact: true)
        case .string, .reference:
            guard case .string(let text) = value else {
                throw FilterError("'\(path)' is a string; compare it with a quoted string", position: position)
            }
            return .string(definition.caseExact ? text : text.lowercased(), caseExact: definition.caseExact)
        case .complex:
            throw FilterError("'\(path)' is a complex attribute; compare one of its sub-attributes", position: position)
        }
    }

    // MARK: Evaluation

    private static func evaluate(_ node: Node, on object: JSONObject) -> Bool {
        switch node {
        case .and(let left, let right):
            return evaluate(left, on: object) && evaluate(right, on: object)
        case .or(let left, let right):
            return evaluate(left, on: object) || evaluate(right, on: object)
        case .not(let inner):
            return !evaluate(inner, on: object)
        case .present(let path):
            return path.values(in: object).contains(where: isPresent)
        case .valuePath(let outer, let inner):
            return outer.values(in: object).contains { element in
                guard case .object(let elementObject) = element else { return false }
                return evaluate(inner, on: elementObject)
            }
        case .compare(let path, let comparison, let operand):
            let values = path.values(in: object)
            if case .null = operand {
                let present = values.contains(where: isPresent)
                return comparison == .eq ? !present : present
            }
            if comparison == .ne {
                return !values.contains { compare($0, .eq, operand) }
            }
            return values.contains { compare($0, comparison, operand) }
        }
    }

    private static func isPresent(_ value: JSON) -> Bool {
        switch value {
        case .null: false
        case .string(let string): !string.isEmpty
        case .array(let elements): !elements.isEmpty
        case .object(let object): object.members.contains { isPresent($0.value) }
        default: true
        }
    }

    private static func compare(_ value: JSON, _ comparison: Filter.ComparisonOperator, _ operand: Operand) -> Bool {
        switch operand {
        case .null:
            return false
        case .bool(let expected):
            guard case .bool(let actual) = value else { return false }
            return actual == expected
        case .number(let expected):
            guard let actual = value.doubleValue else { return false }
            return order(actual, expected, comparison)
        case .dateTime(let expected):
            guard case .string(let text) = value, let actual = SCIMDateTime.parse(text) else { return false }
            return order(actual, expected, comparison)
        case .string(let expected, let caseExact):
            guard case .string(let raw) = value else { return false }
            let actual = caseExact ? raw : raw.lowercased()
            switch comparison {
            case .co: return actual.contains(expected)
            case .sw: return actual.hasPrefix(expected)
            case .ew: return actual.hasSuffix(expected)
            default: return order(actual, expected, comparison)
            }
        }
    }

    private static func order<T: Comparable>(_ actual: T, _ expected: T, _ comparison: Filter.ComparisonOperator) -> Bool {
        switch comparison {
        case .eq: actual == expected
        case .ne: actual != expected
        case .gt: actual > expected
        case .ge: actual >= expected
        case .lt: actual < expected
        case .le: actual <= expected
        case .co, .sw, .ew: false
        }
    }
}
