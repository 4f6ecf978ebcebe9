/// Checks one attribute value a client sent against its definition and brings it to canonical form:
/// canonical key spelling, sub-attributes in schema order, read-only parts dropped, types checked.
///
/// Lenient only where real identity providers need it: booleans sent as the strings "True"/"False"
/// (Microsoft Entra ID), and a complex attribute with a `value` sub-attribute sent as a bare string
/// (Entra's enterprise `manager`).
struct AttributeValueNormalizer {
    /// Sub-attributes that clients send but that are derived, so they are accepted and dropped:
    /// Okta sends `display` with group members, and RFC 7643 has a read-only `manager.displayName`.
    static let derivedSubAttributes: [String: Set<String>] = [
        "members": ["display", "$ref"],
        "manager": ["displayName"],
    ]

    /// Normalizes `value` for `definition`; nil means the attribute is unassigned.
    static func normalize(_ value: JSON, for definition: AttributeDefinition, path: String) throws(SCIMError) -> JSON? {
        if value == .null { return nil }
        guard definition.multiValued else {
            return try normalizeSingle(value, for: definition, path: path)
        }
        let elements: [JSON]
        switch value {
        case .array(let array): elements = array
        case .object where definition.type == .complex: elements = [value]
        default:
            throw SCIMError.invalidValue("Attribute '\(path)' is multi-valued and expects an array, not \(value.typeName)")
        }
        var normalized: [JSON] = []
        for element in elements {
            guard let single = try normalizeSingle(element, for: definition, path: path) else { continue }
            if !normalized.contains(single) { normalized.append(single) }
        }
        return normalized.isEmpty ? nil : .array(normalized)
    }

    /// Normalizes one value of a (possibly multi-valued) attribute.
    static func normalizeSingle(_ value: JSON, for definition: AttributeDefinition, path: String) throws(SCIMError) -> JSON? {
        switch (definition.type, value) {
        case (_, .null):
            return nil
        case (.complex, .object(let object)):
            return try normalizeComplex(object, for: definition, path: path)
        case (.complex, .string(let string)) where !definition.multiValued && definition.subAttribute(named: "value") != nil:
            return string.isEmpty ? nil : .object(["value": .string(string)])
        case (.string, .string), (.reference, .string):
            return value
        case (.boolean, .bool):
            return value
        case (.boolean, .string(let string)):
            switch string.lowercased() {
            case "true": return .bool(true)
            case "false": return .bool(false)
            default: throw SCIMError.invalidValue("Attribute '\(path)' is a boolean; '\(string)' is neither true nor false")
            }
        case (.integer, .integer):
            return value
        case (.decimal, .integer(let integer)):
            return .decimal(Double(integer))
        case (.decimal, .decimal):
            return value
        case (.dateTime, .string(let string)):
            guard SCIMDateTime.parse(string) != nil else {
                throw SCIMError.invalidValue("Attribute '\(path)' is a dateTime; '\(string)' is not one (expected e.g. 2026-01-31T00:00:00Z)")
            }
            return value
        case (.binary, .string(let string)):
            guard isBase64(string) else {
                throw SCIMError.invalidValue("Attribute '\(path)' is binary and expects base64 text")
            }
            return value
        default:
            throw SCIMError.invalidValue("Attribute '\(path)' expects \(expectedTypeName(definition)), not \(value.typeName)")
        }
    }

    private static func normalizeComplex(_ object: JSONObject, for definition: AttributeDefinition, path: String) throws(SCIMError) -> JSON? {
        var byDefinition: [String: JSON] = [:]
        let derived = derivedSubAttributes[definition.name] ?? []
        for member in object {
            guard let sub = definition.subAttribute(named: member.key) else {
                if derived.contains(where: { $0.caseInsensitiveEquals(member.key) }) { continue }
                // An extension object may repeat its own `schemas`, as scim2-models writes it.
                if definition.name.contains(":"), member.key.caseInsensitiveEquals("schemas") { continue }
                throw SCIMError.invalidSyntax("Unknown sub-attribute '\(member.key)' of '\(path)'")
            }
            guard sub.mutability != .readOnly else { continue }
            if let normalized = try normalizeSingle(member.value, for: sub, path: path + "." + sub.name) {
                byDefinition[sub.name] = normalized
            }
        }
        var result = JSONObject()
        for sub in definition.subAttributes {
            if let value = byDefinition[sub.name] { result[sub.name] = value }
        }
        if definition.name == "members" {
            return try normalizeMember(result, path: path)
        }
        return result.isEmpty ? nil : .object(result)
    }

    /// A group member needs its `value`; its `type` is written `User` or `Group` whatever the case sent.
    private static func normalizeMember(_ member: JSONObject, path: String) throws(SCIMError) -> JSON {
        guard case .string(let value)? = member["value"], !value.isEmpty else {
            throw SCIMError.invalidValue("Each of '\(path)' needs a 'value' with the member's id")
        }
        var result: JSONObject = ["value": .string(value)]
        if case .string(let type)? = member["type"] {
            if type.caseInsensitiveEquals("User") {
                result["type"] = "User"
            } else if type.caseInsensitiveEquals("Group") {
                result["type"] = "Group"
            } else {
                throw SCIMError.invalidValue("Member type '\(type)' is neither 'User' nor 'Group'")
            }
        }
        return .object(result)
    }

    private static func expectedTypeName(_ definition: AttributeDefinition) -> String {
        switch definition.type {
        case .string, .reference, .binary, .dateTime: "a string"
        case .boolean: "a boolean"
        case .integer: "an integer"
        case .decimal: "a number"
        case .complex: "an object"
        }
    }

    private static func isBase64(_ string: String) -> Bool {
        var count = 0
        var padding = 0
        for byte in string.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "+"), UInt8(ascii: "/"), UInt8(ascii: "-"), UInt8(ascii: "_"):
                guard padding == 0 else { return false }
                count += 1
            case UInt8(ascii: "="):
                padding += 1
                count += 1
            case UInt8(ascii: "\n"), UInt8(ascii: "\r"):
                continue
            default:
                return false
            }
        }
        return padding <= 2 && (padding == 0 || count % 4 == 0)
    }
}
