/// Markdown text that renders as itself: names from identity providers go into reports' tables and
/// must not become links, images, emphasis, HTML or extra table columns.
public enum Markdown {
    /// `text` for inline use (a table cell, a heading's text): each character Markdown would read as
    /// syntax (`\`, `` ` ``, `*`, `_`, `[`, `]`, `<`, `>`, `|`, `#`, `!`, `~`, `&`) backslash-escaped,
    /// line breaks (CR, LF, CRLF, U+2028, U+2029) as one space, so a table row stays one row, and
    /// other control characters as `TerminalText` escapes.
    public static func text(_ text: String) -> String {
        var escaped = ""
        escaped.reserveCapacity(text.utf8.count + 8)
        var previous: Unicode.Scalar?
        for scalar in text.unicodeScalars {
            defer { previous = scalar }
            switch scalar {
            case "\n" where previous == "\r":
                continue
            case "\r", "\n", "\u{2028}", "\u{2029}":
                escaped += " "
            case _ where syntax.contains(scalar):
                escaped += "\\"
                escaped.unicodeScalars.append(scalar)
            default:
                if let escape = TerminalText.escape(scalar) {
                    // The escape's backslash is itself Markdown syntax.
                    escaped += "\\" + escape
                } else {
                    escaped.unicodeScalars.append(scalar)
                }
            }
        }
        return escaped
    }

    private static let syntax: Set<Unicode.Scalar> = ["\\", "`", "*", "_", "[", "]", "<", ">", "|", "#", "!", "~", "&"]
}
