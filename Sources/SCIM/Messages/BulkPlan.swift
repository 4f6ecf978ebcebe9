/// `bulkId:` references (RFC 7644 §3.7.2): an operation names a resource that a POST of the same
/// request creates by writing `bulkId:` and that POST's `bulkId` where the resource's id would go.
///
/// A reference is a whole string value of the data (`"value": "bulkId:u1"` in a group's members, a
/// manager), a quoted value inside a string (`members[value eq "bulkId:u1"]` as a PATCH path), or a
/// segment of the operation's path (`/Users/bulkId:u1`).
public enum BulkReference {
    public static let prefix = "bulkId:"

    /// The bulkIds `operation` references, each once, in the order they appear.
    public static func references(of operation: BulkOperation) -> [String] {
        var found: [String] = []
        let collect = { (bulkId: String) throws(SCIMError) -> String in
            if !found.contains(bulkId) { found.append(bulkId) }
            return bulkId
        }
        _ = try? resolving(operation, collect)
        return found
    }

    /// `operation` with every reference replaced by what `resolve` answers for its bulkId; `resolve`
    /// throws for a bulkId that cannot be resolved, and that error is the operation's.
    public static func resolving(
        _ operation: BulkOperation, _ resolve: (String) throws(SCIMError) -> String
    ) throws(SCIMError) -> BulkOperation {
        var resolved = operation
        if operation.path.contains(prefix) {
            var segments: [String] = []
            for segment in operation.path.split(separator: "/", omittingEmptySubsequences: false) {
                segments.append(segment.hasPrefix(prefix) ? try resolve(String(segment.dropFirst(prefix.count))) : String(segment))
            }
            resolved.path = segments.joined(separator: "/")
        }
        if let data = operation.data {
            resolved.data = try rewrite(data, resolve)
        }
        return resolved
    }

    private static func rewrite(_ json: JSON, _ resolve: (String) throws(SCIMError) -> String) throws(SCIMError) -> JSON {
        switch json {
        case .string(let text):
            if text.hasPrefix(prefix) {
                return .string(try resolve(String(text.dropFirst(prefix.count))))
            }
            if text.contains("\"" + prefix) {
                return .string(try rewriteQuoted(text, resolve))
            }
            return json
        case .array(let elements):
            var result: [JSON] = []
            result.reserveCapacity(elements.count)
            for element in elements { result.append(try rewrite(element, resolve)) }
            return .array(result)
        case .object(let object):
            var members: [JSONObject.Member] = []
            members.reserveCapacity(object.count)
            for member in object {
                members.append(JSONObject.Member(key: member.key, value: try rewrite(member.value, resolve)))
            }
            return .object(JSONObject(members))
        default:
            return json
        }
    }

    /// Replaces each `"bulkId:X"` inside `text` (as in a value filter) with `"<id>"`.
    private static func rewriteQuoted(_ text: String, _ resolve: (String) throws(SCIMError) -> String) throws(SCIMError) -> String {
        let marker = "\"" + prefix
        var result = ""
        var rest = Substring(text)
        while let start = rest.firstRange(of: marker) {
            let idStart = start.upperBound
            guard let end = rest[idStart...].firstIndex(of: "\"") else { break }
            result += rest[..<start.lowerBound]
            result += "\"" + (try resolve(String(rest[idStart..<end]))) + "\""
            rest = rest[rest.index(after: end)...]
        }
        return result + rest
    }
}

/// The order in which the operations of a bulk request run (RFC 7644 §3.7.2): the order of the
/// request, except that a POST runs before the first operation that references its bulkId, so a
/// reference may point forward. References that go round in a circle leave one operation of the circle
/// before the POST it needs; that operation then fails with 409 (RFC 7644 §3.7.1 allows it).
public struct BulkPlan: Sendable {
    /// The operation (by index) whose POST declares each bulkId: the first one that does.
    public let creations: [String: Int]
    /// The indices of the operations in the order they run.
    public let order: [Int]
    /// The bulkIds each operation references.
    public let references: [[String]]

    public init(_ operations: [BulkOperation]) {
        var creations: [String: Int] = [:]
        for (index, operation) in operations.enumerated() where operation.method == .post && operation.error == nil {
            if let bulkId = operation.bulkId, creations[bulkId] == nil { creations[bulkId] = index }
        }
        let references = operations.map { BulkReference.references(of: $0) }
        // Reversed, so that popping from the end takes them in the order they appear.
        func dependencies(_ index: Int) -> [Int] {
            references[index].compactMap { creations[$0] }.filter { $0 != index }.reversed()
        }
        // Depth-first, without recursion so that a long chain of references cannot exhaust the stack.
        var order: [Int] = []
        order.reserveCapacity(operations.count)
        var done = [Bool](repeating: false, count: operations.count)
        var onPath = [Bool](repeating: false, count: operations.count)
        for root in operations.indices where !done[root] {
            var stack: [(index: Int, pending: [Int])] = [(root, dependencies(root))]
            onPath[root] = true
            while !stack.isEmpty {
                if let next = stack[stack.count - 1].pending.popLast() {
                    if !done[next] && !onPath[next] {
                        onPath[next] = true
                        stack.append((next, dependencies(next)))
                    }
                } else {
                    let finished = stack.removeLast().index
                    onPath[finished] = false
                    done[finished] = true
                    order.append(finished)
                }
            }
        }
        self.creations = creations
        self.order = order
        self.references = references
    }
}
