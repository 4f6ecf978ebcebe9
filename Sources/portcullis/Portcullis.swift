import ArgumentParser
import Foundation

/// The `portcullis` command: a SCIM-driven access controller for WireGuard gateways.
@main
struct Portcullis: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "portcullis",
        abstract: "A VPN access controller that identity providers drive over SCIM 2.0.",
        discussion: """
            Identity providers (Okta, Microsoft Entra ID, ...) push users and groups to `portcullis serve` over SCIM; \
            policies in policies/*.yaml decide who may reach what.
            """,
        subcommands: [Serve.self, Token.self, PolicyCommand.self, DeviceCommand.self, ReconcileCommand.self]
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
