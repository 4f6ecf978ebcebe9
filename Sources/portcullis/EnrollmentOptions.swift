import ArgumentParser
import Foundation
import PortcullisServer

/// How `serve` hands out enrollment links and announces them: flags, or the same names in `--config`.
struct EnrollmentOptions: ParsableArguments {
    @Option(name: .customLong("public-url"), help: ArgumentHelp("Base URL users reach this server at, for links in webhooks (e.g. https://vpn.example.com).", valueName: "url"))
    var publicURL: String?

    @Option(name: .customLong("enrollment-ttl"), help: ArgumentHelp("How long an enrollment link works (default 72h).", valueName: "duration"))
    var enrollmentTTL: String?

    @Option(
        name: .customLong("max-enrollment-ttl"),
        help: ArgumentHelp("The longest a link may work; a longer one is refused, also through the API (default 30d).", valueName: "duration"))
    var maximumEnrollmentTTL: String?

    @Flag(name: .customLong("auto-enroll"), inversion: .prefixedNo, help: "Create a link when the identity provider provisions an active user (or changes their routes) and send it to --webhook-url.")
    var automatic: Bool?

    @Option(name: .customLong("webhook-url"), help: ArgumentHelp("Where enrollment announcements are POSTed, signed with HMAC-SHA256.", valueName: "url"))
    var webhookURL: String?

    @Option(
        name: .customLong("webhook-secret-file"),
        help: ArgumentHelp(
            "File holding the webhook signing secret (default under systemd: the credential webhook-secret, see LoadCredential=).",
            valueName: "file"))
    var webhookSecretFile: String?

    @Flag(
        name: .customLong("webhook-allow-http"), inversion: .prefixedNo,
        help: "Allow an http:// --webhook-url (messages carry enrollment links: only for a receiver on a trusted network).")
    var webhookAllowHTTP: Bool?

    static let settingNames = ["public-url", "enrollment-ttl", "max-enrollment-ttl", "auto-enroll", "webhook-url", "webhook-secret-file", "webhook-allow-http"]

    /// The credential systemd's `LoadCredential=webhook-secret:FILE` puts in `$CREDENTIALS_DIRECTORY`.
    static let secretCredential = "webhook-secret"

    /// The settings: flag, else config file, else default.
    func settings(file: [String: String]) throws -> EnrollmentSettings {
        var settings = EnrollmentSettings()
        if let url = publicURL ?? file["public-url"] {
            guard let parsed = URL(string: url), ["http", "https"].contains(parsed.scheme ?? ""), parsed.host != nil else {
                throw ValidationError("--public-url must be an http(s) URL such as https://vpn.example.com, not '\(url)'")
            }
            settings.publicURL = url
        }
        if let text = enrollmentTTL ?? file["enrollment-ttl"] {
            guard let lifetime = DurationText.milliseconds(text) else {
                throw ValidationError("--enrollment-ttl must be a duration such as 72h, 30m or 7d, not '\(text)'")
            }
            settings.linkLifetime = lifetime
        }
        if let text = maximumEnrollmentTTL ?? file["max-enrollment-ttl"] {
            guard let maximum = DurationText.milliseconds(text) else {
                throw ValidationError("--max-enrollment-ttl must be a duration such as 30d or 72h, not '\(text)'")
            }
            settings.maximumLinkLifetime = maximum
        }
        guard settings.linkLifetime <= settings.maximumLinkLifetime else {
            throw ValidationError(
                "--enrollment-ttl \(DurationText.text(settings.linkLifetime)) is longer than --max-enrollment-ttl "
                    + "\(DurationText.text(settings.maximumLinkLifetime)); shorten it, or raise the maximum")
        }
        settings.automatic = automatic ?? file["auto-enroll"].map { ["true", "yes", "1"].contains($0.lowercased()) } ?? false
        if let url = webhookURL ?? file["webhook-url"] {
            guard let parsed = URL(string: url), ["http", "https"].contains(parsed.scheme ?? ""), parsed.host != nil else {
                throw ValidationError("--webhook-url must be an http(s) URL, not '\(url)'")
            }
            let allowHTTP = webhookAllowHTTP ?? file["webhook-allow-http"].map { ["true", "yes", "1"].contains($0.lowercased()) } ?? false
            guard parsed.scheme == "https" || allowHTTP else {
                throw ValidationError(
                    "--webhook-url must be https://: messages carry enrollment links that give VPN access; "
                        + "add --webhook-allow-http only for a receiver on a network you trust")
            }
            guard let path = webhookSecretFile ?? file["webhook-secret-file"] ?? Self.credentialPath() else {
                throw ValidationError(
                    "--webhook-url needs --webhook-secret-file (or, under systemd, LoadCredential=\(Self.secretCredential):FILE): "
                        + "receivers check the signature with that secret")
            }
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw ValidationError("cannot read the webhook secret file \(path)")
            }
            let secret = text.trimmingCharacters(in: .whitespacesAndNewlines)
            guard secret.utf8.count >= 16 else {
                throw ValidationError("the webhook secret in \(path) is shorter than 16 bytes")
            }
            settings.webhookURL = url
            settings.webhookSecret = Array(secret.utf8)
        }
        if settings.automatic, settings.webhookURL == nil {
            throw ValidationError("--auto-enroll needs --webhook-url: the link has to reach the user somehow")
        }
        if settings.automatic, settings.publicURL == nil {
            throw ValidationError("--auto-enroll needs --public-url, the address users open links at")
        }
        return settings
    }

    /// `$CREDENTIALS_DIRECTORY/webhook-secret` when systemd passed that credential.
    private static func credentialPath() -> String? {
        guard let directory = ProcessInfo.processInfo.environment["CREDENTIALS_DIRECTORY"], !directory.isEmpty else { return nil }
        let path = directory + "/" + secretCredential
        return FileManager.default.fileExists(atPath: path) ? path : nil
    }
}
