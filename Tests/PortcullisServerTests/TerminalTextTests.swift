import Audit
import SCIM
import Testing

/// `TerminalText`: what the CLI prints and the server logs shows names as text; nothing in them moves
/// the cursor, colours the screen, ends the line or reorders it.
struct TerminalTextTests {
    @Test(arguments: [
        ("ada", "ada"),
        ("é – “quoted” € 😀 日本", "é – “quoted” € 😀 日本"),
        ("\u{1B}[31mred\u{1B}[0m", #"\u{1B}[31mred\u{1B}[0m"#),
        ("a\nb\rc\td", #"a\nb\rc\td"#),
        ("\u{0}\u{7}\u{8}\u{7F}", #"\u{0}\u{7}\u{8}\u{7F}"#),
        ("\u{80}\u{85}\u{9B}31m\u{9F}", #"\u{80}\u{85}\u{9B}31m\u{9F}"#),
        ("\u{A0}kept", "\u{A0}kept"),
        ("line\u{2028}para\u{2029}", #"line\u{2028}para\u{2029}"#),
        ("\u{202A}\u{202B}\u{202C}\u{202D}\u{202E}", #"\u{202A}\u{202B}\u{202C}\u{202D}\u{202E}"#),
        ("\u{2066}\u{2067}\u{2068}\u{2069}", #"\u{2066}\u{2067}\u{2068}\u{2069}"#),
        ("\u{2027}\u{202F}\u{2065}\u{206A}", "\u{2027}\u{202F}\u{2065}\u{206A}"),
    ])
    func safe(_ text: String, _ expected: String) {
        #expect(TerminalText.safe(text) == expected)
    }

    /// JSON keeps its value: only the characters JSON leaves raw are rewritten, as JSON escapes.
    @Test func safeJSONEscapesWhatJSONLeavesRaw() throws {
        let value: JSON = ["userName": .string("\u{85}a\u{202E}b\u{7F}c\u{2028}é\u{1B}")]
        let safe = TerminalText.safeJSON(value.jsonText)
        #expect(safe == #"{"userName":"\u0085a\u202eb\u007fc\u2028é\u001b"}"#)
        #expect(try JSONParser.parse(safe) == value)
        #expect(TerminalText.safeJSON(#"{"a":"b – c"}"#) == #"{"a":"b – c"}"#)
    }
}
