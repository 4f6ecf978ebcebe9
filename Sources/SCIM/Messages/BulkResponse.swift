/// The outcome of one bulk operation (RFC 7644 §3.7.3).
public struct BulkOperationResult: Sendable, Equatable {
    /// The method as the request named it.
    public var method: String
    public var bulkId: String?
    /// The resource's URL; RFC 7644 §3.7.3 asks for it on every operation but a failed POST.
    public var location: String?
    /// The resource's ETag after the operation.
    public var version: String?
    /// The HTTP status the single request would have answered.
    public var status: Int
    /// The body the single request would have answered: the SCIM error of a failed operation, nil
    /// otherwise (RFC 7644 §3.7: a server may omit it on success).
    public var response: JSON?

    public init(method: String, bulkId: String?, location: String?, version: String?, status: Int, response: JSON? = nil) {
        self.method = method
        self.bulkId = bulkId
        self.location = location
        self.version = version
        self.status = status
        self.response = response
    }

    /// A failed operation: its status, and the error body.
    public static func failure(_ operation: BulkOperation, location: String?, error: SCIMError) -> BulkOperationResult {
        BulkOperationResult(
            method: operation.methodName, bulkId: operation.bulkId, location: location, version: nil, status: error.status,
            response: error.json)
    }

    public var succeeded: Bool { (200..<300).contains(status) }

    /// The element of the response's `Operations`, with `status` as a string as in RFC 7644's examples.
    public var json: JSON {
        var object = JSONObject()
        if let location { object["location"] = .string(location) }
        object["method"] = .string(method)
        if let bulkId { object["bulkId"] = .string(bulkId) }
        if let version { object["version"] = .string(version) }
        object["status"] = .string(String(status))
        if let response { object["response"] = response }
        return .object(object)
    }
}

/// A `BulkResponse` message (RFC 7644 §3.7.3): the results of the operations that ran, in the order
/// of the request.
public enum BulkResponse {
    public static func json(_ results: [BulkOperationResult]) -> JSON {
        ["schemas": [.string(SCIMURN.bulkResponse)], "Operations": .array(results.map(\.json))]
    }
}
