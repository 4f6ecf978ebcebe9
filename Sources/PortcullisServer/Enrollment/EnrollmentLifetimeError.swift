/// A link was asked to work longer than the server allows (`--max-enrollment-ttl`).
public struct EnrollmentLifetimeError: Error, Sendable, CustomStringConvertible {
    /// Milliseconds.
    public let requested: Int64
    public let maximum: Int64

    public var description: String {
        "an enrollment link may work at most \(DurationText.text(maximum)) (--max-enrollment-ttl), not \(DurationText.text(requested))"
    }
}
