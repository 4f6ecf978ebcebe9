/// A SCIM filter expression (RFC 7644 §3.4.2.2), as parsed: syntax only, with source positions.
public indirect enum Filter: Sendable, Equatable {
    /// `attrPath op value`.
    case comparison(AttributePath, ComparisonOperator, JSON, position: Int)
    /// `attrPath pr`.
    case present(AttributePath, position: Int)
    case and(Filter, Filter)
    case or(Filter, Filter)
    case not(Filter)
    /// `attrPath[valFilter]`: the inner filter's paths name sub-attributes of the attribute.
    case valuePath(AttributePath, Filter, position: Int)

    /// The comparison operators of RFC 7644 Table 3, except `pr`.
    public enum ComparisonOperator: String, Sendable, CaseIterable {
        case eq, ne, co, sw, ew, gt, ge, lt, le
    }
}

/// A filter that is not valid, with the 1-based character position where the problem is.
public struct FilterError: Error, Sendable, Equatable, CustomStringConvertible {
    public let message: String
    public let position: Int

    public init(_ message: String, position: Int) {
        self.message = message
        self.position = position
    }

    public var description: String { "\(message) at position \(position)" }

    /// The error as the HTTP answer carries it: 400 `invalidFilter`.
    public var scimError: SCIMError { .invalidFilter(description) }
}
