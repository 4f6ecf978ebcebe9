/// The `path` of a PATCH operation (RFC 7644 §3.5.2, Figure 1 PATH rule):
/// `attrPath`, or `attrPath[valFilter]` optionally followed by `.subAttr`.
public struct PatchPath: Sendable, Equatable, CustomStringConvertible {
    public var attribute: AttributePath
    public var valueFilter: Filter?
    /// The sub-attribute after a value filter, as in `emails[type eq "work"].value`.
    public var subAttribute: String?

    public var description: String {
        var text = attribute.description
        if valueFilter != nil { text += "[…]" }
        if let subAttribute { text += "." + subAttribute }
        return text
    }

    /// Parses a path; a malformed one is a 400 `invalidPath`.
    public static func parse(_ text: String) throws(SCIMError) -> PatchPath {
        let trimmed = String(text.trimmingWhitespace)
        guard let open = trimmed.firstIndex(of: "[") else {
            guard let attribute = AttributePath.parse(trimmed) else {
                throw SCIMError.invalidPath("'\(text)' is not a valid attribute path")
            }
            return PatchPath(attribute: attribute, valueFilter: nil, subAttribute: nil)
        }
        guard let close = trimmed.lastIndex(of: "]"), close > open else {
            throw SCIMError.invalidPath("'\(text)' has a '[' without a matching ']'")
        }
        guard let attribute = AttributePath.parse(String(trimmed[..<open])), attribute.subAttribute == nil else {
            throw SCIMError.invalidPath("'\(text)' does not start with an attribute name before '['")
        }
        let filterText = String(trimmed[trimmed.index(after: open)..<close])
        let filter: Filter
        do {
            filter = try FilterParser.parse(filterText)
        } catch {
            throw SCIMError.invalidPath("The value filter of '\(text)' is invalid: \(error.description)")
        }
        let rest = trimmed[trimmed.index(after: close)...]
        var subAttribute: String?
        if !rest.isEmpty {
            guard rest.first == ".", AttributePath.isAttributeName(rest.dropFirst()) else {
                throw SCIMError.invalidPath("'\(text)' has unexpected text after ']'")
            }
            subAttribute = String(rest.dropFirst())
        }
        return PatchPath(attribute: attribute, valueFilter: filter, subAttribute: subAttribute)
    }
}
