// The schemas Portcullis serves: RFC 7643 §4 and §8.7.1, limited to what the store keeps.
// Derived values that are not stored are not advertised: Group `members.display`
// and the enterprise `manager.displayName` are left out on purpose.

extension Schema {
    /// `urn:ietf:params:scim:schemas:core:2.0:User`.
    public static let user = Schema(
        id: SCIMURN.user,
        name: "User",
        description: "User Account",
        attributes: [
            AttributeDefinition(
                "userName", .string,
                description: "Unique identifier for the User, typically used by the user to directly authenticate to the service provider.",
                required: true, uniqueness: .server),
            AttributeDefinition(
                "name", .complex, description: "The components of the user's real name.",
                subAttributes: [
                    .text("formatted", "The full name, including all middle names, titles, and suffixes as appropriate, formatted for display."),
                    .text("familyName", "The family name of the User, or last name in most Western languages."),
                    .text("givenName", "The given name of the User, or first name in most Western languages."),
                    .text("middleName", "The middle name(s) of the User."),
                    .text("honorificPrefix", "The honorific prefix(es) of the User, or title in most Western languages."),
                    .text("honorificSuffix", "The honorific suffix(es) of the User, or suffix in most Western languages."),
                ]),
            .text("displayName", "The name of the User, suitable for display to end-users."),
            .text("nickName", "The casual way to address the user in real life."),
            AttributeDefinition(
                "profileUrl", .reference, description: "A fully qualified URL pointing to a page representing the User's online profile.",
                caseExact: true, referenceTypes: ["external"]),
            .text("title", "The user's title, such as \"Vice President\"."),
            .text("userType", "Used to identify the relationship between the organization and the user."),
            .text("preferredLanguage", "Indicates the User's preferred written or spoken language."),
            .text("locale", "Used to indicate the User's default location for purposes of localizing items such as currency."),
            .text("timezone", "The User's time zone in the 'Olson' time zone database format, e.g., 'America/Los_Angeles'."),
            AttributeDefinition("active", .boolean, description: "A Boolean value indicating the User's administrative status."),
            AttributeDefinition(
                "password", .string, description: "Accepted for compatibility with identity providers; never stored nor returned.",
                caseExact: true, mutability: .writeOnly, returned: .never),
            .multiValued(
                "emails", "Email addresses for the user.",
                value: AttributeDefinition("value", .string, description: "Email addresses for the user."),
                types: ["work", "home", "other"]),
            .multiValued(
                "phoneNumbers", "Phone numbers for the User.",
                value: AttributeDefinition("value", .string, description: "Phone number of the User."),
                types: ["work", "home", "mobile", "fax", "pager", "other"]),
            .multiValued(
                "ims", "Instant messaging addresses for the User.",
                value: AttributeDefinition("value", .string, description: "Instant messaging address for the User."),
                types: ["aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"]),
            .multiValued(
                "photos", "URLs of photos of the User.",
                value: AttributeDefinition(
                    "value", .reference, description: "URL of a photo of the User.", caseExact: true, referenceTypes: ["external"]),
                types: ["photo", "thumbnail"]),
            AttributeDefinition(
                "addresses", .complex, multiValued: true, description: "A physical mailing address for this User.",
                subAttributes: [
                    .text("formatted", "The full mailing address, formatted for display or use with a mailing label."),
                    .text("streetAddress", "The full street address component."),
                    .text("locality", "The city or locality component."),
                    .text("region", "The state or region component."),
                    .text("postalCode", "The zip code or postal code component."),
                    .text("country", "The country name component."),
                    AttributeDefinition(
                        "type", .string, description: "A label indicating the attribute's function, e.g., 'work' or 'home'.",
                        canonicalValues: ["work", "home", "other"]),
                    AttributeDefinition("primary", .boolean, description: "A Boolean value indicating the preferred address."),
                ]),
            AttributeDefinition(
                "groups", .complex, multiValued: true,
                description: "A list of groups to which the user belongs, either through direct membership or through nested groups.",
                mutability: .readOnly,
                subAttributes: [
                    AttributeDefinition("value", .string, description: "The identifier of the User's group.", caseExact: true, mutability: .readOnly),
                    AttributeDefinition(
                        "$ref", .reference, description: "The URI of the corresponding 'Group' resource to which the user belongs.",
                        caseExact: true, mutability: .readOnly, referenceTypes: ["Group"]),
                    AttributeDefinition("display", .string, description: "A human-readable name, primarily used for display purposes.", mutability: .readOnly),
                    AttributeDefinition(
                        "type", .string, description: "A label indicating the attribute's function, e.g., 'direct' or 'indirect'.",
                        mutability: .readOnly, canonicalValues: ["direct", "indirect"]),
                ]),
            .multiValued(
                "entitlements", "A list of entitlements for the User that represent a thing the User has.",
                value: AttributeDefinition("value", .string, description: "The value of an entitlement.")),
            .multiValued(
                "roles", "A list of roles for the User that collectively represent who the User is, e.g., 'Student', 'Faculty'.",
                value: AttributeDefinition("value", .string, description: "The value of a role.")),
            .multiValued(
                "x509Certificates", "A list of certificates issued to the User.",
                value: AttributeDefinition("value", .binary, description: "The value of an X.509 certificate.", caseExact: true)),
        ])

    /// `urn:ietf:params:scim:schemas:core:2.0:Group`.
    public static let group = Schema(
        id: SCIMURN.group,
        name: "Group",
        description: "Group",
        attributes: [
            AttributeDefinition(
                "displayName", .string, description: "A human-readable name for the Group; unique in Portcullis, as policies name groups by it.",
                required: true, uniqueness: .server),
            AttributeDefinition(
                "members", .complex, multiValued: true, description: "A list of members of the Group: users or groups.",
                subAttributes: [
                    AttributeDefinition(
                        "value", .string, description: "Identifier of the member of this Group.", caseExact: true, mutability: .immutable),
                    AttributeDefinition(
                        "$ref", .reference, description: "The URI corresponding to a SCIM resource that is a member of this Group.",
                        caseExact: true, mutability: .immutable, referenceTypes: ["User", "Group"]),
                    AttributeDefinition(
                        "type", .string, description: "A label indicating the type of resource, e.g., 'User' or 'Group'.",
                        mutability: .immutable, canonicalValues: ["User", "Group"]),
                ]),
        ])

    /// `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User`.
    public static let enterpriseUser = Schema(
        id: SCIMURN.enterpriseUser,
        name: "EnterpriseUser",
        description: "Enterprise User",
        attributes: [
            .text("employeeNumber", "Numeric or alphanumeric identifier assigned to a person, typically based on order of hire or association with an organization."),
            .text("costCenter", "Identifies the name of a cost center."),
            .text("organization", "Identifies the name of an organization."),
            .text("division", "Identifies the name of a division."),
            .text("department", "Identifies the name of a department."),
            AttributeDefinition(
                "manager", .complex, description: "The User's manager.",
                subAttributes: [
                    AttributeDefinition("value", .string, description: "The id of the SCIM resource representing the User's manager.", caseExact: true),
                    AttributeDefinition(
                        "$ref", .reference, description: "The URI of the SCIM resource representing the User's manager.",
                        caseExact: true, referenceTypes: ["User"]),
                ]),
        ])

    /// The attributes every resource carries (RFC 7643 §3.1): `id`, `externalId` and `meta`.
    public static let common = Schema(
        id: "urn:ietf:params:scim:schemas:common",
        name: "Common",
        description: "Attributes common to all resources",
        attributes: [
            AttributeDefinition(
                "id", .string, description: "A unique identifier for a SCIM resource as defined by the service provider.",
                caseExact: true, mutability: .readOnly, returned: .always, uniqueness: .server),
            AttributeDefinition(
                "externalId", .string, description: "A String that is an identifier for the resource as defined by the provisioning client.",
                caseExact: true),
            AttributeDefinition(
                "meta", .complex, description: "A complex attribute containing resource metadata.", mutability: .readOnly,
                subAttributes: [
                    AttributeDefinition("resourceType", .string, description: "The name of the resource type of the resource.", caseExact: true, mutability: .readOnly),
                    AttributeDefinition("created", .dateTime, description: "The DateTime that the resource was added to the service provider.", mutability: .readOnly),
                    AttributeDefinition("lastModified", .dateTime, description: "The most recent DateTime that the details of this resource were updated.", mutability: .readOnly),
                    AttributeDefinition("location", .reference, description: "The URI of the resource being returned.", caseExact: true, mutability: .readOnly, referenceTypes: ["uri"]),
                    AttributeDefinition("version", .string, description: "The version of the resource being returned.", caseExact: true, mutability: .readOnly),
                ]),
        ])
}

extension AttributeDefinition {
    /// A single-valued, case-insensitive, read-write string.
    static func text(_ name: String, _ description: String) -> AttributeDefinition {
        AttributeDefinition(name, .string, description: description)
    }

    /// A multi-valued complex attribute of the usual shape: value, display, type, primary.
    static func multiValued(_ name: String, _ description: String, value: AttributeDefinition, types: [String] = []) -> AttributeDefinition {
        AttributeDefinition(
            name, .complex, multiValued: true, description: description,
            subAttributes: [
                value,
                .text("display", "A human-readable name, primarily used for display purposes."),
                AttributeDefinition("type", .string, description: "A label indicating the attribute's function.", canonicalValues: types),
                AttributeDefinition("primary", .boolean, description: "A Boolean value indicating the 'primary' or preferred attribute value."),
            ])
    }
}
