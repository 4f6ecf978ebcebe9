/// Durations as people write them in flags and API bodies: `90d`, `72h`, `30m`, `45s`, or seconds.
public enum DurationText {
    /// The longest duration accepted, 100 years: adding it to a time cannot overflow.
    public static let maximum: Int64 = 36_500 * 86_400_000

    /// Milliseconds, or nil if `text` is not a positive duration of at most ``maximum``.
    public static func milliseconds(_ text: String) -> Int64? {
        let trimmed = text.filter { !$0.isWhitespace }.lowercased()
        guard let unit = trimmed.last else { return nil }
        let factor: Int64
        var number = Substring(trimmed)
        switch unit {
        case "d": factor = 86_400_000; number = number.dropLast()
        case "h": factor = 3_600_000; number = number.dropLast()
        case "m": factor = 60_000; number = number.dropLast()
        case "s": factor = 1_000; number = number.dropLast()
        default: factor = 1_000
        }
        guard let value = Int64(number), value > 0, value <= maximum / factor else { return nil }
        return value * factor
    }

    /// `milliseconds` in the largest unit that states it exactly, as ``milliseconds(_:)`` reads it:
    /// `30d`, `36h`, `90m`, `45s` (a fraction of a second is rounded up).
    public static func text(_ milliseconds: Int64) -> String {
        let seconds = milliseconds / 1000 + (milliseconds % 1000 > 0 ? 1 : 0)
        for (unit, size) in [("d", Int64(86_400)), ("h", 3_600), ("m", 60)] where seconds > 0 && seconds % size == 0 {
            return "\(seconds / size)\(unit)"
        }
        return "\(seconds)s"
    }
}
