extension QRCode {
    /// How ``terminal(quietZone:style:)`` makes dark and light modules visible.
    public enum TerminalStyle: Sendable, Hashable {
        /// Every line is wrapped in ANSI escapes for black on bright white (`ESC[30;47;107m` …
        /// `ESC[0m`; terminals without the bright colours keep plain white), and the dark modules are
        /// drawn with block characters. Reads the same on dark and light terminals. The default.
        case ansiColors
        /// No escape sequences: the light modules are drawn with block characters and the dark ones
        /// left as spaces, so the code is right only on a terminal with a dark background (as with
        /// `qrencode -t UTF8`). For output that is not a terminal, such as a file or a pipe.
        case darkBackground
    }

    /// The symbol as text for a terminal, two module rows per line with the Unicode half blocks
    /// `▀` (upper), `▄` (lower), `█` (both) and spaces, so that each module is about square in a
    /// usual terminal font.
    ///
    /// `quietZone` is the light margin in modules; 2 is enough for phone cameras on a screen. A full
    /// wg-quick config (about 400 bytes: version 15, 77 modules) then takes 81 columns. With ``TerminalStyle/ansiColors`` (the
    /// default) the code reads on any background; see ``TerminalStyle`` for the plain alternative.
    /// Lines are separated by `"\n"`, with none after the last.
    public func terminal(quietZone: Int = 2, style: TerminalStyle = .ansiColors) -> String {
        let margin = max(quietZone, 0)
        let range = -margin..<(size + margin)
        // The block characters are the ink: dark modules in black on white, or light modules on a dark background.
        let inkIsDark = style == .ansiColors
        // Outside the symbol is light: the quiet zone, and the half line past the last row (the side is odd).
        func ink(_ x: Int, _ y: Int) -> Bool {
            isDark(x: x, y: y) == inkIsDark
        }
        var lines: [String] = []
        for top in stride(from: range.lowerBound, to: range.upperBound, by: 2) {
            var line = style == .ansiColors ? "\u{1B}[30;47;107m" : ""
            for x in range {
                let upper = ink(x, top)
                let lower = ink(x, top + 1)
                switch (upper, lower) {
                case (true, true): line += "█"
                case (true, false): line += "▀"
                case (false, true): line += "▄"
                case (false, false): line += " "
                }
            }
            if style == .ansiColors { line += "\u{1B}[0m" }
            lines.append(line)
        }
        return lines.joined(separator: "\n")
    }
}
