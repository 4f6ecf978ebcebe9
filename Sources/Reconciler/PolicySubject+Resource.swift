public import Policy
public import SCIM

extension PolicySubject {
    /// The facts a policy decides on, read from a SCIM user: `active`, group names, and the
    /// attributes a `where:` may test (core and enterprise).
    public init(user: Resource, groupNames: [String]) {
        var attributes: [String: [String]] = [:]
        let enterprise = user.attributes[SCIMURN.enterpriseUser]?.objectValue ?? [:]
        for name in PolicyAttributes.names {
            let value = user.attributes[name] ?? enterprise[name]
            switch value {
            case .string(let text)?:
                attributes[name] = [text]
            case .object(let object)?:  // manager
                if case .string(let text)? = object["value"] { attributes[name] = [text] }
            case .array(let elements)?:  // emails, roles, entitlements
                let values = elements.compactMap { $0.objectValue?["value"]?.stringValue }
                if !values.isEmpty { attributes[name] = values }
            default:
                continue
            }
        }
        self.init(
            userName: user.attributes["userName"]?.stringValue ?? user.id,
            active: user.attributes["active"]?.boolValue ?? true,
            groups: groupNames,
            attributes: attributes)
    }
}
