import Testing

@testable import SCIM

/// xsd:dateTime values (RFC 7643 §2.3.5) as milliseconds since the Unix epoch.
struct SCIMDateTimeTests {
    /// Instants and their canonical text. Millisecond values were computed independently (proleptic Gregorian, UTC).
    static let canonical: [(SCIMDateTime.Milliseconds, String)] = [
        (0, "1970-01-01T00:00:00.000Z"),
        (1, "1970-01-01T00:00:00.001Z"),
        (-1, "1969-12-31T23:59:59.999Z"),
        (1_700_000_000_000, "2023-11-14T22:13:20.000Z"),
        (1_795_920_481_123, "2026-11-29T02:48:01.123Z"),
        // Before 1970.
        (-14_182_940_000, "1969-07-20T20:17:40.000Z"),
        (-2_208_988_800_000, "1900-01-01T00:00:00.000Z"),
        (-2_208_988_800_999, "1899-12-31T23:59:59.001Z"),
        (-62_135_596_800_000, "0001-01-01T00:00:00.000Z"),
        // Leap days, including a century that is a leap year (1600, 2000) and before 1970 (1904).
        (951_782_400_000, "2000-02-29T00:00:00.000Z"),
        (1_709_251_199_999, "2024-02-29T23:59:59.999Z"),
        (-2_077_747_200_000, "1904-02-29T00:00:00.000Z"),
        (-11_670_955_199_500, "1600-02-29T12:00:00.500Z"),
        (253_402_300_799_999, "9999-12-31T23:59:59.999Z"),
    ]

    @Test("format writes YYYY-MM-DDTHH:MM:SS.mmmZ", arguments: canonical)
    func formats(milliseconds: SCIMDateTime.Milliseconds, text: String) {
        #expect(SCIMDateTime.format(milliseconds) == text)
    }

    @Test("parse reads what format writes", arguments: canonical)
    func parses(milliseconds: SCIMDateTime.Milliseconds, text: String) {
        #expect(SCIMDateTime.parse(text) == milliseconds)
    }

    @Test func everyDayFrom1896To2104RoundTrips() {
        // Four centuries' worth of leap-year rules around the epoch, one instant per day at a varying time of day.
        let day: SCIMDateTime.Milliseconds = 86_400_000
        let first = -2_335_219_200_000 as SCIMDateTime.Milliseconds  // 1896-01-01
        var failures = 0
        var previous: String?
        for index in 0..<(209 * 366) {
            let milliseconds = first + SCIMDateTime.Milliseconds(index) * day + SCIMDateTime.Milliseconds(index * 7_919 % 86_400_000)
            let text = SCIMDateTime.format(milliseconds)
            if SCIMDateTime.parse(text) != milliseconds { failures += 1 }
            // Texts of increasing instants sort the same way (fixed width, same zone).
            if let previous, previous >= text { failures += 1 }
            previous = text
        }
        #expect(failures == 0)
    }

    @Test func leapDayExistsOnlyInLeapYears() {
        #expect(SCIMDateTime.parse("2024-02-29T00:00:00Z") != nil)
        #expect(SCIMDateTime.parse("2000-02-29T00:00:00Z") != nil)
        #expect(SCIMDateTime.parse("1600-02-29T00:00:00Z") != nil)
        #expect(SCIMDateTime.parse("2023-02-29T00:00:00Z") == nil)
        #expect(SCIMDateTime.parse("1900-02-29T00:00:00Z") == nil)
        #expect(SCIMDateTime.parse("2100-02-29T00:00:00Z") == nil)
        // The day after a leap day is one day later.
        let leapDay = SCIMDateTime.parse("2024-02-29T00:00:00Z")
        let march = SCIMDateTime.parse("2024-03-01T00:00:00Z")
        #expect(leapDay.map { $0 + 86_400_000 } == march)
    }

    // MARK: Time zones

    static let offsets: [(String, String)] = [
        ("2026-11-29T04:48:01+02:00", "2026-11-29T02:48:01Z"),
        ("2026-11-28T21:18:01-05:30", "2026-11-29T02:48:01Z"),
        ("2026-11-29T02:48:01+00:00", "2026-11-29T02:48:01Z"),
        ("2026-11-29T02:48:01-00:00", "2026-11-29T02:48:01Z"),
        ("2026-11-29T16:48:01+14:00", "2026-11-29T02:48:01Z"),
        ("2026-11-28T14:48:01-12:00", "2026-11-29T02:48:01Z"),
        // Offsets carry instants across days, months, years and leap days.
        ("2024-03-01T01:00:00+02:00", "2024-02-29T23:00:00Z"),
        ("2024-12-31T23:30:00-01:00", "2025-01-01T00:30:00Z"),
        ("1970-01-01T00:00:00.5-01:00", "1970-01-01T01:00:00.500Z"),
        // Lower-case separators (RFC 3339 §5.6 allows them) and no zone at all (read as UTC).
        ("2026-11-29t02:48:01z", "2026-11-29T02:48:01Z"),
        ("2026-11-29T02:48:01", "2026-11-29T02:48:01Z"),
    ]

    @Test("Offsets are applied to get the UTC instant", arguments: offsets)
    func appliesOffset(text: String, utc: String) throws {
        let expected = try #require(SCIMDateTime.parse(utc))
        #expect(SCIMDateTime.parse(text) == expected)
    }

    @Test func offsetTextFormatsBackInUTC() {
        #expect(SCIMDateTime.parse("2011-05-13T06:42:34.123+02:00").map(SCIMDateTime.format) == "2011-05-13T04:42:34.123Z")
    }

    // MARK: Fractional seconds

    static let fractions: [(String, SCIMDateTime.Milliseconds)] = [
        ("", 0),
        (".1", 100),
        (".12", 120),
        (".123", 123),
        (".1234", 123),
        (".12345", 123),
        (".123456", 123),
        (".1234567", 123),
        (".12345678", 123),
        (".123456789", 123),
        (".000000001", 0),
        (".999999999", 999),  // truncated, not rounded into the next second
        (".05", 50),
        (".007", 7),
    ]

    @Test("Fractional seconds of 1 to 9 digits keep their milliseconds", arguments: fractions)
    func readsFraction(fraction: String, milliseconds: SCIMDateTime.Milliseconds) {
        // 2026-11-29T02:48:01Z is 1_795_920_481 seconds after the epoch.
        #expect(SCIMDateTime.parse("2026-11-29T02:48:01\(fraction)Z") == 1_795_920_481_000 + milliseconds)
        #expect(SCIMDateTime.parse("2026-11-29T04:48:01\(fraction)+02:00") == 1_795_920_481_000 + milliseconds)
    }

    @Test func leapSecondIsReadAsTheLastSecondOfTheMinute() {
        #expect(SCIMDateTime.parse("2016-12-31T23:59:60Z") == SCIMDateTime.parse("2016-12-31T23:59:59Z"))
    }

    // MARK: Invalid

    static let invalid: [String] = [
        "",
        "2024-13-01T00:00:00Z",  // month 13
        "2024-00-10T00:00:00Z",  // month 0
        "2024-02-30T00:00:00Z",  // Feb 30
        "2023-02-29T00:00:00Z",  // not a leap year
        "2024-04-31T00:00:00Z",  // April has 30 days
        "2024-01-32T00:00:00Z",
        "2024-01-00T00:00:00Z",
        "2024-01-01T25:00:00Z",
        "2024-01-01T12:60:00Z",
        "2024-01-01T12:00:61Z",
        // Missing parts.
        "2024-01-01",
        "2024-01-01T",
        "2024-01-01T12:00Z",
        "2024-01-01T12Z",
        "2024-01T12:00:00Z",
        "T12:00:00Z",
        "2024-01-01T12:00:00.Z",
        "2024-01-01T12:00:00+02",
        "2024-01-01T12:00:00+",
        // Wrong widths and separators.
        "2024-1-01T00:00:00Z",
        "2024-01-1T00:00:00Z",
        "24-01-01T00:00:00Z",
        "2024-01-01T1:00:00Z",
        "2024/01/01T00:00:00Z",
        "2024-01-01X12:00:00Z",
        "2024-01-01 12:00:00Z",
        "2024-01-01T12.00.00Z",
        "2024-01-01T12:00:00+0200",
        // Bad zones and trailing or leading text.
        "2024-01-01T12:00:00+02:60",
        "2024-01-01T12:00:00+15:00",
        "2024-01-01T12:00:00UTC",
        "2024-01-01T12:00:00ZZ",
        "2024-01-01T12:00:00Z ",
        " 2024-01-01T12:00:00Z",
        "2024-01-01T12:00:00.123.456Z",
        "abcd-01-01T00:00:00Z",
        "2024-0a-01T00:00:00Z",
        "+2024-01-01T00:00:00Z",
        "-2024-01-01T00:00:00Z",
        "٢٠٢٤-01-01T00:00:00Z",  // non-ASCII digits
    ]

    @Test("Invalid dateTimes are rejected", arguments: invalid)
    func rejects(text: String) {
        #expect(SCIMDateTime.parse(text) == nil)
    }
}
