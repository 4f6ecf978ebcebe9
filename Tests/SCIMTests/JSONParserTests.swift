import Testing

@testable import SCIM

/// The hand-written JSON parser and serializer (RFC 8259).
struct JSONParserTests {
    static func parseError(_ text: String) -> JSONParser.Error? {
        parseError(Array(text.utf8))
    }

    static func parseError(_ bytes: [UInt8]) -> JSONParser.Error? {
        do {
            let value = try JSONParser.parse(bytes)
            Issue.record("Expected \(bytes) to be rejected, but it parsed as \(value.jsonText)")
            return nil
        } catch {
            return error
        }
    }

    // MARK: Round trips

    /// Compact documents that serialization reproduces byte for byte.
    static let compactDocuments: [String] = [
        "null",
        "true",
        "false",
        "0",
        "-1",
        "9223372036854775807",
        "-9223372036854775808",
        "1.5",
        "-0.25",
        "2.0",
        #""""#,
        #""abc""#,
        #""quote \" backslash \\ slash / newline \n return \r tab \t""#,
        #""control \u0001 \u001f""#,
        #""Zoë 😀 𝄞 中文""#,
        "[]",
        "{}",
        "[[]]",
        #"[1,"a",null,true,false,{"b":[]}]"#,
        #"{"z":1,"a":2,"m":{"y":[1,2],"b":null}}"#,
        #"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"bjensen","emails":[{"value":"b@example.com","primary":true}],"meta":{"version":"W/\"a330bc54f0671c9\""}}"#,
    ]

    @Test("Compact documents round-trip through parse and serialize", arguments: compactDocuments)
    func roundTripsText(text: String) throws {
        let value = try JSONParser.parse(text)
        #expect(value.jsonText == text)
        #expect(try JSONParser.parse(value.serialized()) == value)
    }

    @Test func whitespaceIsSkippedAndNotReproduced() throws {
        let value = try JSONParser.parse(" \n\t{ \"a\" : [ 1 , 2 ] ,\r\n \"b\" : { } }\r\n ")
        #expect(value.jsonText == #"{"a":[1,2],"b":{}}"#)
    }

    @Test func keyOrderIsPreserved() throws {
        let value = try JSONParser.parse(#"{"userName":"b","id":"1","active":true,"emails":[],"a":0}"#)
        #expect(value.objectValue?.keys == ["userName", "id", "active", "emails", "a"])
        #expect(value.jsonText == #"{"userName":"b","id":"1","active":true,"emails":[],"a":0}"#)
    }

    @Test func objectEqualityIgnoresMemberOrder() throws {
        let first = try JSONParser.parse(#"{"a":1,"b":[true]}"#)
        let second = try JSONParser.parse(#"{"b":[true],"a":1}"#)
        #expect(first == second)
        #expect(first.hashValue == second.hashValue)
        #expect(first != (try JSONParser.parse(#"{"a":1,"b":[false]}"#)))
    }

    @Test func objectsWithRepeatedKeysCompareMemberForMember() throws {
        // JSON text may repeat a key (RFC 8259 only says names SHOULD be unique); equality must stay an equivalence.
        let repeated = try JSONParser.parse(#"{"a":1,"a":2}"#)
        #expect(repeated.objectValue?.keys == ["a", "a"])
        #expect(repeated == repeated)
        #expect(repeated == (try JSONParser.parse(#"{"a":2,"a":1}"#)))
        #expect(repeated.hashValue == (try JSONParser.parse(#"{"a":2,"a":1}"#)).hashValue)
        #expect(repeated != (try JSONParser.parse(#"{"a":1,"a":1}"#)))
        let twice: JSONObject = ["a": 1, "a": 1]
        let distinct: JSONObject = ["a": 1, "b": 2]
        #expect(twice != distinct)
        #expect(distinct != twice)
    }

    static let decimals: [Double] = [0.1, -2.5, 1e-7, 1e20, -1e300, 123_456.789, .leastNonzeroMagnitude, .greatestFiniteMagnitude, 1e15, 999_999_999_999_999.0]

    @Test("Decimals survive serialization as decimals with the same value", arguments: decimals)
    func roundTripsDecimal(value: Double) throws {
        let text = JSON.decimal(value).jsonText
        #expect(try JSONParser.parse(text) == .decimal(value), "\(text)")
    }

    @Test func wholeDecimalsKeepAFractionSoTheyReadBackAsDecimals() {
        #expect(JSON.decimal(2).jsonText == "2.0")
        #expect(JSON.decimal(-17).jsonText == "-17.0")
        #expect(JSON.integer(2).jsonText == "2")
    }

    @Test func nonFiniteDecimalsSerializeAsNull() {
        #expect(JSON.decimal(.nan).jsonText == "null")
        #expect(JSON.decimal(.infinity).jsonText == "null")
        #expect(JSON.decimal(-.infinity).jsonText == "null")
    }

    @Test func serializerEscapesOnlyWhatJSONRequires() {
        let value = JSON.string("a\"b\\c\n\r\t\u{0}\u{8}\u{C}\u{1F}/é😀\u{7F}")
        #expect(value.jsonText == #""a\"b\\c\n\r\t\u0000\u0008\u000c\u001f/é😀"# + "\u{7F}\"")
    }

    @Test(
        "strings short and long, with and without something to escape, serialize and parse back the same",
        arguments: ["", "a", "ab\"", "\\", "short é", String(repeating: "x", count: 200), String(repeating: "x", count: 200) + "\"",
            "\n" + String(repeating: "y", count: 40), "ünïcödé only"])
    func stringsRoundTrip(text: String) throws {
        let serialized = JSON.string(text).jsonText
        #expect(try JSONParser.parse(Array(serialized.utf8)) == .string(text))
        #expect(serialized.hasPrefix("\"") && serialized.hasSuffix("\""))
    }

    // MARK: Numbers

    static let numbers: [(String, JSON)] = [
        ("0", .integer(0)),
        ("-0", .integer(0)),
        ("1", .integer(1)),
        ("-42", .integer(-42)),
        ("1.0", .decimal(1)),
        ("0.5", .decimal(0.5)),
        ("-0.5", .decimal(-0.5)),
        ("1e2", .decimal(100)),
        ("1E2", .decimal(100)),
        ("1e+2", .decimal(100)),
        ("25e-1", .decimal(2.5)),
        ("1.5E3", .decimal(1500)),
        // Beyond Int64 an integer can only be kept approximately.
        ("9223372036854775808", .decimal(9_223_372_036_854_775_808)),
        ("-12345678901234567890", .decimal(-12_345_678_901_234_567_168)),
    ]

    @Test("Integers and decimals are told apart", arguments: numbers)
    func parsesNumber(text: String, expected: JSON) throws {
        let value = try JSONParser.parse(text)
        #expect(value == expected)
        #expect(value.typeName == expected.typeName)
    }

    // MARK: Strings

    static let strings: [(String, String)] = [
        (#""\u00e9""#, "é"),
        (#""\u00E9""#, "é"),
        (#""caf\u00e9 au lait""#, "café au lait"),
        (#""\u4e2d\u6587""#, "中文"),
        (#""\ud83d\ude00""#, "😀"),
        (#""\uD834\uDD1E""#, "𝄞"),
        (#""x\ud83d\ude00y\u00e9""#, "x😀yé"),
        (#""\u0000""#, "\u{0}"),
        (#""a\u0022b""#, "a\"b"),
        (#""\/""#, "/"),
        (#""\b\f\n\r\t""#, "\u{8}\u{C}\n\r\t"),
        (#""\"\\""#, "\"\\"),
        (#""Zoë 😀""#, "Zoë 😀"),
        (#""\u2028\u2029""#, "\u{2028}\u{2029}"),
    ]

    @Test("Escapes and raw UTF-8 decode to the right characters", arguments: strings)
    func parsesString(text: String, expected: String) throws {
        #expect(try JSONParser.parse(text) == .string(expected))
    }

    @Test func escapedAndRawTextOfTheSameStringAreEqual() throws {
        #expect(try JSONParser.parse(#""\ud83d\ude00""#) == JSONParser.parse("\"😀\""))
    }

    // MARK: Invalid documents

    /// Invalid documents with the line and column (1-based, in characters) of the fault and a message fragment.
    static let invalid: [(String, Int, Int, String)] = [
        ("", 1, 1, "Unexpected end of input"),
        ("   ", 1, 4, "Unexpected end of input"),
        // Trailing commas.
        ("[1,]", 1, 4, "Unexpected character ']'"),
        (#"{"a":1,}"#, 1, 8, "Expected a string as object key"),
        ("[\r\n1,\r\n]", 3, 1, "Unexpected character ']'"),
        // Leading zeros and other malformed numbers.
        ("01", 1, 2, "Leading zeros"),
        ("[-012]", 1, 4, "Leading zeros"),
        ("00", 1, 2, "Leading zeros"),
        ("-", 1, 2, "Invalid number"),
        ("--1", 1, 2, "Invalid number"),
        ("1.", 1, 3, "Expected a digit after the decimal point"),
        ("1.e5", 1, 3, "Expected a digit after the decimal point"),
        ("1e", 1, 3, "Expected a digit in the exponent"),
        ("1e+", 1, 4, "Expected a digit in the exponent"),
        (".5", 1, 1, "Unexpected character '.'"),
        ("+1", 1, 1, "Unexpected character '+'"),
        ("[1, 1e400]", 1, 5, "Number out of range"),
        // Unescaped control characters.
        ("\"a\tb\"", 1, 3, "Unescaped control character"),
        ("\"a\nb\"", 1, 3, "Unescaped control character"),
        ("\"a\\nb\u{1}\"", 1, 6, "Unescaped control character"),
        // Surrogates: the fault is the escape that has no partner.
        (#""\ud800""#, 1, 2, "Unpaired UTF-16 surrogate"),
        (#""\udc00""#, 1, 2, "Unpaired UTF-16 surrogate"),
        (#""ab\ud800x""#, 1, 4, "Unpaired UTF-16 surrogate"),
        (#""\ud800"#, 1, 2, "Unpaired UTF-16 surrogate"),
        (#""\ude00\ud83d""#, 1, 2, "Unpaired UTF-16 surrogate"),
        (#""\ud800\u0041""#, 1, 8, "Invalid UTF-16 surrogate pair"),
        (#""\ud800\ud800""#, 1, 8, "Invalid UTF-16 surrogate pair"),
        // Bad escapes.
        (#""\x""#, 1, 3, #"Invalid escape sequence '\x'"#),
        (#""\U00e9""#, 1, 3, "Invalid escape sequence"),
        (#""\u12G4""#, 1, 6, "Invalid hexadecimal digit"),
        (#""\u12""#, 1, 4, #"Incomplete \u escape"#),
        (#""\"#, 1, 3, "Unterminated escape sequence"),
        // Truncated input.
        (#"{"a":"#, 1, 6, "Unexpected end of input"),
        ("[1,2", 1, 5, "Expected ',' or ']' in array"),
        (#"{"a""#, 1, 5, "Expected ':' after object key"),
        (#"{"a":1"#, 1, 7, "Expected ',' or '}' in object"),
        (#""abc"#, 1, 5, "Unterminated string"),
        ("[", 1, 2, "Unexpected end of input"),
        ("{", 1, 2, "Expected a string as object key"),
        ("tru", 1, 1, "Unexpected character 't'"),
        ("nul", 1, 1, "Unexpected character 'n'"),
        // Other malformed structure.
        ("True", 1, 1, "Unexpected character 'T'"),
        ("'a'", 1, 1, "Unexpected character '''"),
        ("{a:1}", 1, 2, "Expected a string as object key"),
        ("[1 2]", 1, 4, "Expected ',' or ']' in array"),
        ("[1,,2]", 1, 4, "Unexpected character ','"),
        (#"{"a" 1}"#, 1, 6, "Expected ':' after object key"),
        (#"{"a":1 "b":2}"#, 1, 8, "Expected ',' or '}' in object"),
        // Trailing content.
        ("{} x", 1, 4, "Unexpected content after the JSON value"),
        ("1 2", 1, 3, "Unexpected content after the JSON value"),
        ("[]]", 1, 3, "Unexpected content after the JSON value"),
        ("[1]x", 1, 4, "Unexpected content after the JSON value"),
        (#"{"a":1}}"#, 1, 8, "Unexpected content after the JSON value"),
        ("nullx", 1, 5, "Unexpected content after the JSON value"),
        // Lines and columns: columns count characters, not bytes, and restart after each line feed.
        ("{\n  \"a\": 1,\n  \"b\": tru\n}", 3, 8, "Unexpected character 't'"),
        ("{\"é\": x}", 1, 7, "Unexpected character 'x'"),
        ("[\"😀😀\", ]", 1, 8, "Unexpected character ']'"),
        ("\n\n\n   ]", 4, 4, "Unexpected character ']'"),
    ]

    @Test("Invalid documents fail at the right line and column", arguments: invalid)
    func rejectsInvalid(text: String, line: Int, column: Int, message: String) {
        guard let error = Self.parseError(text) else { return }
        #expect(error.line == line, "\(error)")
        #expect(error.column == column, "\(error)")
        #expect(error.message.contains(message), "\(error)")
    }

    @Test func invalidUTF8IsAnError() {
        for bytes: [UInt8] in [[0x22, 0xFF, 0x22], [0x22, 0xC3, 0x22], [0x22, 0xED, 0xA0, 0x80, 0x22], [0x22, 0x5C, 0x6E, 0xC0, 0xAF, 0x22]] {
            let error = Self.parseError(bytes)
            #expect(error?.line == 1)
            #expect(error?.message.contains("Invalid UTF-8") == true)
        }
    }

    @Test func errorDescriptionNamesLineAndColumn() {
        let error = Self.parseError("[1,]")
        #expect(error?.description == "Unexpected character ']', expected a value at line 1, column 4")
    }

    // MARK: Depth

    @Test func nestingUpToTheMaximumDepthIsAccepted() throws {
        let depth = JSONParser.maximumDepth
        let arrays = String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
        #expect(try JSONParser.parse(arrays).jsonText == arrays)
        let objects = String(repeating: #"{"a":"#, count: depth - 1) + "{}" + String(repeating: "}", count: depth - 1)
        #expect(try JSONParser.parse(objects).jsonText == objects)
    }

    @Test func nestingOf65LevelsFailsAtThe65thOpening() {
        let arrays = String(repeating: "[", count: 65) + String(repeating: "]", count: 65)
        let error = Self.parseError(arrays)
        #expect(error?.column == 65)
        #expect(error?.message.contains("Nesting deeper than 64 levels") == true)
        // Each `{"a":` is 5 characters, so the 65th '{' is at 5 * 64 + 1.
        let objects = String(repeating: #"{"a":"#, count: 65) + "1" + String(repeating: "}", count: 65)
        #expect(Self.parseError(objects)?.column == 321)
        let mixed = String(repeating: #"[{"a":"#, count: 33) + "1"
        // Level 65 is the '[' of the 33rd repetition: 32 * 6 + 1.
        #expect(Self.parseError(mixed)?.column == 193)
    }

    @Test func hostileNestingIsAnErrorNotACrash() {
        #expect(Self.parseError(String(repeating: "[", count: 1_000_000))?.column == 65)
    }

    // MARK: Robustness

    static let sample = #"{"a":[1,-2.5e3,"x\u00e9\ud83d\ude00",true,false,null],"b":{"c":{}},"d":"\"\\\/"}"#

    @Test func everyProperPrefixOfADocumentIsAnError() {
        let bytes = Array(Self.sample.utf8)
        #expect((try? JSONParser.parse(bytes)) != nil)
        for length in 0..<bytes.count {
            let error = Self.parseError(Array(bytes[..<length]))
            #expect(error?.line == 1)
            #expect((error?.column ?? 0) >= 1 && (error?.column ?? .max) <= length + 1)
        }
    }

    @Test func randomlyCorruptedDocumentsNeverCrash() {
        let original = Array(Self.sample.utf8)
        let replacements = Array(#"{}[]",:\u0123456789-+.eEtrufalsn "#.utf8) + [0x00, 0x0A, 0x1F, 0x7F, 0x80, 0xC3, 0xED, 0xFF]
        var state: UInt64 = 42
        func next() -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int(state >> 33)
        }
        var rejected = 0
        for _ in 0..<5_000 {
            var bytes = original
            for _ in 0..<(next() % 4 + 1) {
                let position = next() % bytes.count
                switch next() % 3 {
                case 0: bytes[position] = replacements[next() % replacements.count]
                case 1: bytes.remove(at: position)
                default: bytes.insert(replacements[next() % replacements.count], at: position)
                }
            }
            do {
                let value = try JSONParser.parse(bytes)
                // Whatever parses must serialize to something that parses back to the same value.
                let reparsed = try? JSONParser.parse(value.serialized())
                #expect(reparsed == value, "\(String(decoding: bytes, as: UTF8.self)) -> \(value.jsonText)")
            } catch {
                rejected += 1
                #expect(error.line >= 1 && error.column >= 1)
            }
        }
        #expect(rejected > 0)
    }
}
