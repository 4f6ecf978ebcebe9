/// A SCIM error as RFC 7644 §3.12 describes it: an HTTP status, an optional `scimType` and a detail.
///
/// Pure data: the HTTP layer renders it with the `urn:ietf:params:scim:api:messages:2.0:Error` schema.
public struct SCIMError: Error, Sendable, Equatable, CustomStringConvertible {
    public let status: Int
    public let scimType: String?
    public let detail: String

    public init(status: Int, scimType: String? = nil, detail: String) {
        self.status = status
        self.scimType = scimType
        self.detail = detail
    }

    public var description: String {
        "\(status)\(scimType.map { " \($0)" } ?? ""): \(detail)"
    }

    /// The error body of RFC 7644 §3.12, with `status` as a string.
    public var json: JSON {
        var object: JSONObject = ["schemas": [.string(SCIMURN.error)]]
        if let scimType { object["scimType"] = .string(scimType) }
        object["detail"] = .string(detail)
        object["status"] = .string(String(status))
        return .object(object)
    }

    public static func invalidFilter(_ detail: String) -> SCIMError { SCIMError(status: 400, scimType: "invalidFilter", detail: detail) }
    public static func invalidSyntax(_ detail: String) -> SCIMError { SCIMError(status: 400, scimType: "invalidSyntax", detail: detail) }
    public static func invalidValue(_ detail: String) -> SCIMError { SCIMError(status: 400, scimType: "invalidValue", detail: detail) }
    public static func invalidPath(_ detail: String) -> SCIMError { SCIMError(status: 400, scimType: "invalidPath", detail: detail) }
    public static func noTarget(_ detail: String) -> SCIMError { SCIMError(status: 400, scimType: "noTarget", detail: detail) }
    public static func mutability(_ detail: String) -> SCIMError { SCIMError(status: 400, scimType: "mutability", detail: detail) }
    public static func uniqueness(_ detail: String) -> SCIMError { SCIMError(status: 409, scimType: "uniqueness", detail: detail) }
    public static func tooMany(_ detail: String) -> SCIMError { SCIMError(status: 400, scimType: "tooMany", detail: detail) }
    public static func notFound(_ detail: String) -> SCIMError { SCIMError(status: 404, detail: detail) }
    public static func badRequest(_ detail: String) -> SCIMError { SCIMError(status: 400, detail: detail) }
}
