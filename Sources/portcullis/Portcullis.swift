import ArgumentParser
import Foundation
import Store

/// The `portcullis` command: a SCIM-driven access controller for WireGuard gateways.
struct Portcullis: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "portcullis",
        abstract: "A VPN access controller that identity providers drive over SCIM 2.0.",
        discussion: """
            Identity providers (Okta, Microsoft Entra ID, ...) push users and groups to `portcullis serve` over SCIM; \
            policies in policies/*.yaml decide who may reach what.
            """,
        subcommands: [Serve.self, Token.self, PolicyCommand.self, DeviceCommand.self, EnrollCommand.self, ReconcileCommand.self, AuditCommand.self]
    )
}

/// The data folder option shared by every command that opens the database.
struct DataOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Folder holding the SQLite database.", valueName: "dir"))
    var data: String = "./data"
}

/// Prints one line to standard error.
func printError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}

/// Writes to standard output at once, unbuffered, for lines other programs wait for.
func printNow(_ message: String) {
    FileHandle.standardOutput.write(Data((message + "\n").utf8))
}

extension AsyncParsableCommand {
    /// Parses the command line and runs the chosen command, awaiting asynchronous ones: what `@main`
    /// does, which cannot be used together with the executor main.swift installs first.
    static func runAsRoot() async {
        do {
            var command = try parseAsRoot()
            // Changes a command makes are recorded in the audit log as the operator's; the server
            // names each change's actor itself (the token, the reconciler, the policy loader).
            let actor = command is Serve ? "system" : "cli:" + (ProcessInfo.processInfo.environment["SUDO_USER"] ?? NSUserName())
            try await AuditContext.$actor.withValue(actor) {
                if var asynchronous = command as? any AsyncParsableCommand {
                    try await runAsynchronously(&asynchronous)
                } else {
                    try command.run()
                }
            }
        } catch {
            exit(withError: error)
        }
    }
}

/// Runs a command's asynchronous `run()`. Generic over the concrete type, so that the asynchronous
/// requirement is chosen rather than `ParsableCommand`'s synchronous default, which prints help.
private func runAsynchronously<Command: AsyncParsableCommand>(_ command: inout Command) async throws {
    try await command.run()
}
