import Audit
import Testing

/// `Markdown.text`: names from identity providers render as themselves in reports, never as links,
/// emphasis, HTML or table structure.
struct MarkdownTests {
    @Test(arguments: [
        ("ada", "ada"),
        ("Ada Lövelace", "Ada Lövelace"),
        ("[login](http://evil)", #"\[login\](http://evil)"#),
        ("](http://evil)", #"\](http://evil)"#),
        ("![x](http://evil/pixel.png)", #"\!\[x\](http://evil/pixel.png)"#),
        ("a|b", #"a\|b"#),
        (#"a\|b"#, #"a\\\|b"#),
        ("*bold* _it_ ~gone~", #"\*bold\* \_it\_ \~gone\~"#),
        ("`code`", #"\`code\`"#),
        ("<img src=x onerror=alert(1)>", #"\<img src=x onerror=alert(1)\>"#),
        ("&lt;b&gt;", #"\&lt;b\&gt;"#),
        ("# heading", ##"\# heading"##),
        ("two\nlines\r\nthree\rfour\u{2028}five", "two lines three four five"),
        ("\u{1B}[31mred", #"\\u{1B}\[31mred"#),
        ("\u{202E}gpj.exe", #"\\u{202E}gpj.exe"#),
    ])
    func text(_ raw: String, _ expected: String) {
        #expect(Markdown.text(raw) == expected)
    }
}
