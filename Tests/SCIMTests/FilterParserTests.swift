import Testing

@testable import SCIM

/// RFC 7644 §3.4.2.2 filter syntax: what parses, into which tree, and where invalid filters fail.
struct FilterParserTests {
    static let enterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
    static let coreUser = "urn:ietf:params:scim:schemas:core:2.0:User"

    // MARK: Helpers

    /// A position-free rendering of a filter that makes grouping explicit: every `and`/`or` is parenthesized,
    /// values are written as JSON (so integers and decimals stay distinguishable).
    static func render(_ filter: Filter) -> String {
        switch filter {
        case .comparison(let path, let comparison, let value, _):
            "\(path) \(comparison.rawValue) \(value.jsonText)"
        case .present(let path, _):
            "\(path) pr"
        case .and(let left, let right):
            "(\(render(left)) and \(render(right)))"
        case .or(let left, let right):
            "(\(render(left)) or \(render(right)))"
        case .not(let inner):
            "not(\(render(inner)))"
        case .valuePath(let path, let inner, _):
            "\(path)[\(render(inner))]"
        }
    }

    /// Parses `text`, expecting failure, and returns the error.
    static func parseError(_ text: String) -> FilterError? {
        do {
            let filter = try FilterParser.parse(text)
            Issue.record("Expected '\(text)' to be rejected, but it parsed as \(render(filter))")
            return nil
        } catch {
            return error
        }
    }

    // MARK: Structure of valid filters

    /// Each filter with its expected structure. Paths print as `[schema:]attribute[.subAttribute]`.
    static let structures: [(String, String)] = [
        // Every comparison operator (RFC 7644 Table 3).
        (#"userName eq "bjensen""#, #"userName eq "bjensen""#),
        (#"userName ne "bjensen""#, #"userName ne "bjensen""#),
        (#"name.familyName co "O'Malley""#, #"name.familyName co "O'Malley""#),
        (#"userName sw "J""#, #"userName sw "J""#),
        (#"title ew "Guide""#, #"title ew "Guide""#),
        (#"meta.lastModified gt "2011-05-13T04:42:34Z""#, #"meta.lastModified gt "2011-05-13T04:42:34Z""#),
        (#"meta.lastModified ge "2011-05-13T04:42:34Z""#, #"meta.lastModified ge "2011-05-13T04:42:34Z""#),
        (#"meta.lastModified lt "2011-05-13T04:42:34Z""#, #"meta.lastModified lt "2011-05-13T04:42:34Z""#),
        (#"meta.lastModified le "2011-05-13T04:42:34Z""#, #"meta.lastModified le "2011-05-13T04:42:34Z""#),
        ("title pr", "title pr"),
        // Operators, keywords and attribute names are case-insensitive; the parser keeps the name as written.
        (#"userName EQ "x""#, #"userName eq "x""#),
        (#"userName Ne "x""#, #"userName ne "x""#),
        (#"title cO "x""#, #"title co "x""#),
        (#"title SW "x""#, #"title sw "x""#),
        (#"title eW "x""#, #"title ew "x""#),
        ("x GT 1", "x gt 1"),
        ("x Ge 1", "x ge 1"),
        ("x LT 1", "x lt 1"),
        ("x lE 1", "x le 1"),
        ("title PR", "title pr"),
        (#"USERNAME eq "x""#, #"USERNAME eq "x""#),
        ("a pr AND b pr OR c pr", "((a pr and b pr) or c pr)"),
        ("NOT (a pr)", "not(a pr)"),
        ("Not (a pr) aNd b pr", "(not(a pr) and b pr)"),
        // Precedence: `and` binds tighter than `or`; both associate to the left.
        ("a pr or b pr and c pr", "(a pr or (b pr and c pr))"),
        ("a pr and b pr or c pr", "((a pr and b pr) or c pr)"),
        ("a pr and b pr and c pr", "((a pr and b pr) and c pr)"),
        ("a pr or b pr or c pr", "((a pr or b pr) or c pr)"),
        ("a pr or b pr and c pr or d pr", "((a pr or (b pr and c pr)) or d pr)"),
        ("a pr and b pr or c pr and d pr", "((a pr and b pr) or (c pr and d pr))"),
        // Parentheses override precedence and add no node of their own.
        ("(a pr or b pr) and c pr", "((a pr or b pr) and c pr)"),
        ("a pr and (b pr or c pr)", "(a pr and (b pr or c pr))"),
        ("((userName pr))", "userName pr"),
        ("(a pr)and(b pr)", "(a pr and b pr)"),
        // `not` applies to one parenthesized filter and binds tighter than `and`.
        ("not (a pr) and b pr", "(not(a pr) and b pr)"),
        ("not (a pr or b pr)", "not((a pr or b pr))"),
        ("not(a pr)", "not(a pr)"),
        ("not (not (a pr))", "not(not(a pr))"),
        ("a pr or not (b pr) and c pr", "(a pr or (not(b pr) and c pr))"),
        // The RFC 7644 §3.4.2.2 examples.
        (
            #"title pr and userType eq "Employee""#,
            #"(title pr and userType eq "Employee")"#
        ),
        (
            #"title pr or userType eq "Intern""#,
            #"(title pr or userType eq "Intern")"#
        ),
        (
            #"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#,
            #"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#
        ),
        (
            #"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
            #"(userType eq "Employee" and (emails co "example.com" or emails.value co "example.org"))"#
        ),
        (
            #"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
            #"(userType ne "Employee" and not((emails co "example.com" or emails.value co "example.org")))"#
        ),
        (
            #"userType eq "Employee" and (emails.type eq "work")"#,
            #"(userType eq "Employee" and emails.type eq "work")"#
        ),
        (
            #"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#,
            #"(userType eq "Employee" and emails[(type eq "work" and value co "@example.com")])"#
        ),
        (
            #"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#,
            #"(emails[(type eq "work" and value co "@example.com")] or ims[(type eq "xmpp" and value co "@foo.com")])"#
        ),
        // Value paths with every kind of inner filter.
        (#"emails[type eq "work"]"#, #"emails[type eq "work"]"#),
        ("emails[type pr]", "emails[type pr]"),
        (#"emails[not (type eq "work")]"#, #"emails[not(type eq "work")]"#),
        (
            #"emails[(type eq "work" or type eq "home") and primary eq true]"#,
            #"emails[((type eq "work" or type eq "home") and primary eq true)]"#
        ),
        (#"members[value eq "2819c223"] and displayName pr"#, #"(members[value eq "2819c223"] and displayName pr)"#),
        ("members[$ref pr]", "members[$ref pr]"),
        (#"not (emails[type eq "work"])"#, #"not(emails[type eq "work"])"#),
        (#"EMAILS[TYPE EQ "work"]"#, #"EMAILS[TYPE eq "work"]"#),
        // URN-qualified paths: the URN (which itself contains dots and colons) is split off at the last colon.
        (#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J""#, #"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J""#),
        (
            #"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "Tour""#,
            #"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "Tour""#
        ),
        (
            #"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "26118915""#,
            #"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "26118915""#
        ),
        (
            #"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager[value pr]"#,
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager[value pr]"
        ),
        // Sub-attributes and attribute names with digits, '-' and '_'.
        (#"name.givenName eq "Barbara" and name.familyName eq "Jensen""#, #"(name.givenName eq "Barbara" and name.familyName eq "Jensen")"#),
        ("x509Certificates.value pr", "x509Certificates.value pr"),
        ("custom-attr_2 eq 1", "custom-attr_2 eq 1"),
        // Values: literals, numbers, and strings.
        ("active eq true", "active eq true"),
        ("active eq false", "active eq false"),
        ("manager eq null", "manager eq null"),
        (#"userName eq """#, #"userName eq """#),
        ("x eq 42", "x eq 42"),
        ("x eq -7", "x eq -7"),
        ("x eq 0", "x eq 0"),
        ("x eq 3.25", "x eq 3.25"),
        ("x eq 1e3", "x eq 1000.0"),
        ("x eq -0.5E-2", "x eq -0.005"),
        // Whitespace: any amount of spaces, tabs and line breaks between tokens.
        ("  userName   eq\t\"x\"  ", #"userName eq "x""#),
        ("a pr\nand\r\nb pr", "(a pr and b pr)"),
        (#"emails[ type eq "work" ]"#, #"emails[type eq "work"]"#),
    ]

    @Test("Valid filters parse into the expected tree", arguments: structures)
    func parsesStructure(text: String, expected: String) throws {
        let filter = try FilterParser.parse(text)
        #expect(Self.render(filter) == expected)
    }

    @Test func everyComparisonOperatorIsRecognisedInLowerAndUpperCase() throws {
        for comparison in Filter.ComparisonOperator.allCases {
            for spelling in [comparison.rawValue, comparison.rawValue.uppercased()] {
                let filter = try FilterParser.parse("x \(spelling) 1")
                #expect(filter == .comparison(AttributePath(attribute: "x"), comparison, .integer(1), position: 1))
            }
        }
    }

    // MARK: Exact trees with positions

    @Test func comparisonCarriesPathOperatorValueAndPosition() throws {
        let filter = try FilterParser.parse(#"userName eq "bjensen""#)
        #expect(filter == .comparison(AttributePath(attribute: "userName"), .eq, .string("bjensen"), position: 1))
    }

    @Test func positionsPointAtTheStartOfEachAttributePath() throws {
        // Columns: `title` at 1, `userType` at 14 (after "title pr and ").
        let filter = try FilterParser.parse(#"title pr and userType eq "Employee""#)
        #expect(
            filter
                == .and(
                    .present(AttributePath(attribute: "title"), position: 1),
                    .comparison(AttributePath(attribute: "userType"), .eq, .string("Employee"), position: 14)))
    }

    @Test func leadingWhitespaceShiftsPositions() throws {
        let filter = try FilterParser.parse("   title pr")
        #expect(filter == .present(AttributePath(attribute: "title"), position: 4))
    }

    @Test func valuePathInnerPositionsAreAbsoluteInTheFilterText() throws {
        // `emails` at 1, `type` at 8, `value` at 27.
        let filter = try FilterParser.parse(#"emails[type eq "work" and value co "@example.com"]"#)
        let expected = Filter.valuePath(
            AttributePath(attribute: "emails"),
            .and(
                .comparison(AttributePath(attribute: "type"), .eq, .string("work"), position: 8),
                .comparison(AttributePath(attribute: "value"), .co, .string("@example.com"), position: 27)),
            position: 1)
        #expect(filter == expected)
    }

    @Test func enterpriseUrnPathSplitsIntoSchemaAttributeAndSubAttribute() throws {
        let filter = try FilterParser.parse(#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "26118915""#)
        let path = AttributePath(schema: Self.enterprise, attribute: "manager", subAttribute: "value")
        #expect(filter == .comparison(path, .eq, .string("26118915"), position: 1))
    }

    @Test func coreUrnPathKeepsTheCoreSchema() throws {
        let filter = try FilterParser.parse(#"urn:ietf:params:scim:schemas:core:2.0:User:name.givenName pr"#)
        #expect(filter == .present(AttributePath(schema: Self.coreUser, attribute: "name", subAttribute: "givenName"), position: 1))
    }

    @Test func subAttributePathIsSplitAtTheDot() throws {
        let filter = try FilterParser.parse(#"name.familyName co "O'Malley""#)
        #expect(filter == .comparison(AttributePath(attribute: "name", subAttribute: "familyName"), .co, .string("O'Malley"), position: 1))
    }

    // MARK: Values

    static let values: [(String, JSON)] = [
        (#"x eq "plain""#, .string("plain")),
        (#"x eq "a\"b""#, .string("a\"b")),
        (#"x eq "back\\slash""#, .string("back\\slash")),
        (#"x eq "a\/b""#, .string("a/b")),
        (#"x eq "tab\there\nnext""#, .string("tab\there\nnext")),
        (#"x eq "caf\u00e9""#, .string("café")),
        (#"x eq "\ud83d\ude00""#, .string("😀")),
        (#"x eq "Zoë 😀""#, .string("Zoë 😀")),
        (#"x eq "a and b or not (c)""#, .string("a and b or not (c)")),
        (#"x eq "[brackets] ]""#, .string("[brackets] ]")),
        (#"x eq """#, .string("")),
        ("x eq 42", .integer(42)),
        ("x eq -7", .integer(-7)),
        ("x eq 3.25", .decimal(3.25)),
        ("x eq 1e3", .decimal(1000)),
        ("x eq -0.5E-2", .decimal(-0.005)),
        ("x eq true", .bool(true)),
        ("x eq false", .bool(false)),
        ("x eq null", .null),
    ]

    @Test("Comparison values are read as JSON literals", arguments: values)
    func parsesValue(text: String, expected: JSON) throws {
        let filter = try FilterParser.parse(text)
        guard case .comparison(_, _, let value, _) = filter else {
            Issue.record("Expected a comparison, got \(Self.render(filter))")
            return
        }
        #expect(value == expected)
    }

    @Test func integerAndDecimalValuesStayDistinct() throws {
        #expect(try FilterParser.parse("x eq 1") == .comparison(AttributePath(attribute: "x"), .eq, .integer(1), position: 1))
        #expect(try FilterParser.parse("x eq 1.0") == .comparison(AttributePath(attribute: "x"), .eq, .decimal(1), position: 1))
    }

    // MARK: Nesting limits

    static func nested(_ levels: Int) -> String {
        String(repeating: "(", count: levels) + "userName pr" + String(repeating: ")", count: levels)
    }

    @Test func nestingUpToTheMaximumDepthIsAccepted() throws {
        let filter = try FilterParser.parse(Self.nested(FilterParser.maximumDepth))
        #expect(filter == .present(AttributePath(attribute: "userName"), position: FilterParser.maximumDepth + 1))
    }

    @Test func valuePathCountsAsOneNestingLevel() throws {
        let inside = String(repeating: "(", count: 31) + "emails[type pr]" + String(repeating: ")", count: 31)
        #expect(Self.render(try FilterParser.parse(inside)) == "emails[type pr]")
    }

    @Test func logicalOperatorsUpToTheMaximumAreAccepted() throws {
        let text = Array(repeating: "userName pr", count: FilterParser.maximumLogicalOperators + 1).joined(separator: " and ")
        var filter = try FilterParser.parse(text)
        var operators = 0
        while case .and(let left, _) = filter {
            operators += 1
            filter = left
        }
        #expect(operators == FilterParser.maximumLogicalOperators)
    }

    // MARK: Invalid filters

    /// Invalid filters, the 1-based position of the fault, and a fragment of the message.
    /// Positions at "the end" are one past the last character.
    static let invalid: [(String, Int, String)] = [
        ("", 1, "Empty filter"),
        ("   ", 1, "Empty filter"),
        (#"userName eq "bjensen"#, 13, "Unterminated string"),
        (#"userName eq "abc\""#, 13, "Unterminated string"),
        ("userName eq", 12, "Expected a value after 'eq'"),
        ("userName eq ", 13, "Expected a value after 'eq'"),
        ("userName eq bjensen", 13, "Expected a value after 'eq'"),
        (#"userName zz "x""#, 10, "Unknown operator 'zz'"),
        (#"userName equals "x""#, 10, "Unknown operator 'equals'"),
        ("userName", 9, "Expected an operator after 'userName'"),
        (#"userName "x""#, 10, "Expected an operator after 'userName'"),
        (#"(userName eq "x""#, 17, "Expected ')' to close the '(' opened at position 1, found the end of the filter"),
        (#"(userName eq "x"]"#, 17, "Expected ')' to close the '(' opened at position 1, found ']'"),
        (#"title pr and (userName eq "x" or (a pr)"#, 40, "Expected ')' to close the '(' opened at position 14, found the end"),
        (#"emails[type eq "work""#, 22, "Expected ']' to close the '[' opened at position 7, found the end"),
        (#"emails[type eq "work")"#, 22, "Expected ']' to close the '[' opened at position 7, found ')'"),
        (#"emails[type[value eq "x"]]"#, 12, "Value filters cannot be nested"),
        ("emails[(type[value pr])]", 13, "Value filters cannot be nested"),
        (#"not userName eq "x""#, 5, "Expected '(' after 'not'"),
        (#"userName eq "x" and not"#, 21, "Expected '(' after 'not'"),
        (#"userName eq "x" garbage"#, 17, "Expected 'and', 'or' or the end of the filter, found 'garbage'"),
        (#"userName eq "x")"#, 16, "end of the filter, found ')'"),
        (#"emails[type eq "work"]]"#, 23, "end of the filter, found ']'"),
        (#"title pr "x""#, 10, "end of the filter, found the string \"x\""),
        (#"user..name eq "x""#, 1, "Invalid attribute path 'user..name'"),
        (#"_id eq "x""#, 1, "Invalid attribute path '_id'"),
        (#"name.givenName.x eq "x""#, 1, "Invalid attribute path"),
        (#":userName eq "x""#, 1, "Invalid attribute path"),
        (#"1userName eq "x""#, 1, "Expected an attribute name, found the number 1"),
        (#"userName eq "x" and"#, 20, "Expected an attribute name, found the end of the filter"),
        (#"userName eq "x" and ("#, 22, "Expected an attribute name, found the end of the filter"),
        ("()", 2, "Expected an attribute name, found ')'"),
        ("emails[]", 8, "Expected an attribute name, found ']'"),
        (#"userName eq "a\qb""#, 13, "Invalid string literal"),
        (#"userName eq "\ud800""#, 13, "Invalid string literal"),
        ("userName eq \"a\u{01}b\"", 13, "Invalid string literal"),
        ("x eq 1.", 6, "Invalid number '1.'"),
        ("x eq 01", 6, "Invalid number '01'"),
        ("x eq -", 6, "Invalid number '-'"),
        ("x eq 1e999", 6, "Invalid number '1e999'"),
        ("x eq 1-2", 6, "Invalid number '1-2'"),
        (#"userName = "x""#, 10, "Unexpected character '='"),
        (#"userName eq 'x'"#, 13, "Unexpected character '''"),
        ("displayName eq \"Zoë\" and é", 26, "Unexpected character 'é'"),
    ]

    @Test("Invalid filters fail at the exact position", arguments: invalid)
    func rejectsInvalid(text: String, position: Int, message: String) {
        guard let error = Self.parseError(text) else { return }
        #expect(error.position == position, "\(error)")
        #expect(error.message.contains(message), "\(error)")
    }

    @Test func nestingBeyondTheMaximumDepthFailsAtTheFirstExcessParenthesis() {
        let error = Self.parseError(Self.nested(FilterParser.maximumDepth + 1))
        #expect(error?.position == FilterParser.maximumDepth + 1)
        #expect(error?.message.contains("nested deeper than 32") == true)
    }

    @Test func hostileNestingIsAnErrorNotACrash() {
        let error = Self.parseError(String(repeating: "(", count: 100_000))
        #expect(error?.position == 33)
        let brackets = Self.parseError(String(repeating: "a[", count: 10_000))
        // The second '[' is already a nested value filter, at position 4.
        #expect(brackets?.position == 4)
        #expect(brackets?.message.contains("cannot be nested") == true)
    }

    @Test func nestedNotsCountTowardsTheDepth() {
        // Each "not (" is 5 characters; the 33rd '(' is at 33 * 5 = 165.
        let text = String(repeating: "not (", count: 40) + "a pr" + String(repeating: ")", count: 40)
        #expect(Self.parseError(text)?.position == 165)
    }

    @Test func valuePathBeyondTheMaximumDepthFailsAtItsBracket() {
        // 32 parentheses, then "emails[": the '[' is the 33rd level, at 32 + 7 = 39.
        let text = String(repeating: "(", count: 32) + "emails[type pr]" + String(repeating: ")", count: 32)
        let error = Self.parseError(text)
        #expect(error?.position == 39)
        #expect(error?.message.contains("nested deeper") == true)
    }

    @Test func tooManyLogicalOperatorsFailAtTheFirstExcessOperator() {
        // "a pr or " is 8 characters, so operator k starts at 8k - 2; the 101st at 806.
        let text = Array(repeating: "a pr", count: FilterParser.maximumLogicalOperators + 2).joined(separator: " or ")
        let error = Self.parseError(text)
        #expect(error?.position == 8 * (FilterParser.maximumLogicalOperators + 1) - 2)
        #expect(error?.message.contains("more than 100") == true)
    }

    @Test func hostileAndChainIsAnErrorNotACrash() {
        let text = Array(repeating: "userName pr", count: 200_000).joined(separator: " and ")
        #expect(Self.parseError(text) != nil)
    }

    @Test func errorsBecomeInvalidFilterResponses() {
        let error = FilterError("Unknown operator 'zz'", position: 10)
        #expect(error.description == "Unknown operator 'zz' at position 10")
        #expect(error.scimError == SCIMError(status: 400, scimType: "invalidFilter", detail: "Unknown operator 'zz' at position 10"))
    }

    @Test func arbitraryInputNeverCrashesTheParser() {
        // A fixed pseudo-random walk over filter fragments: every input must either parse or throw.
        let fragments = [
            "userName", " eq ", " and ", " or ", "not", "(", ")", "[", "]", "\"x\"", "\"", "\\", "1", "-", ".", "e",
            " pr", "emails", ":", "urn:a:b", " ", "true", "null", "é", "\u{0}",
        ]
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        var outcomes = 0
        for _ in 0..<3_000 {
            var text = ""
            for _ in 0..<(Int(state % 12) + 1) {
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                text += fragments[Int((state >> 33) % UInt64(fragments.count))]
            }
            do {
                _ = try FilterParser.parse(text)
            } catch {
                #expect(error.position >= 1 && error.position <= text.unicodeScalars.count + 1, "\(text): \(error)")
            }
            outcomes += 1
        }
        #expect(outcomes == 3_000)
    }
}
