/// One operation of a `PatchOp` request (RFC 7644 §3.5.2).
public struct PatchOperation: Sendable, Equatable {
    public enum Kind: String, Sendable {
        case add, remove, replace
    }

    public var kind: Kind
    public var path: PatchPath?
    public var value: JSON?

    public init(kind: Kind, path: PatchPath? = nil, value: JSON? = nil) {
        self.kind = kind
        self.path = path
        self.value = value
    }

    /// The most operations one request may carry.
    public static let maximumCount = 1000

    /// Reads the operations of a PatchOp body. Operation names are matched ignoring case because
    /// Microsoft Entra ID sends `"Replace"`, `"Add"` and `"Remove"`.
    public static func parseRequest(_ body: JSON) throws(SCIMError) -> [PatchOperation] {
        guard case .object(let object) = body else {
            throw SCIMError.invalidSyntax("A PATCH body must be a JSON object with 'schemas' and 'Operations'")
        }
        if case .array(let schemas)? = object.value(named: "schemas"),
            !schemas.contains(where: { $0.stringValue?.caseInsensitiveEquals(SCIMURN.patchOp) == true })
        {
            throw SCIMError.invalidSyntax("A PATCH body's 'schemas' must contain \(SCIMURN.patchOp)")
        }
        guard case .array(let operations)? = object.value(named: "Operations") else {
            throw SCIMError.invalidSyntax("A PATCH body needs an 'Operations' array")
        }
        guard !operations.isEmpty else {
            throw SCIMError.invalidSyntax("'Operations' is empty")
        }
        guard operations.count <= maximumCount else {
            throw SCIMError.tooMany("At most \(maximumCount) operations per PATCH request")
        }
        var parsed: [PatchOperation] = []
        for (index, operation) in operations.enumerated() {
            parsed.append(try parseOperation(operation, number: index + 1))
        }
        return parsed
    }

    private static func parseOperation(_ json: JSON, number: Int) throws(SCIMError) -> PatchOperation {
        guard case .object(let object) = json else {
            throw SCIMError.invalidSyntax("Operation \(number) must be a JSON object")
        }
        guard case .string(let name)? = object.value(named: "op"), let kind = Kind(rawValue: name.lowercased()) else {
            throw SCIMError.invalidSyntax("Operation \(number) needs 'op' to be 'add', 'remove' or 'replace'")
        }
        var path: PatchPath?
        switch object.value(named: "path") {
        case .string(let text)? where !text.trimmingWhitespace.isEmpty:
            path = try PatchPath.parse(text)
        case nil, .null?, .string?:
            path = nil
        default:
            throw SCIMError.invalidPath("Operation \(number): 'path' must be a string")
        }
        let value = object.value(named: "value")
        if kind == .remove, path == nil {
            throw SCIMError.noTarget("Operation \(number): 'remove' needs a 'path'")
        }
        if kind != .remove, value == nil {
            throw SCIMError.invalidValue("Operation \(number): '\(kind.rawValue)' needs a 'value'")
        }
        return PatchOperation(kind: kind, path: path, value: value)
    }
}
