extension SCIMURN {
    public static let bulkRequest = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
    public static let bulkResponse = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
}

/// A `BulkRequest` message (RFC 7644 §3.7): operations on users and groups, run one after the other.
///
/// A malformed request as a whole (not an object, no `Operations` array, more operations than
/// allowed) fails parsing. A malformed operation does not: it is kept with its `error`, which becomes
/// that operation's result, and the other operations still run.
public struct BulkRequest: Sendable {
    /// How many failed operations end the request (RFC 7644 §3.7.3); nil runs them all.
    public var failOnErrors: Int?
    public var operations: [BulkOperation]

    public init(failOnErrors: Int? = nil, operations: [BulkOperation]) {
        self.failOnErrors = failOnErrors
        self.operations = operations
    }

    /// Reads a BulkRequest body. More than `maxOperations` operations is a 413, as RFC 7644 §3.7.4 asks
    /// for both of its limits.
    public init(parsing body: JSON, maxOperations: Int) throws(SCIMError) {
        guard case .object(let object) = body else {
            throw SCIMError.invalidSyntax("A bulk request must be a JSON object with 'schemas' and 'Operations'")
        }
        // A missing `schemas` is tolerated, as in PATCH; a wrong one is not.
        if let schemas = object.value(named: "schemas") {
            guard case .array(let uris) = schemas,
                uris.contains(where: { $0.stringValue?.caseInsensitiveEquals(SCIMURN.bulkRequest) == true })
            else {
                throw SCIMError.invalidSyntax("A bulk request's 'schemas' must contain \(SCIMURN.bulkRequest)")
            }
        }
        switch object.value(named: "failOnErrors") {
        case nil, .null?:
            failOnErrors = nil
        case .integer(let count)? where count >= 1:
            failOnErrors = count
        case let value?:
            throw SCIMError.invalidValue("'failOnErrors' must be a positive integer, not \(value.jsonText)")
        }
        guard case .array(let elements)? = object.value(named: "Operations") else {
            throw SCIMError.invalidSyntax("A bulk request needs an 'Operations' array")
        }
        guard elements.count <= maxOperations else {
            throw SCIMError(
                status: 413,
                detail: "The bulk request has \(elements.count) operations; the maximum is \(maxOperations) (maxOperations)")
        }
        operations = elements.enumerated().map { BulkOperation(parsing: $0.element, number: $0.offset + 1) }
    }
}

/// One operation of a bulk request: an HTTP method, a path below the service root, and for POST, PUT
/// and PATCH the body the single request would carry.
public struct BulkOperation: Sendable {
    public enum Method: String, Sendable {
        case post = "POST"
        case put = "PUT"
        case patch = "PATCH"
        case delete = "DELETE"
    }

    /// The method as the client wrote it (echoed in the response), uppercased.
    public var methodName: String
    public var method: Method?
    /// The surrogate id a POST gives the resource it creates, for later `bulkId:` references.
    public var bulkId: String?
    /// The version (ETag) the resource must still have: the operation's If-Match.
    public var version: String?
    public var path: String
    public var data: JSON?
    /// Why the operation cannot run, when it is malformed; it is then this operation's result.
    public var error: SCIMError?

    public init(method: Method, path: String, bulkId: String? = nil, version: String? = nil, data: JSON? = nil) {
        self.methodName = method.rawValue
        self.method = method
        self.path = path
        self.bulkId = bulkId
        self.version = version
        self.data = data
    }

    init(parsing json: JSON, number: Int) {
        methodName = ""
        path = ""
        guard case .object(let object) = json else {
            error = .invalidSyntax("Operation \(number) must be a JSON object")
            return
        }
        var problems: [SCIMError] = []
        if case .string(let name)? = object.value(named: "method") {
            methodName = name.uppercased()
            method = Method(rawValue: methodName)
        }
        if method == nil {
            problems.append(.invalidSyntax("Operation \(number) needs 'method' to be POST, PUT, PATCH or DELETE"))
        }
        switch object.value(named: "bulkId") {
        case nil, .null?: break
        case .string(let id)? where !id.isEmpty: bulkId = id
        default: problems.append(.invalidValue("Operation \(number): 'bulkId' must be a non-empty string"))
        }
        switch object.value(named: "version") {
        case nil, .null?: break
        case .string(let text)?: version = text
        default: problems.append(.invalidValue("Operation \(number): 'version' must be a string"))
        }
        if case .string(let text)? = object.value(named: "path"), !text.trimmingWhitespace.isEmpty {
            path = String(text.trimmingWhitespace)
        } else {
            problems.append(.invalidSyntax("Operation \(number) needs a 'path' such as /Users or /Groups/{id}"))
        }
        switch object.value(named: "data") {
        case nil, .null?: data = nil
        case let value?: data = value
        }
        if data == nil, method != nil, method != .delete {
            problems.append(.invalidSyntax("Operation \(number): \(methodName) needs 'data'"))
        }
        error = problems.first
    }
}

/// Where an operation's path points: a resource type's endpoint, or one resource of it.
public struct BulkTarget: Sendable, Equatable {
    public var kind: ResourceType.Kind
    /// The resource's id; nil for the endpoint itself (POST).
    public var id: String?

    public init(kind: ResourceType.Kind, id: String?) {
        self.kind = kind
        self.id = id
    }

    /// Reads `/Users`, `/Groups/{id}` and the like (RFC 7644 §3.7: relative to the service root),
    /// and checks that `method` applies there: POST to an endpoint, the others to a resource. The
    /// errors are those the single request would get: 404 for an unknown endpoint, 405 for a method
    /// the path does not take.
    public init(path: String, method: BulkOperation.Method) throws(SCIMError) {
        var text = Substring(path)
        if let query = text.firstIndex(of: "?") { text = text[..<query] }
        let segments = text.split(separator: "/", omittingEmptySubsequences: true)
        guard let first = segments.first,
            let type = ResourceType.all.first(where: { String($0.endpoint.dropFirst()).caseInsensitiveEquals(String(first)) }),
            segments.count <= 2
        else {
            throw SCIMError.notFound("No SCIM endpoint at '\(path)'; a bulk operation acts on /Users, /Groups or one of their resources")
        }
        kind = type.kind
        id = segments.count == 2 ? String(segments[1]) : nil
        switch (method, id) {
        case (.post, nil), (.put, _?), (.patch, _?), (.delete, _?):
            return
        case (.post, _?):
            throw SCIMError(status: 405, detail: "POST is not allowed on \(path); POST to \(type.endpoint)")
        case (_, nil):
            throw SCIMError(status: 405, detail: "\(method.rawValue) is not allowed on \(path); it needs a resource, \(type.endpoint)/{id}")
        }
    }
}
