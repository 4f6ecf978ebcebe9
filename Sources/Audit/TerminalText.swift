/// Text from outside (identity providers' names, requests) made safe to write to a terminal or a log
/// line: every character a terminal would act on instead of showing, or that would end the line or
/// reorder what follows, is written as a visible escape. The CLI's tables and the server's log lines
/// use it, and the CSV and Markdown writers for what their formats leave alone.
///
/// It lives in `Audit`, with the CSV and Markdown writers, because this module owns the text the
/// project writes for people to read, and both the CLI and the server already import it (the CLI
/// without the HTTP module's help).
public enum TerminalText {
    /// `text` with `\n`, `\r` and `\t` written as those escapes, and every other C0 control, DEL, C1
    /// control, line or paragraph separator (U+2028, U+2029) and bidirectional override or isolate
    /// (U+202A–U+202E, U+2066–U+2069) as `\u{1B}`; everything else is kept.
    public static func safe(_ text: String) -> String {
        guard text.utf8.contains(where: mayBeginEscapedCharacter) else { return text }
        var escaped = ""
        escaped.reserveCapacity(text.utf8.count + 16)
        for scalar in text.unicodeScalars {
            if let escape = escape(scalar) {
                escaped += escape
            } else {
                escaped.unicodeScalars.append(scalar)
            }
        }
        return escaped
    }

    /// JSON text (as the project's serializer writes it) with the characters `safe` escapes that
    /// JSON leaves raw (DEL, C1, U+2028, U+2029, the bidirectional controls) written as `\uXXXX`:
    /// the same JSON value, safe on a terminal. JSON already escapes the C0 controls.
    public static func safeJSON(_ json: String) -> String {
        guard json.utf8.contains(where: mayBeginEscapedCharacter) else { return json }
        var escaped = ""
        escaped.reserveCapacity(json.utf8.count + 16)
        for scalar in json.unicodeScalars {
            if scalar.value >= 0x20, isEscaped(scalar) {
                let hex = String(scalar.value, radix: 16)
                escaped += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            } else {
                escaped.unicodeScalars.append(scalar)
            }
        }
        return escaped
    }

    /// The visible escape `safe` writes for `scalar`, or nil to keep it.
    static func escape(_ scalar: Unicode.Scalar) -> String? {
        switch scalar {
        case "\n": return "\\n"
        case "\r": return "\\r"
        case "\t": return "\\t"
        default: return isEscaped(scalar) ? "\\u{" + String(scalar.value, radix: 16, uppercase: true) + "}" : nil
        }
    }

    static func isEscaped(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x00...0x1F, 0x7F...0x9F, 0x2028, 0x2029, 0x202A...0x202E, 0x2066...0x2069: return true
        default: return false
        }
    }

    /// Whether `byte` is, or may begin the UTF-8 of, a character `safe` escapes: C0 and DEL themselves,
    /// 0xC2 the lead byte of C1, 0xE2 that of U+2028 to U+202E and U+2066 to U+2069. Most text has
    /// none, and is returned as it is after this one pass over its bytes.
    private static func mayBeginEscapedCharacter(_ byte: UInt8) -> Bool {
        byte < 0x20 || byte == 0x7F || byte == 0xC2 || byte == 0xE2
    }
}
