import ArgumentParser
import Firewall
import Foundation
import Hummingbird
import Logging
import Policy
import PortcullisServer
import Reconciler
import Store
import WireGuard

/// `portcullis serve`: runs the controller.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the controller: SCIM at /scim/v2, the admin API at /api/v1, and the gateway's WireGuard and nftables.",
        discussion: """
            On the first start with an empty database, a SCIM token named 'initial' is created: printed once, with a \
            curl command to try it, when standard output is a terminal; otherwise written to DATA/initial-token (mode \
            0600), whose path is logged. Once any token existed, none is created again. \
            Managing the gateway needs root (or CAP_NET_ADMIN); with --dry-run the \
            WireGuard configuration and nftables ruleset are written under DATA/dry-run instead. \
            With --tls-cert and --tls-key it serves HTTPS; without them, on an address other than loopback, it warns \
            at start (identity providers send their token over this connection). \
            Stop with Ctrl-C or SIGTERM (requests in flight finish first); SIGHUP reloads the policies and the TLS \
            certificate and key (a renewed certificate is served to new connections; the listener stays open).
            """
    )

    @Option(help: ArgumentHelp("Folder holding the SQLite database and the gateway key (default ./data).", valueName: "dir"))
    var data: String?

    @Option(help: ArgumentHelp("Folder of policy files, *.yaml (default ./policies).", valueName: "dir"))
    var policies: String?

    @Option(help: ArgumentHelp("Address and port to listen on; port 0 picks a free one (default 127.0.0.1:8080).", valueName: "host:port"))
    var listen: String?

    @Flag(inversion: .prefixedNo, help: "Write the gateway configuration to files instead of changing the kernel.")
    var dryRun: Bool?

    @Option(help: ArgumentHelp("Log level: trace, debug, info, notice, warning, error or critical.", valueName: "level"))
    var logLevel: String?

    @Option(name: .customLong("audit-retention"), help: ArgumentHelp("Keep this much audit history, e.g. 400d (default: forever).", valueName: "duration"))
    var auditRetention: String?

    @Option(
        name: .customLong("tls-cert"),
        help: ArgumentHelp("Serve HTTPS with this PEM certificate (then any intermediates); needs --tls-key.", valueName: "file"))
    var tlsCertificate: String?

    @Option(name: .customLong("tls-key"), help: ArgumentHelp("The certificate's PEM private key, unencrypted.", valueName: "file"))
    var tlsKey: String?

    @Option(
        name: .customLong("idle-timeout"),
        help: ArgumentHelp("Close a connection that sends nothing for this long, e.g. 30s (default 60s).", valueName: "duration"))
    var idleTimeout: String?

    @OptionGroup var gateway: GatewayOptions

    @OptionGroup(title: "Enrollment") var enrollment: EnrollmentOptions

    func validate() throws {
        let file = try gateway.configFile()
        guard ListenAddress(listen ?? file["listen"] ?? "127.0.0.1:8080") != nil else {
            throw ValidationError("--listen must be HOST:PORT, e.g. 127.0.0.1:8080 or [::1]:8080, not '\(listen ?? file["listen"] ?? "")'")
        }
        guard Logger.Level(rawValue: logLevel ?? file["log-level"] ?? "info") != nil else {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical")
        }
        _ = try gateway.gatewayConfiguration(file: file, dryRun: false)
        _ = try gateway.allowedIPsMode(file: file)
        _ = try enrollment.settings(file: file)
        _ = try gateway.defaultKeyLifetime(file: file)
        if let text = auditRetention ?? file["audit-retention"], DurationText.milliseconds(text) == nil {
            throw ValidationError("--audit-retention must be a duration such as 400d, not '\(text)'")
        }
        if let text = idleTimeout ?? file["idle-timeout"], DurationText.milliseconds(text) == nil {
            throw ValidationError("--idle-timeout must be a duration such as 60s or 5m, not '\(text)'")
        }
        let certificate = tlsCertificate ?? file["tls-cert"]
        let key = tlsKey ?? file["tls-key"]
        guard (certificate == nil) == (key == nil) else {
            throw ValidationError("--tls-cert and --tls-key go together: give both to serve HTTPS, or neither")
        }
    }

    func run() async throws {
        // A parent that blocked these signals (some test runners do) must not make the server
        // unstoppable or deaf to reloads; threads started from here on inherit this mask.
        var signals = sigset_t()
        sigemptyset(&signals)
        for signal in [SIGTERM, SIGINT, SIGHUP] { sigaddset(&signals, signal) }
        pthread_sigmask(SIG_UNBLOCK, &signals, nil)
        let file = try gateway.configFile()
        let level = Logger.Level(rawValue: logLevel ?? file["log-level"] ?? "info") ?? .info
        LoggingSystem.bootstrap { label in
            var handler = LineLogHandler(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "portcullis")
        let dataDirectory = data ?? file["data"] ?? "./data"
        let policyDirectory = policies ?? file["policies"] ?? "./policies"
        guard let address = ListenAddress(listen ?? file["listen"] ?? "127.0.0.1:8080") else { throw ExitCode.validationFailure }
        let isDryRun = dryRun ?? (file["dry-run"].map { ["true", "yes", "1"].contains($0.lowercased()) } ?? false)
        let gatewayConfiguration = try gateway.gatewayConfiguration(file: file, dryRun: isDryRun)
        let tls = try loadCertificate(file: file, logger: logger)
        if tls == nil, !address.isLoopback {
            logger.warning(
                """
                listening on a non-loopback address without TLS: tokens and user data cross the network in clear text; \
                add --tls-cert and --tls-key, or listen on 127.0.0.1 behind a TLS proxy
                """,
                metadata: ["listen": "\(address.host):\(address.port)"])
        }

        let store: Store
        do {
            store = try Store(directory: dataDirectory)
        } catch {
            printError("error: cannot open the database in \(dataDirectory): \(error)")
            throw ExitCode.failure
        }
        var isDirectory: ObjCBool = false
        if !FileManager.default.fileExists(atPath: policyDirectory, isDirectory: &isDirectory) || !isDirectory.boolValue {
            logger.warning("policy folder not found; nobody gets network access until it has policies", metadata: ["policies": "\(policyDirectory)"])
        }
        let firstToken = try createFirstToken(store, dataDirectory: dataDirectory, logger: logger)
        let policyService = PolicyService(directory: policyDirectory, logger: logger, audit: store)
        let gatewayKey = try GatewayKeyFile.loadOrCreate(directory: dataDirectory)

        let (interface, reconciler) = try await startGateway(
            gatewayConfiguration, key: gatewayKey, store: store, policies: policyService, dataDirectory: dataDirectory, logger: logger)
        let hangup = reloadOnHangup(policyService, certificate: tls, logger: logger)
        defer { hangup.cancel() }

        var issuer = DeviceIssuer(store: store, configuration: gatewayConfiguration, gatewayPublicKey: gatewayKey.publicKey)
        issuer.allowedIPsMode = try gateway.allowedIPsMode(file: file)
        issuer.defaultKeyLifetime = try gateway.defaultKeyLifetime(file: file)
        let devices = DeviceService(store: store, reconciler: reconciler, issuer: issuer) { policyService.current?.policy }
        let enrollments = EnrollmentService(store: store, settings: try enrollment.settings(file: file), devices: devices)

        let configuration = ServerConfiguration(
            host: address.host, port: address.port, dataDirectory: dataDirectory, policiesDirectory: policyDirectory,
            idleTimeout: .milliseconds((idleTimeout ?? file["idle-timeout"]).flatMap(DurationText.milliseconds) ?? 60_000), tls: tls)
        let app = try buildApplication(
            configuration: configuration, store: store, policies: policyService, reconciler: reconciler, devices: devices, enrollments: enrollments,
            auditRetention: (auditRetention ?? file["audit-retention"]).flatMap(DurationText.milliseconds), logger: logger
        ) { port in
            let base = "\(tls == nil ? "http" : "https")://\(address.urlHost):\(port)"
            var banner = "portcullis listening on \(base) (SCIM at \(base)/scim/v2)"
            if isDryRun {
                banner += "\ndry run: the gateway configuration is written to \(dataDirectory)/dry-run, the kernel is not changed"
            }
            if let firstToken { banner += FirstToken.banner(firstToken, baseURL: base) }
            // One write, so that whoever waits for the address line gets the token with it.
            printNow(banner)
        }
        do {
            try await app.runService()
        } catch {
            await interface?.stop()
            throw error
        }
        await interface?.stop()
    }

    /// The gateway's WireGuard interface and nftables, or their dry-run files, and the reconciler.
    private func startGateway(
        _ configuration: GatewayConfiguration, key: WireGuardKeyPair, store: Store, policies: PolicyService, dataDirectory: String, logger: Logger
    ) async throws -> (GatewayInterface?, Reconciler) {
        if configuration.dryRun {
            let folder = dataDirectory + "/dry-run"
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            let wireGuard = FileControl(interfaceName: configuration.interfaceName, path: folder + "/\(configuration.interfaceName).conf")
            try await wireGuard.configure(privateKey: key.privateKey, listenPort: configuration.listenPort)
            let reconciler = Reconciler(
                configuration: configuration, store: store, policies: policies, wireGuard: wireGuard,
                firewall: DryRunFirewall(path: folder + "/nftables.conf"), logger: logger)
            return (nil, reconciler)
        }
        let restorer = RestoreHook()
        let interface: GatewayInterface
        let firewall: NFTablesControl
        do {
            interface = try await GatewayInterface.start(
                settings: .init(name: configuration.interfaceName, listenPort: configuration.listenPort, addresses: configuration.pool.gatewayInterfaceAddresses),
                privateKey: key.privateKey, logger: logger
            ) { await restorer.reconciler?.restorePeers() }
            firewall = try NFTablesControl()
        } catch {
            printError(
                "error: cannot set up the gateway interface \(configuration.interfaceName): \(error)\n"
                    + "Managing WireGuard and nftables needs root (or CAP_NET_ADMIN); run as root, or add --dry-run to write the configuration to files.")
            throw ExitCode.failure
        }
        let reconciler = Reconciler(
            configuration: configuration, store: store, policies: policies, wireGuard: interface.control, firewall: firewall, logger: logger)
        restorer.reconciler = reconciler
        logger.info(
            "gateway interface ready",
            metadata: ["interface": "\(configuration.interfaceName)", "kind": "\(interface.kind.rawValue)", "public_key": "\(key.publicKey.base64)"])
        return (interface, reconciler)
    }

    /// The TLS certificate and key given, read and checked; nil without them. Bad files end the command.
    private func loadCertificate(file: [String: String], logger: Logger) throws -> TLSCertificate? {
        guard let certificatePath = tlsCertificate ?? file["tls-cert"], let keyPath = tlsKey ?? file["tls-key"] else { return nil }
        let certificate: TLSCertificate
        do {
            certificate = try TLSCertificate(certificatePath: certificatePath, keyPath: keyPath)
        } catch {
            printError("error: cannot serve HTTPS: \(error)\nGive --tls-cert a PEM certificate and --tls-key its unencrypted PEM private key.")
            throw ExitCode.failure
        }
        logger.info("serving HTTPS", metadata: ["certificate": "\(certificatePath)", "expires": "\(certificate.expires)"])
        return certificate
    }

    /// SIGHUP asks the policy service to reload and reads the TLS certificate and key again, as
    /// `systemctl reload` or a certificate renewal hook sends it.
    private func reloadOnHangup(_ service: PolicyService, certificate: TLSCertificate?, logger: Logger) -> any DispatchSourceSignal {
        signal(SIGHUP, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
        source.setEventHandler {
            service.requestReload()
            guard let certificate else { return }
            do {
                try certificate.reload()
                logger.info(
                    "TLS certificate reloaded", metadata: ["certificate": "\(certificate.certificatePath)", "expires": "\(certificate.expires)"])
            } catch {
                logger.error("TLS certificate not reloaded; the previous one is still served", metadata: ["error": "\(error)"])
            }
        }
        source.resume()
        return source
    }

    /// On a database that never had a token, the SCIM token 'initial' (see ``FirstToken``).
    private func createFirstToken(_ store: Store, dataDirectory: String, logger: Logger) throws -> FirstToken.Delivery? {
        let delivery: FirstToken.Delivery?
        do {
            delivery = try FirstToken.createIfNoneEverExisted(store: store, dataDirectory: dataDirectory, onTerminal: isatty(STDOUT_FILENO) == 1)
        } catch let error as FirstToken.FileError {
            printError("error: \(error); the token was not kept, the next start tries again")
            throw ExitCode.failure
        }
        if case .file(let path)? = delivery {
            logger.notice(
                "created the first SCIM token, 'initial'; store it in your identity provider, then delete the file", metadata: ["file": "\(path)"])
        } else if delivery == nil, try store.tokens().isEmpty {
            let command = "portcullis token create --data \(dataDirectory) --name NAME --scope scim"
            logger.warning("no API tokens: nothing can use SCIM or the admin API; create one with: \(command)")
        }
        return delivery
    }
}

/// Lets the interface's restart callback reach the reconciler created after it.
final class RestoreHook: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Reconciler?

    var reconciler: Reconciler? {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue } }
    }
}

/// `HOST:PORT`, with IPv6 hosts in brackets.
struct ListenAddress {
    var host: String
    var port: Int

    init?(_ text: String) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else {
            return nil
        }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") {
            host = String(host.dropFirst().dropLast())
        }
        guard !host.isEmpty else { return nil }
        self.host = host
        self.port = port
    }

    var urlHost: String { host.contains(":") ? "[\(host)]" : host }

    /// Whether only this machine can connect: localhost, 127.0.0.0/8 or ::1.
    var isLoopback: Bool {
        if host.lowercased() == "localhost" { return true }
        guard let address = try? IPPrefix.parse(host) else { return false }
        return Self.loopbackPrefixes.contains { $0.contains(address) }
    }

    private static let loopbackPrefixes = ["127.0.0.0/8", "::1/128"].compactMap { try? IPPrefix.parse($0) }
}
