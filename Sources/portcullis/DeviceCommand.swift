import ArgumentParser
import Foundation
import Policy
import Reconciler
import SCIM
import Store
import WireGuard

/// `portcullis device`: a user's WireGuard devices.
struct DeviceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "device",
        abstract: "Issue WireGuard devices to users.",
        subcommands: [Issue.self]
    )

    struct Issue: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a device for a user and print its wg-quick config.",
            discussion: """
                The key pair is generated here; the private key is printed once, in the config, and never stored. \
                A running server applies the new peer within a second.
                """
        )

        @OptionGroup var dataOptions: DataOptions

        @Option(help: "The user's userName (or id).")
        var user: String

        @Option(help: "A name for the device, e.g. laptop.")
        var name: String

        @Option(help: ArgumentHelp("The policy folder, for the config's AllowedIPs.", valueName: "dir"))
        var policies: String = "./policies"

        @Flag(help: "Add a WireGuard preshared key.")
        var presharedKey = false

        @OptionGroup var gateway: GatewayOptions

        func run() async throws {
            let file = try gateway.configFile()
            let configuration = try gateway.gatewayConfiguration(file: file, dryRun: false)
            let store = try openStore(dataOptions)
            guard let entry = try await findUser(user, in: store) else {
                printError("error: no user '\(user)' in \(dataOptions.data)")
                throw ExitCode.failure
            }
            let gatewayKey = try GatewayKeyFile.loadOrCreate(directory: dataOptions.data)
            var issuer = DeviceIssuer(store: store, configuration: configuration, gatewayPublicKey: gatewayKey.publicKey)
            issuer.allowedIPsMode = try gateway.allowedIPsMode(file: file)
            let policy = PolicyLoader.load(directory: policies).policy.map(CompiledPolicy.init)
            do {
                let (device, config) = try await issuer.issue(
                    userID: entry.user.id, name: name, withPresharedKey: presharedKey, policy: policy,
                    subject: PolicySubject(user: entry.user, groupNames: entry.groupNames))
                printError("issued device '\(device.name)' (\(device.id)) to \(entry.user.attributes["userName"]?.stringValue ?? user) at \(device.address4)")
                print(config, terminator: "")
            } catch let error as DeviceError {
                printError("error: \(error)")
                throw ExitCode.failure
            }
        }
    }
}

/// The directory entry of a user given by userName (ignoring case) or id.
func findUser(_ name: String, in store: Store) async throws -> Store.DirectoryEntry? {
    try await store.directory().first { entry in
        entry.user.id == name || entry.user.attributes["userName"]?.stringValue?.lowercased() == name.lowercased()
    }
}
