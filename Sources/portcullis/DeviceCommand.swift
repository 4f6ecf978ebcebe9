import ArgumentParser
import Audit
import Foundation
import Policy
import PortcullisServer
import QRCode
import Reconciler
import SCIM
import Store
import WireGuard

/// `portcullis device`: a user's WireGuard devices, managed in the database. A running server picks
/// the change up within a second (it watches the database for writes from other processes).
struct DeviceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "device",
        abstract: "Issue, list, revoke and rotate users' WireGuard devices.",
        subcommands: [Issue.self, List.self, Revoke.self, Rotate.self]
    )

    struct Issue: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a device for a user and print its wg-quick config.",
            discussion: """
                Without --public-key the key pair is generated here; the private key is printed once, in the config, \
                and never stored. A running server applies the new peer within a second.
                """
        )

        @OptionGroup var dataOptions: DataOptions

        @Option(help: "The user's userName (or id).")
        var user: String

        @Option(help: "A name for the device, e.g. laptop.")
        var name: String

        @Option(name: .customLong("public-key"), help: ArgumentHelp("The device's own public key; its private key stays with the user.", valueName: "base64"))
        var publicKey: String?

        @Flag(help: "Add a WireGuard preshared key.")
        var presharedKey = false

        @Option(name: .customLong("key-ttl"), help: ArgumentHelp("Revoke the key after this long, e.g. 90d.", valueName: "duration"))
        var keyTTL: String?

        @OptionGroup var output: ConfigOutput

        @OptionGroup var context: DeviceContext

        func validate() throws {
            if let publicKey, WireGuardKey(base64: publicKey) == nil {
                throw ValidationError("--public-key must be a WireGuard public key: 32 bytes in base64, as `wg pubkey` prints it")
            }
            if let keyTTL, DurationText.milliseconds(keyTTL) == nil {
                throw ValidationError("--key-ttl must be a duration such as 90d, 72h or 30m, not '\(keyTTL)'")
            }
        }

        func run() async throws {
            let (store, service) = try context.open(dataOptions)
            let entry = try await requireUser(user, in: store, data: dataOptions.data)
            do {
                let (device, config) = try await service.issue(
                    userID: entry.user.id, name: name, publicKey: publicKey.flatMap(WireGuardKey.init(base64:)), withPresharedKey: presharedKey,
                    keyLifetime: keyTTL.flatMap(DurationText.milliseconds))
                let owner = entry.user.attributes["userName"]?.stringValue ?? user
                printError("issued device '\(TerminalText.safe(device.name))' (\(device.id)) to \(TerminalText.safe(owner)) at \(device.address4)")
                try output.print(config)
            } catch let error as DeviceError {
                printError("error: \(error)")
                throw ExitCode.failure
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List devices: all, or one user's.")

        @OptionGroup var dataOptions: DataOptions

        @Option(help: "Only this user's devices (userName or id).")
        var user: String?

        @Flag(help: "Print JSON instead of a table.")
        var json = false

        func run() async throws {
            let store = try openStore(dataOptions)
            let devices: [Device]
            var names: [String: String] = [:]
            if let user {
                let entry = try await requireUser(user, in: store, data: dataOptions.data)
                devices = try await store.devices(ofUser: entry.user.id)
                names[entry.user.id] = entry.user.attributes["userName"]?.stringValue
            } else {
                devices = try await store.devices()
                for entry in try await store.directory() { names[entry.user.id] = entry.user.attributes["userName"]?.stringValue }
            }
            if json {
                print(TerminalText.safeJSON(JSON.array(devices.map(AdminDocuments.device)).jsonText))
                return
            }
            var rows = [["ID", "USER", "NAME", "ADDRESS", "PUBLIC KEY", "PSK", "EXPIRES"]]
            for device in devices.sorted(by: { ($0.userID, $0.name) < ($1.userID, $1.name) }) {
                rows.append([
                    device.id, names[device.userID] ?? device.userID, device.name, device.address4, device.publicKey,
                    device.presharedKey == nil ? "no" : "yes", device.expires.map(SCIMDateTime.format) ?? "never",
                ])
            }
            print(Table.render(rows), terminator: "")
            if devices.isEmpty { printError("no devices") }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Revoke a device: its peer leaves the gateway.",
            discussion: "A running server removes the peer and its firewall elements within a second; DELETE /api/v1/devices/ID does it before answering."
        )

        @OptionGroup var dataOptions: DataOptions

        @Argument(help: "The device's id (see `device list`).")
        var id: String

        func run() async throws {
            let store = try openStore(dataOptions)
            guard let device = try await store.deleteDevice(id: id) else {
                printError("error: no device \(id) in \(dataOptions.data)")
                throw ExitCode.failure
            }
            printError("revoked device '\(TerminalText.safe(device.name))' (\(device.id)), key \(device.publicKey)")
        }
    }

    struct Rotate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Give a device a new key pair and print its new config; the old key is revoked.",
            discussion: "The preshared key is renewed if the device had one, and the key lifetime starts again."
        )

        @OptionGroup var dataOptions: DataOptions

        @Argument(help: "The device's id (see `device list`).")
        var id: String

        @Option(name: .customLong("public-key"), help: ArgumentHelp("The device's own new public key.", valueName: "base64"))
        var publicKey: String?

        @OptionGroup var output: ConfigOutput

        @OptionGroup var context: DeviceContext

        func validate() throws {
            if let publicKey, WireGuardKey(base64: publicKey) == nil {
                throw ValidationError("--public-key must be a WireGuard public key: 32 bytes in base64, as `wg pubkey` prints it")
            }
        }

        func run() async throws {
            let (_, service) = try context.open(dataOptions)
            do {
                let (device, config) = try await service.rotate(deviceID: id, publicKey: publicKey.flatMap(WireGuardKey.init(base64:)))
                printError("rotated device '\(TerminalText.safe(device.name))' (\(device.id)); new key \(device.publicKey)")
                try output.print(config)
            } catch let error as DeviceError {
                printError("error: \(error)")
                throw ExitCode.failure
            }
        }
    }
}

/// What issuing a config needs besides the database: the policies (for AllowedIPs) and gateway settings.
struct DeviceContext: ParsableArguments {
    @Option(help: ArgumentHelp("The policy folder, for the config's AllowedIPs.", valueName: "dir"))
    var policies: String = "./policies"

    @OptionGroup var gateway: GatewayOptions

    func open(_ data: DataOptions) throws -> (Store, DeviceService) {
        let file = try gateway.configFile()
        let configuration = try gateway.gatewayConfiguration(file: file, dryRun: false)
        let store = try openStore(data)
        let gatewayKey = try GatewayKeyFile.loadOrCreate(directory: data.data)
        var issuer = DeviceIssuer(store: store, configuration: configuration, gatewayPublicKey: gatewayKey.publicKey)
        issuer.allowedIPsMode = try gateway.allowedIPsMode(file: file)
        issuer.defaultKeyLifetime = try gateway.defaultKeyLifetime(file: file)
        let policy = PolicyLoader.load(directory: file["policies"] ?? policies).policy.map(CompiledPolicy.init)
        return (store, DeviceService(store: store, reconciler: nil, issuer: issuer) { policy })
    }
}

/// Prints a config as text, or as a QR code for the WireGuard mobile app.
struct ConfigOutput: ParsableArguments {
    @Flag(help: "Print the config as a QR code in the terminal, for the WireGuard mobile app.")
    var qr = false

    func print(_ config: String) throws {
        guard qr else {
            Swift.print(config, terminator: "")
            return
        }
        do {
            Swift.print(try QRCode(text: config).terminal(), terminator: "")
        } catch {
            printError("error: cannot draw the config as a QR code: \(error)")
            throw ExitCode.failure
        }
    }
}

/// The directory entry of a user given by userName (ignoring case) or id.
func findUser(_ name: String, in store: Store) async throws -> Store.DirectoryEntry? {
    try await store.directory().first { entry in
        entry.user.id == name || entry.user.attributes["userName"]?.stringValue?.lowercased() == name.lowercased()
    }
}

/// The user, or exit with an error that names the data folder.
func requireUser(_ name: String, in store: Store, data: String) async throws -> Store.DirectoryEntry {
    guard let entry = try await findUser(name, in: store) else {
        printError("error: no user '\(TerminalText.safe(name))' in \(data)")
        throw ExitCode.failure
    }
    return entry
}

/// A plain text table with columns padded to their widest cell. Cells hold names from identity
/// providers and devices' owners: each is made terminal-safe (`TerminalText.safe`), so none can
/// move the cursor, colour the screen, end its row or reorder the line.
enum Table {
    static func render(_ rows: [[String]]) -> String {
        let rows = rows.map { $0.map(TerminalText.safe) }
        guard let first = rows.first else { return "" }
        var widths = first.map(\.count)
        for row in rows {
            for (index, cell) in row.enumerated() where index < widths.count { widths[index] = max(widths[index], cell.count) }
        }
        return rows.map { row in
            row.enumerated().map { index, cell in
                index == row.count - 1 ? cell : cell.padding(toLength: widths[index] + 2, withPad: " ", startingAt: 0)
            }.joined()
        }.joined(separator: "\n") + "\n"
    }
}
