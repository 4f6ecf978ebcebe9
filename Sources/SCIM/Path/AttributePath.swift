/// An attribute reference as SCIM writes it (RFC 7644 §3.10): `[URN:]attribute[.subAttribute]`.
///
/// This is syntax only; `ResourceType.resolve(_:)` gives it meaning against a schema.
public struct AttributePath: Sendable, Hashable, CustomStringConvertible {
    /// The schema URN prefix, when the path is fully qualified.
    public var schema: String?
    public var attribute: String
    public var subAttribute: String?

    public init(schema: String? = nil, attribute: String, subAttribute: String? = nil) {
        self.schema = schema
        self.attribute = attribute
        self.subAttribute = subAttribute
    }

    public var description: String {
        var text = schema.map { $0 + ":" } ?? ""
        text += attribute
        if let subAttribute { text += "." + subAttribute }
        return text
    }

    /// Parses one path such as `name.givenName` or `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value`.
    ///
    /// The URN may itself contain dots (`2.0`), so the text is split at its last colon first.
    public static func parse(_ text: String) -> AttributePath? {
        guard !text.isEmpty, text.utf8.allSatisfy(isPathCharacter) else { return nil }
        var schema: String?
        var rest = Substring(text)
        if let colon = text.lastIndex(of: ":") {
            schema = String(text[..<colon])
            rest = text[text.index(after: colon)...]
            guard !(schema ?? "").isEmpty else { return nil }
        }
        let parts = rest.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count <= 2, parts.allSatisfy(isAttributeName) else { return nil }
        return AttributePath(schema: schema, attribute: String(parts[0]), subAttribute: parts.count == 2 ? String(parts[1]) : nil)
    }

    /// Whether `byte` may appear in a path token: letters, digits, `-`, `_`, `$`, `:` and `.`.
    static func isPathCharacter(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            true
        case UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "$"), UInt8(ascii: ":"), UInt8(ascii: "."):
            true
        default:
            false
        }
    }

    /// ATTRNAME of RFC 7643 §2.1 (`ALPHA *(nameChar)`), plus `$ref`.
    static func isAttributeName(_ name: Substring) -> Bool {
        guard let first = name.utf8.first else { return false }
        if name == "$ref" { return true }
        let isAlpha = (first >= UInt8(ascii: "a") && first <= UInt8(ascii: "z")) || (first >= UInt8(ascii: "A") && first <= UInt8(ascii: "Z"))
        return isAlpha && name.utf8.allSatisfy { isPathCharacter($0) && $0 != UInt8(ascii: ":") && $0 != UInt8(ascii: ".") && $0 != UInt8(ascii: "$") }
    }
}
