import ArgumentParser
import Audit
import Foundation
import PortcullisServer
import SCIM
import Store

/// `portcullis enroll`: one-time enrollment links.
struct EnrollCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "enroll",
        abstract: "Make one-time enrollment links that let a user set up their own device.",
        subcommands: [Create.self]
    )

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a link for a user and print its URL (shown only this once).",
            discussion: """
                The link opens the enrollment page of the running server: the user names the device and gets \
                the config with a QR code, once. Only the link's hash is stored.
                """
        )

        @OptionGroup var dataOptions: DataOptions

        @Option(help: "The user's userName (or id).")
        var user: String

        @Option(help: ArgumentHelp("How long the link works (default 72h).", valueName: "duration"))
        var ttl: String = "72h"

        @Option(
            name: .customLong("max-enrollment-ttl"),
            help: ArgumentHelp("The longest a link may work, as serve's flag of that name (default 30d).", valueName: "duration"))
        var maximumTTL: String = "30d"

        @Option(name: .customLong("public-url"), help: ArgumentHelp("Base URL users reach the server at (default http://127.0.0.1:8080).", valueName: "url"))
        var publicURL: String = "http://127.0.0.1:8080"

        @OptionGroup var output: ConfigOutput

        func validate() throws {
            guard let lifetime = DurationText.milliseconds(ttl) else {
                throw ValidationError("--ttl must be a duration such as 72h, 30m or 7d, not '\(ttl)'")
            }
            guard let maximum = DurationText.milliseconds(maximumTTL) else {
                throw ValidationError("--max-enrollment-ttl must be a duration such as 30d or 72h, not '\(maximumTTL)'")
            }
            guard lifetime <= maximum else {
                throw ValidationError(
                    "--ttl \(DurationText.text(lifetime)) is longer than --max-enrollment-ttl \(DurationText.text(maximum)); "
                        + "shorten it, or raise the maximum")
            }
        }

        func run() async throws {
            let store = try openStore(dataOptions)
            let entry = try await requireUser(user, in: store, data: dataOptions.data)
            let settings = EnrollmentSettings(
                publicURL: publicURL, maximumLinkLifetime: DurationText.milliseconds(maximumTTL) ?? EnrollmentSettings.defaultMaximumLinkLifetime)
            let service = EnrollmentService(store: store, settings: settings)
            let link = try await service.createLink(userID: entry.user.id, lifetime: DurationText.milliseconds(ttl), baseURL: nil)
            printError("link for \(TerminalText.safe(entry.user.attributes["userName"]?.stringValue ?? user)), works once, until \(SCIMDateTime.format(link.expires)):")
            if output.qr {
                try output.print(link.url)
            } else {
                print(link.url)
            }
        }
    }
}
