/// One attribute of a SCIM schema with the characteristics of RFC 7643 §2.2 and §7.
public struct AttributeDefinition: Sendable {
    /// The data types of RFC 7643 §2.3.
    public enum DataType: String, Sendable {
        case string, boolean, decimal, integer, dateTime, binary, reference, complex
    }

    /// When an attribute may be written (RFC 7643 §7).
    public enum Mutability: String, Sendable {
        case readOnly, readWrite, immutable, writeOnly
    }

    /// When an attribute is returned (RFC 7643 §7).
    public enum Returned: String, Sendable {
        case always, never, `default`, request
    }

    /// How an attribute's values must be unique (RFC 7643 §7).
    public enum Uniqueness: String, Sendable {
        case none, server, global
    }

    public var name: String
    public var type: DataType
    public var multiValued: Bool
    public var description: String
    public var required: Bool
    public var caseExact: Bool
    public var mutability: Mutability
    public var returned: Returned
    public var uniqueness: Uniqueness
    public var canonicalValues: [String]
    public var referenceTypes: [String]
    public var subAttributes: [AttributeDefinition]

    public init(
        _ name: String,
        _ type: DataType,
        multiValued: Bool = false,
        description: String,
        required: Bool = false,
        caseExact: Bool = false,
        mutability: Mutability = .readWrite,
        returned: Returned = .default,
        uniqueness: Uniqueness = .none,
        canonicalValues: [String] = [],
        referenceTypes: [String] = [],
        subAttributes: [AttributeDefinition] = []
    ) {
        self.name = name
        self.type = type
        self.multiValued = multiValued
        self.description = description
        self.required = required
        self.caseExact = caseExact
        self.mutability = mutability
        self.returned = returned
        self.uniqueness = uniqueness
        self.canonicalValues = canonicalValues
        self.referenceTypes = referenceTypes
        self.subAttributes = subAttributes
    }

    /// The sub-attribute called `name`, compared case-insensitively as RFC 7643 §2.1 asks.
    public func subAttribute(named name: String) -> AttributeDefinition? {
        subAttributes.first { $0.name.caseInsensitiveEquals(name) }
    }

    /// Whether a client may send a value for this attribute.
    public var isWritable: Bool {
        mutability != .readOnly
    }

    /// The definition as `/Schemas` publishes it (RFC 7643 §7).
    public var json: JSON {
        var object = JSONObject()
        object["name"] = .string(name)
        object["type"] = .string(type.rawValue)
        object["multiValued"] = .bool(multiValued)
        object["description"] = .string(description)
        object["required"] = .bool(required)
        if !canonicalValues.isEmpty {
            object["canonicalValues"] = .array(canonicalValues.map(JSON.string))
        }
        object["caseExact"] = .bool(caseExact)
        object["mutability"] = .string(mutability.rawValue)
        object["returned"] = .string(returned.rawValue)
        object["uniqueness"] = .string(uniqueness.rawValue)
        if !referenceTypes.isEmpty {
            object["referenceTypes"] = .array(referenceTypes.map(JSON.string))
        }
        if type == .complex {
            object["subAttributes"] = .array(subAttributes.map(\.json))
        }
        return .object(object)
    }
}
