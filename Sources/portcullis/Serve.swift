import ArgumentParser
import Foundation
import Hummingbird
import Logging
import PortcullisServer
import Store

/// `portcullis serve`: runs the controller.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the controller: the SCIM service at /scim/v2, and health checks.",
        discussion: """
            On the first start with an empty database, a SCIM token named 'initial' is created and printed once, \
            with a curl command to try it. Stop with Ctrl-C or SIGTERM; requests in flight finish first.
            """
    )

    @OptionGroup var dataOptions: DataOptions

    @Option(help: ArgumentHelp("Folder of policy files (*.yaml).", valueName: "dir"))
    var policies: String = "./policies"

    @Option(help: ArgumentHelp("Address and port to listen on; port 0 picks a free one.", valueName: "host:port"))
    var listen: String = "127.0.0.1:8080"

    @Option(help: ArgumentHelp("Log level: trace, debug, info, notice, warning, error or critical.", valueName: "level"))
    var logLevel: String = "info"

    func validate() throws {
        guard ListenAddress(listen) != nil else {
            throw ValidationError("--listen must be HOST:PORT, e.g. 127.0.0.1:8080 or [::1]:8080, not '\(listen)'")
        }
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical")
        }
    }

    func run() async throws {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "portcullis")
        guard let address = ListenAddress(listen) else { throw ExitCode.validationFailure }

        let store: Store
        do {
            store = try Store(directory: dataOptions.data)
        } catch {
            printError("error: cannot open the database in \(dataOptions.data): \(error)")
            throw ExitCode.failure
        }
        var isDirectory: ObjCBool = false
        if !FileManager.default.fileExists(atPath: policies, isDirectory: &isDirectory) || !isDirectory.boolValue {
            logger.warning("policy folder not found; nobody gets network access until it has policies", metadata: ["policies": "\(policies)"])
        }
        let firstToken = try createFirstTokenIfNeeded(store)

        let configuration = ServerConfiguration(host: address.host, port: address.port, dataDirectory: dataOptions.data, policiesDirectory: policies)
        let policyService = PolicyService(directory: policies, logger: logger)
        let hangup = reloadOnHangup(policyService)
        defer { hangup.cancel() }
        let app = buildApplication(configuration: configuration, store: store, policies: policyService, logger: logger) { port in
            let base = "http://\(address.urlHost):\(port)"
            var banner = "portcullis listening on \(base) (SCIM at \(base)/scim/v2)"
            if let firstToken {
                banner += """


                    Created the first SCIM token, named 'initial'. It is shown only this once; store it in your identity provider:

                        \(firstToken)

                    Try it:

                        curl -H "Authorization: Bearer \(firstToken)" \(base)/scim/v2/Users

                    """
            }
            // One write, so that whoever waits for the address line gets the token with it.
            printNow(banner)
        }
        try await app.runService()
    }

    /// SIGHUP asks the policy service to reload, as `systemctl reload` sends it.
    private func reloadOnHangup(_ service: PolicyService) -> any DispatchSourceSignal {
        signal(SIGHUP, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
        source.setEventHandler { service.requestReload() }
        source.resume()
        return source
    }

    /// On a database without any token, creates the SCIM token 'initial' so the newcomer can start at once.
    private func createFirstTokenIfNeeded(_ store: Store) throws -> String? {
        guard try store.tokens().isEmpty else { return nil }
        return try store.createToken(name: "initial", scope: .scim)
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
}
