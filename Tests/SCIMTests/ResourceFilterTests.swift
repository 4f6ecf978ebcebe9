import Testing

@testable import SCIM

/// Filter evaluation against realistic resources (RFC 7644 §3.4.2.2), with attribute characteristics from the
/// schemas (RFC 7643 §4, §8.7.1).
struct ResourceFilterTests {
    static let enterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
    static let userID = "2819c223-7f76-453a-919d-413861904646"
    static let managerID = "26118915-6090-4610-87e4-49d8ca9f808d"
    static let groupID = "e9e30dba-f08f-4109-8486-d5c6a331660a"
    static let nestedGroupID = "902c246b-6245-4190-8e05-00816be7344a"

    /// 2010-01-23T04:56:22.000Z.
    static let created: SCIMDateTime.Milliseconds = 1_264_222_582_000
    /// 2011-05-13T04:42:34.123Z.
    static let lastModified: SCIMDateTime.Milliseconds = 1_305_261_754_123

    static let user: JSONObject = [
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", .string(enterprise)],
        "id": .string(userID),
        "externalId": "BJensen-EXT",
        "userName": "BJensen@Example.com",
        "name": [
            "formatted": "Ms. Barbara J Jensen III",
            "familyName": "Jensen",
            "givenName": "Barbara",
        ],
        "displayName": "Babs Jensen",
        "nickName": "",
        "title": "Tour Guide",
        "active": true,
        "emails": [
            ["value": "bjensen@example.com", "type": "work", "primary": true],
            ["value": "babs@jensen.org", "type": "home"],
        ],
        "phoneNumbers": [],
        "meta": [
            "resourceType": "User",
            "created": .string(SCIMDateTime.format(created)),
            "lastModified": .string(SCIMDateTime.format(lastModified)),
            "location": .string("https://example.com/v2/Users/\(userID)"),
            "version": "W/\"3694e05e9dff591\"",
        ],
        enterprise: [
            "employeeNumber": "701984",
            "department": "Tour Operations",
            "manager": [
                "value": .string(managerID),
                "$ref": .string("../Users/\(managerID)"),
            ],
        ],
    ]

    static let group: JSONObject = [
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "id": .string(groupID),
        "displayName": "Tour Guides",
        "members": [
            ["value": .string(userID), "$ref": .string("https://example.com/v2/Users/\(userID)"), "type": "User"],
            ["value": .string(nestedGroupID), "type": "Group"],
        ],
        "meta": [
            "resourceType": "Group",
            "created": .string(SCIMDateTime.format(created)),
            "lastModified": .string(SCIMDateTime.format(created)),
        ],
    ]

    static func matches(_ text: String, _ resource: JSONObject, as resourceType: ResourceType) throws -> Bool {
        try ResourceFilter(parsing: text, for: resourceType).matches(resource)
    }

    @Test func fixtureDatesAreFormattedAsExpected() {
        // Guards the date-based cases below: they are written against these texts.
        #expect(Self.user["meta"]?.objectValue?["created"] == "2010-01-23T04:56:22.000Z")
        #expect(Self.user["meta"]?.objectValue?["lastModified"] == "2011-05-13T04:42:34.123Z")
    }

    // MARK: Users

    static let userCases: [(String, Bool)] = [
        // userName is caseExact false (RFC 7643 §4.1.1): eq ignores case on both sides, as do operator and name.
        (#"userName eq "bjensen@example.com""#, true),
        (#"USERNAME EQ "BJENSEN@EXAMPLE.COM""#, true),
        (#"userName eq "bjensen""#, false),
        // externalId and id are caseExact true (RFC 7643 §3.1).
        (#"externalId eq "BJensen-EXT""#, true),
        (#"externalId eq "bjensen-ext""#, false),
        (#"externalId co "jensen""#, false),
        (#"externalId co "Jensen""#, true),
        (#"id eq "2819c223-7f76-453a-919d-413861904646""#, true),
        (#"id eq "2819C223-7F76-453A-919D-413861904646""#, false),
        // Substring operators.
        (#"userName co "JENSEN@""#, true),
        (#"userName co "smith""#, false),
        (#"userName sw "bjen""#, true),
        (#"userName sw "jensen""#, false),
        (#"userName ew ".COM""#, true),
        (#"userName ew "example""#, false),
        (#"userName ew "bjensen@example.com""#, true),
        (#"name.givenName eq "barbara""#, true),
        (#"name.familyName sw "Jen""#, true),
        (#"name.formatted co "J Jensen""#, true),
        // Ordering on strings is lexicographic, case-insensitive for caseExact false attributes.
        (#"title gt "Tour""#, true),
        (#"title gt "tour guide""#, false),
        (#"title ge "TOUR GUIDE""#, true),
        (#"title lt "tour guidf""#, true),
        (#"title le "Tour Guide""#, true),
        (#"title lt "Tour Guide""#, false),
        (#"displayName gt "Alice""#, true),
        (#"displayName lt "Alice""#, false),
        // dateTimes compare chronologically, offsets included (RFC 7644: "chronological comparison").
        (#"meta.lastModified eq "2011-05-13T04:42:34.123Z""#, true),
        (#"meta.lastModified eq "2011-05-13T06:42:34.123+02:00""#, true),
        (#"meta.lastModified eq "2011-05-13T04:42:34Z""#, false),
        (#"meta.lastModified gt "2011-05-13T04:42:34Z""#, true),
        (#"meta.lastModified gt "2011-05-13T04:42:34.123Z""#, false),
        (#"meta.lastModified ge "2011-05-13T04:42:34.123Z""#, true),
        (#"meta.created lt "2011-05-13T04:42:34Z""#, true),
        (#"meta.created gt "2010-01-23T04:56:22Z""#, false),
        (#"meta.created ge "2010-01-23T04:56:22Z""#, true),
        (#"meta.created le "2010-01-23T04:56:22Z""#, true),
        (#"meta.created ne "2010-01-23T04:56:22Z""#, false),
        // 05:56:22+02:00 is 03:56:22Z, an hour *before* created, although its text sorts after it.
        (#"meta.created lt "2010-01-23T05:56:22+02:00""#, false),
        (#"meta.created gt "2010-01-23T05:56:22+02:00""#, true),
        (#"meta.lastModified sw "2011-05-13""#, true),
        (#"meta.lastModified co "T04:42""#, true),
        // pr: a non-empty value, or a complex value with a non-empty sub-attribute.
        ("title pr", true),
        ("nickName pr", false),  // empty string
        ("phoneNumbers pr", false),  // empty array
        ("ims pr", false),  // absent
        ("userType pr", false),
        ("emails pr", true),
        ("emails.type pr", true),
        ("name pr", true),
        ("name.middleName pr", false),
        ("active pr", true),
        ("meta.lastModified pr", true),
        // Booleans.
        ("active eq true", true),
        ("active eq false", false),
        ("active ne false", true),
        ("active ne true", false),
        // ne: no value equals the operand, so an absent attribute matches.
        (#"title ne "Tour Guide""#, false),
        (#"title ne "tour guide""#, false),
        (#"title ne "Manager""#, true),
        (#"userType ne "Employee""#, true),
        (#"emails ne "nobody@example.com""#, true),
        (#"emails ne "babs@jensen.org""#, false),
        // eq null / ne null: null, absent and empty count as unassigned (RFC 7643 §2.5).
        ("userType eq null", true),
        ("title eq null", false),
        ("nickName eq null", true),
        ("phoneNumbers eq null", true),
        ("userType ne null", false),
        ("title ne null", true),
        ("active eq null", false),
        // Multi-valued attributes match if any value matches; a complex one without a sub-attribute means `.value`.
        (#"emails co "jensen.org""#, true),
        (#"emails eq "BJENSEN@example.com""#, true),
        (#"emails.value eq "babs@jensen.org""#, true),
        (#"emails co "nowhere""#, false),
        (#"emails.type eq "home""#, true),
        (#"emails.type eq "other""#, false),
        // Value paths: all of the inner filter must hold for one and the same value.
        (#"emails[type eq "work" and value co "@example.com"]"#, true),
        (#"emails[type eq "home" and value co "@example.com"]"#, false),
        (#"emails.type eq "home" and emails.value co "@example.com""#, true),
        (#"emails[type eq "WORK"]"#, true),
        (#"emails[primary eq true]"#, true),
        (#"emails[primary eq true and type eq "home"]"#, false),
        (#"emails[primary pr and value ew ".org"]"#, false),
        (#"emails[not (type eq "work")]"#, true),
        (#"emails[type eq "other" or value sw "babs"]"#, true),
        (#"phoneNumbers[type eq "work"]"#, false),
        (#"ims[type pr]"#, false),
        (#"name[givenName eq "Barbara"]"#, true),
        // not, and, or, with and binding tighter than or.
        ("not (title pr)", false),
        ("not (userType pr)", true),
        (#"not (emails[type eq "other"])"#, true),
        (#"not (not (userName sw "b"))"#, true),
        (#"title eq "nope" and active eq true or userName pr"#, true),
        (#"title eq "nope" and (active eq true or userName pr)"#, false),
        (#"userName pr or title eq "nope" and active eq false"#, true),
        (#"(userName pr or title eq "nope") and active eq false"#, false),
        (#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#, false),
        (#"userType ne "Employee" and not (emails co "example.net" or emails.value co "example.org")"#, true),
        // The enterprise extension, addressed by its URN (case-insensitively) and nested below its key.
        (#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "tour operations""#, true),
        (#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "Sales""#, false),
        (#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber sw "70""#, true),
        (#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "26118915-6090-4610-87e4-49d8ca9f808d""#, true),
        (#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager eq "26118915-6090-4610-87e4-49d8ca9f808d""#, true),
        (#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "26118915-6090-4610-87E4-49D8CA9F808D""#, false),
        (#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager[value sw "2611"]"#, true),
        ("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager pr", true),
        ("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter pr", false),
        ("URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER:DEPARTMENT pr", true),
        // The core schema URN may qualify core attributes.
        (#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "BJ""#, true),
        (#"urn:ietf:params:scim:schemas:core:2.0:User:name.givenName eq "Barbara""#, true),
    ]

    @Test("Filters evaluate against a User", arguments: userCases)
    func evaluatesUser(text: String, expected: Bool) throws {
        #expect(try Self.matches(text, Self.user, as: .user) == expected)
    }

    @Test func userWithoutTheExtensionDoesNotMatchExtensionFilters() throws {
        var user = Self.user
        user[Self.enterprise] = nil
        #expect(try !Self.matches("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department pr", user, as: .user))
        #expect(try Self.matches("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq null", user, as: .user))
    }

    @Test func attributeNamesInTheResourceAreReadCaseInsensitively() throws {
        let user: JSONObject = ["USERNAME": "alice", "Name": ["GIVENNAME": "Alice"]]
        #expect(try Self.matches(#"userName eq "ALICE""#, user, as: .user))
        #expect(try Self.matches(#"name.givenName eq "alice""#, user, as: .user))
    }

    @Test func nullValuesInTheResourceCountAsAbsent() throws {
        let user: JSONObject = ["userName": "alice", "title": nil, "emails": [nil, ["value": nil, "type": "work"]]]
        #expect(try !Self.matches("title pr", user, as: .user))
        #expect(try Self.matches("title eq null", user, as: .user))
        #expect(try !Self.matches("emails.value pr", user, as: .user))
        #expect(try Self.matches("emails pr", user, as: .user))
    }

    @Test func valuesOfTheWrongJsonTypeInTheResourceDoNotMatch() throws {
        let user: JSONObject = ["userName": 42, "active": "true", "meta": ["lastModified": "not a date"]]
        #expect(try !Self.matches(#"userName eq "42""#, user, as: .user))
        #expect(try !Self.matches("active eq true", user, as: .user))
        #expect(try !Self.matches(#"meta.lastModified gt "2000-01-01T00:00:00Z""#, user, as: .user))
        #expect(try !Self.matches(#"meta.lastModified lt "2000-01-01T00:00:00Z""#, user, as: .user))
    }

    // MARK: Groups

    static let groupCases: [(String, Bool)] = [
        (#"displayName eq "tour guides""#, true),
        (#"displayName sw "Tour""#, true),
        (#"members[value eq "2819c223-7f76-453a-919d-413861904646"]"#, true),
        (#"members[value eq "2819C223-7F76-453A-919D-413861904646"]"#, false),
        (#"members.value eq "902c246b-6245-4190-8e05-00816be7344a""#, true),
        (#"members eq "902c246b-6245-4190-8e05-00816be7344a""#, true),
        (#"members[type eq "group"]"#, true),
        (#"members[type eq "User" and value eq "902c246b-6245-4190-8e05-00816be7344a"]"#, false),
        (#"members[type eq "Group" and value eq "902c246b-6245-4190-8e05-00816be7344a"]"#, true),
        (#"members[$ref pr]"#, true),
        (#"members[type eq "Group" and $ref pr]"#, false),
        ("members pr", true),
        (#"members ne "nobody""#, true),
        (#"id eq "e9e30dba-f08f-4109-8486-d5c6a331660a""#, true),
        (#"meta.resourceType eq "Group""#, true),
        (#"meta.resourceType eq "group""#, false),
        (#"urn:ietf:params:scim:schemas:core:2.0:Group:displayName co "guide""#, true),
    ]

    @Test("Filters evaluate against a Group", arguments: groupCases)
    func evaluatesGroup(text: String, expected: Bool) throws {
        #expect(try Self.matches(text, Self.group, as: .group) == expected)
    }

    @Test func groupWithoutMembersMatchesNoMemberFilter() throws {
        let empty: JSONObject = ["displayName": "Nobody", "members": []]
        #expect(try !Self.matches("members pr", empty, as: .group))
        #expect(try !Self.matches(#"members[type eq "User"]"#, empty, as: .group))
        #expect(try Self.matches(#"not (members[type eq "User"])"#, empty, as: .group))
    }

    // MARK: Errors

    /// Filters that parse but do not fit the resource type: the error and the position of the faulty term.
    static let errorCases: [(String, Bool, Int, String)] = [
        // (filter, isUser, position, message fragment)
        (#"nosuch eq "x""#, true, 1, "Unknown attribute 'nosuch' for User"),
        ("title pr and nosuch pr", true, 14, "Unknown attribute 'nosuch'"),
        (#"name.nosuch eq "x""#, true, 1, "Unknown attribute 'name.nosuch'"),
        (#"title.sub eq "x""#, true, 1, "Unknown attribute"),
        (#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:nosuch eq "x""#, true, 1, "Unknown attribute"),
        (#"urn:example:unknown:schema:department eq "x""#, true, 1, "Unknown attribute"),
        (#"emails[nosuch eq "x"]"#, true, 8, "Unknown sub-attribute 'nosuch' of 'emails'"),
        (#"emails[value.x eq "x"]"#, true, 8, "Unknown sub-attribute"),
        (#"userName eq "x" and emails[type eq "work" and nosuch pr]"#, true, 47, "Unknown sub-attribute"),
        // Ordering on booleans and binaries is invalidFilter (RFC 7644 §3.4.2.2).
        ("active gt true", true, 1, "'gt' does not apply to the boolean 'active'"),
        (#"userName eq "x" and active lt false"#, true, 21, "'lt' does not apply to the boolean"),
        ("emails[primary ge true]", true, 8, "'ge' does not apply to the boolean 'primary'"),
        ("active co true", true, 1, "'co' does not apply to the boolean"),
        (#"x509Certificates.value gt "TUlJQ""#, true, 1, "'gt' does not apply to the binary"),
        // Value of the wrong type for the attribute.
        (#"active eq "true""#, true, 1, "'active' is a boolean"),
        ("active eq 1", true, 1, "'active' is a boolean"),
        ("userName eq 42", true, 1, "'userName' is a string"),
        ("userName eq true", true, 1, "'userName' is a string"),
        (#"emails[type eq 1]"#, true, 8, "'type' is a string"),
        ("meta.lastModified gt 5", true, 1, "'meta.lastModified' is a dateTime"),
        (#"meta.lastModified gt "yesterday""#, true, 1, "'yesterday' is not a valid dateTime"),
        (#"meta.created eq "2011-02-30T00:00:00Z""#, true, 1, "is not a valid dateTime"),
        // null only compares with eq and ne.
        ("userName gt null", true, 1, "'gt' cannot compare with null"),
        ("userName co null", true, 1, "'co' cannot compare with null"),
        // Complex attributes without a value sub-attribute cannot be compared, and only complex ones take filters.
        (#"name eq "Barbara""#, true, 1, "'name' is a complex attribute"),
        (#"meta eq "x""#, true, 1, "'meta' is a complex attribute"),
        (#"userName[value eq "x"]"#, true, 1, "'userName' is not a complex attribute"),
        (#"name.givenName[value eq "x"]"#, true, 1, "is not a complex attribute"),
        ("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User pr", true, 1, "names a whole schema extension"),
        // Resource types do not share attributes.
        (#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "x""#, false, 1, "Unknown attribute"),
        (#"userName eq "x""#, false, 1, "Unknown attribute 'userName' for Group"),
        (#"displayName pr and emails pr"#, false, 20, "Unknown attribute 'emails' for Group"),
        (#"members[display eq "x"]"#, false, 9, "Unknown sub-attribute 'display' of 'members'"),
        ("members[value gt 3]", false, 9, "'value' is a string"),
    ]

    @Test("Filters that do not fit the schema are errors with positions", arguments: errorCases)
    func rejectsAgainstSchema(text: String, isUser: Bool, position: Int, message: String) {
        do {
            _ = try ResourceFilter(parsing: text, for: isUser ? .user : .group)
            Issue.record("Expected '\(text)' to be rejected")
        } catch {
            #expect(error.position == position, "\(error)")
            #expect(error.message.contains(message), "\(error)")
            #expect(error.scimError.scimType == "invalidFilter")
        }
    }

    @Test func syntaxErrorsSurfaceThroughTheParsingInitializer() {
        #expect(throws: FilterError("Unknown operator 'zz'", position: 10)) {
            try ResourceFilter(parsing: #"userName zz "x""#, for: .user)
        }
    }

    // MARK: requiredEqualities

    static func equalities(_ text: String, _ resourceType: ResourceType = .user) throws -> [String] {
        try ResourceFilter(parsing: text, for: resourceType).requiredEqualities.map { "\($0.path)=\($0.value)" }
    }

    @Test func requiredEqualitiesListTheTopLevelAndChainInOrder() throws {
        #expect(try Self.equalities(#"externalId eq "Ext-1""#) == ["externalId=Ext-1"])
        #expect(try Self.equalities(#"externalId eq "Ext-1" and id eq "A-2" and title pr"#) == ["externalId=Ext-1", "id=A-2"])
        #expect(try Self.equalities(#"(externalId eq "Ext-1" and title pr) and (id eq "A-2")"#) == ["externalId=Ext-1", "id=A-2"])
    }

    @Test func requiredEqualitiesUseCanonicalPaths() throws {
        #expect(try Self.equalities(#"EXTERNALID eq "Ext-1""#) == ["externalId=Ext-1"])
        #expect(try Self.equalities(#"emails eq "Ext@Example.com""#).map { $0.lowercased() } == ["emails.value=ext@example.com"])
        #expect(try Self.equalities(#"members[value eq "M-1"] and displayName pr"#, .group) == ["members.value=M-1"])
        #expect(try Self.equalities(#"MEMBERS[VALUE eq "M-1"]"#, .group) == ["members.value=M-1"])
        #expect(
            try Self.equalities(#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "Boss-1""#)
                == ["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value=Boss-1"])
        #expect(
            try Self.equalities(#"urn:ietf:params:scim:schemas:core:2.0:User:externalId eq "Ext-1""#) == ["externalId=Ext-1"])
    }

    @Test func requiredEqualitiesOfCaseInsensitiveAttributesMatchIgnoringCase() throws {
        let terms = try ResourceFilter(parsing: #"userName eq "BJensen""#, for: .user).requiredEqualities
        #expect(terms.count == 1)
        #expect(terms.first?.path == "userName")
        // Lowercased as the store keeps its key, so the store can compare bytes.
        #expect(terms.first?.value == "bjensen")
        #expect(try ResourceFilter(parsing: #"displayName eq "ÆRØ İlkay""#, for: .group).requiredEqualities.first?.value == "ÆRØ İlkay".lowercased())
    }

    @Test func aSingleEqualityIsTheWholeFilter() throws {
        for text in [#"userName eq "a""#, #"EXTERNALID eq "A""#, #"members[value eq "M-1"]"#, #"(id eq "x")"#] {
            #expect(try ResourceFilter(parsing: text, for: text.contains("members") ? .group : .user).isSingleEquality, "\(text)")
        }
        for text in [
            #"userName eq "a" and active eq true"#, #"userName ne "a""#, #"userName co "a""#, "active eq true",
            #"not (userName eq "a")"#, #"userName eq "a" or id eq "b""#, #"emails[type eq "work" and value eq "a"]"#,
        ] {
            #expect(try !ResourceFilter(parsing: text, for: .user).isSingleEquality, "\(text)")
        }
    }

    @Test("Terms that not every match must satisfy are not required equalities", arguments: [
        #"externalId eq "a" or id eq "b""#,
        #"not (externalId eq "a")"#,
        #"externalId ne "a""#,
        #"externalId co "a""#,
        #"externalId sw "a""#,
        #"externalId gt "a""#,
        "externalId eq null",
        "active eq true",
        #"meta.lastModified eq "2011-05-13T04:42:34Z""#,
        #"title pr"#,
        #"emails[not (type eq "work")]"#,
        #"(externalId eq "a" and id eq "b") or title pr"#,
    ])
    func requiredEqualitiesSkipNonMandatoryTerms(text: String) throws {
        #expect(try Self.equalities(text) == [])
    }

    @Test func requiredEqualitiesStopAtAnOrButKeepSiblingsOfIt() throws {
        #expect(try Self.equalities(#"externalId eq "a" and (id eq "b" or title pr)"#) == ["externalId=a"])
    }

    @Test func requiredEqualitiesAreSatisfiedByEveryMatch() throws {
        // Cross-check: a resource that matches must carry each required value at the named path.
        let filter = try ResourceFilter(
            parsing: #"externalId eq "BJensen-EXT" and emails[type eq "work"] and id eq "2819c223-7f76-453a-919d-413861904646""#,
            for: .user)
        #expect(filter.matches(Self.user))
        for term in filter.requiredEqualities {
            let path = try #require(AttributePath.parse(term.path))
            let resolved = try #require(ResourceType.user.resolve(path))
            #expect(resolved.values(in: Self.user).contains(.string(term.value)), "\(term)")
        }
    }
}
