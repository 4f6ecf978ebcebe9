import Audit
import Testing

/// `CSV.cell`: RFC 4180 quoting and OWASP's formula neutralisation, for names from identity providers
/// that reach spreadsheets.
struct CSVTests {
    @Test(arguments: [
        ("ada", "ada"),
        ("", ""),
        ("Ada Lövelace", "Ada Lövelace"),
        ("=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"),
        (#"=HYPERLINK("http://evil","click")"#, #""'=HYPERLINK(""http://evil"",""click"")""#),
        ("-1+2", "'-1+2"),
        ("+1", "'+1"),
        ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
        ("\tx", "'\tx"),
        ("\rx", "\"'\rx\""),
        ("a-b=c+d@e", "a-b=c+d@e"),
        ("a,b", "\"a,b\""),
        (#"say "hi""#, #""say ""hi""""#),
        ("two\nlines", "\"two\nlines\""),
        ("tab\tinside", "tab\tinside"),
        ("\u{1B}[31mred", #"\u{1B}[31mred"#),
        ("\u{202E}gpj.exe", #"\u{202E}gpj.exe"#),
        ("\u{85}next", #"\u{85}next"#),
    ])
    func cells(_ text: String, _ expected: String) {
        #expect(CSV.cell(text) == expected)
    }

    @Test func aDocumentJoinsCellsWithCommasAndEndsLinesWithCRLF() {
        #expect(CSV.document([["user", "note"], ["=1+1", "a,b"], ["", "x"]]) == "user,note\r\n'=1+1,\"a,b\"\r\n,x\r\n")
        #expect(CSV.document([]) == "")
    }
}
