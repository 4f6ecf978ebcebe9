/// CSV (RFC 4180) that spreadsheets open without running anything: every cell passes through
/// `cell`, which quotes what must be quoted and neutralises formulas as OWASP recommends.
public enum CSV {
    /// One cell as written in a line. A cell beginning with `=`, `+`, `-`, `@`, tab or CR, which a
    /// spreadsheet would read as a formula (`=HYPERLINK(...)`, `=cmd|' /C calc'!A0`), gets a leading
    /// `'`, so it is shown as text; a cell holding a comma, quote, CR or LF is quoted, its quotes
    /// doubled. Other control characters, which no name needs and a terminal would act on when the
    /// CSV is printed, are written as `TerminalText` escapes; tab, CR and LF are kept.
    public static func cell(_ text: String) -> String {
        var cell = ""
        cell.reserveCapacity(text.utf8.count + 2)
        var quoted = false
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"":
                cell += "\"\""
                quoted = true
            case ",", "\r", "\n":
                cell.unicodeScalars.append(scalar)
                quoted = true
            case "\t":
                cell.unicodeScalars.append(scalar)
            default:
                if let escape = TerminalText.escape(scalar) { cell += escape } else { cell.unicodeScalars.append(scalar) }
            }
        }
        if let first = text.unicodeScalars.first, formulaStarts.contains(first) { cell = "'" + cell }
        return quoted ? "\"" + cell + "\"" : cell
    }

    /// Rows of cells as a CSV document: cells joined by commas, each line ending in CRLF.
    public static func document(_ rows: [[String]]) -> String {
        rows.map { $0.map(cell).joined(separator: ",") + "\r\n" }.joined()
    }

    /// The first characters that make a spreadsheet read a cell as a formula (OWASP, "CSV Injection").
    private static let formulaStarts: Set<Unicode.Scalar> = ["=", "+", "-", "@", "\t", "\r"]
}
