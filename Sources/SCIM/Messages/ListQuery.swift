/// The parameters of a list or search request (RFC 7644 §3.4.2, §3.4.3), from a query string or a
/// `SearchRequest` body: filter, sorting, pagination and attribute selection.
public struct ListQuery: Sendable, Equatable {
    public enum SortOrder: String, Sendable {
        case ascending, descending
    }

    public var filter: String?
    public var sortBy: String?
    public var sortOrder: SortOrder
    /// 1-based index of the first result.
    public var startIndex: Int
    /// Results per page; nil asks for the server's default.
    public var count: Int?
    public var attributes: [String]
    public var excludedAttributes: [String]

    public init(
        filter: String? = nil, sortBy: String? = nil, sortOrder: SortOrder = .ascending, startIndex: Int = 1, count: Int? = nil,
        attributes: [String] = [], excludedAttributes: [String] = []
    ) {
        self.filter = filter
        self.sortBy = sortBy
        self.sortOrder = sortOrder
        self.startIndex = startIndex
        self.count = count
        self.attributes = attributes
        self.excludedAttributes = excludedAttributes
    }

    /// Reads the query parameters of a GET. Parameter names are case-sensitive in RFC 7644, but
    /// clients vary, so they are matched ignoring case; unknown parameters are ignored.
    public init(queryParameters: [(String, String)]) throws(SCIMError) {
        self.init()
        for (name, value) in queryParameters {
            switch name.lowercased() {
            case "filter": filter = value
            case "sortby": sortBy = value.isEmpty ? nil : value
            case "sortorder": sortOrder = try Self.sortOrder(value)
            case "startindex": startIndex = max(1, try Self.integer(value, name: "startIndex"))
            case "count": count = max(0, try Self.integer(value, name: "count"))
            case "attributes": attributes = AttributeSelection.names(value)
            case "excludedattributes": excludedAttributes = AttributeSelection.names(value)
            default: continue
            }
        }
    }

    /// Reads a `SearchRequest` body (POST `.search`).
    public init(searchRequest body: JSON) throws(SCIMError) {
        self.init()
        guard case .object(let object) = body else {
            throw SCIMError.invalidSyntax("A search request must be a JSON object")
        }
        for member in object {
            switch (member.key.lowercased(), member.value) {
            case ("schemas", _): continue
            case (_, .null): continue
            case ("filter", .string(let value)): filter = value
            case ("sortby", .string(let value)): sortBy = value.isEmpty ? nil : value
            case ("sortorder", .string(let value)): sortOrder = try Self.sortOrder(value)
            case ("startindex", .integer(let value)): startIndex = max(1, value)
            case ("count", .integer(let value)): count = max(0, value)
            case ("attributes", let value): attributes = try Self.names(value, name: "attributes")
            case ("excludedattributes", let value): excludedAttributes = try Self.names(value, name: "excludedAttributes")
            case ("filter", _), ("sortby", _), ("sortorder", _), ("startindex", _), ("count", _):
                throw SCIMError.invalidValue("'\(member.key)' has the wrong type (\(member.value.typeName))")
            default:
                throw SCIMError.invalidSyntax("Unknown search request attribute '\(member.key)'")
            }
        }
    }

    private static func sortOrder(_ value: String) throws(SCIMError) -> SortOrder {
        guard let order = SortOrder(rawValue: value.lowercased()) else {
            throw SCIMError.invalidValue("sortOrder must be 'ascending' or 'descending', not '\(value)'")
        }
        return order
    }

    private static func integer(_ value: String, name: String) throws(SCIMError) -> Int {
        guard let integer = Int(value.trimmingWhitespace) else {
            throw SCIMError.invalidValue("\(name) must be an integer, not '\(value)'")
        }
        return integer
    }

    private static func names(_ value: JSON, name: String) throws(SCIMError) -> [String] {
        switch value {
        case .string(let text): return AttributeSelection.names(text)
        case .array(let elements):
            var names: [String] = []
            for element in elements {
                guard case .string(let text) = element else {
                    throw SCIMError.invalidValue("'\(name)' must list attribute names as strings")
                }
                names.append(contentsOf: AttributeSelection.names(text))
            }
            return names
        default:
            throw SCIMError.invalidValue("'\(name)' must be an array of attribute names")
        }
    }
}

/// A `ListResponse` message (RFC 7644 §3.4.2).
public enum ListResponse {
    public static func json(resources: [JSON], totalResults: Int, startIndex: Int) -> JSON {
        [
            "schemas": [.string(SCIMURN.listResponse)],
            "totalResults": .integer(totalResults),
            "startIndex": .integer(startIndex),
            "itemsPerPage": .integer(resources.count),
            "Resources": .array(resources),
        ]
    }
}
