/// How enrollment links are made and announced.
public struct EnrollmentSettings: Sendable {
    /// The longest a link may work unless configured otherwise: 30 days.
    public static let defaultMaximumLinkLifetime: Int64 = 30 * 86_400_000

    /// The base URL users reach the server at, e.g. `https://vpn.example.com`, for links made without
    /// a request (webhooks). Links made through the API use the request's host when this is nil.
    public var publicURL: String?
    /// How long a link works, in milliseconds.
    public var linkLifetime: Int64
    /// The longest a link may work, in milliseconds: a link is a credential in someone's mailbox, so
    /// one asked for with a longer lifetime is refused rather than left usable for months.
    public var maximumLinkLifetime: Int64
    /// Whether the identity provider provisioning an active user creates a link and a webhook.
    public var automatic: Bool
    /// Where webhook messages go, and the secret they are signed with (HMAC-SHA256).
    public var webhookURL: String?
    public var webhookSecret: [UInt8]

    public init(
        publicURL: String? = nil, linkLifetime: Int64 = 72 * 3_600_000, maximumLinkLifetime: Int64 = Self.defaultMaximumLinkLifetime,
        automatic: Bool = false, webhookURL: String? = nil, webhookSecret: [UInt8] = []
    ) {
        self.publicURL = publicURL
        self.linkLifetime = linkLifetime
        self.maximumLinkLifetime = maximumLinkLifetime
        self.automatic = automatic
        self.webhookURL = webhookURL
        self.webhookSecret = webhookSecret
    }
}
