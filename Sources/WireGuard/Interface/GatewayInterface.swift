import Foundation
public import Logging
import Subprocess
import Synchronization

/// The gateway's WireGuard interface: found if it exists, else created in the kernel where the kernel
/// has WireGuard, else served by `wireguard-go` in the foreground as a supervised child process that is
/// restarted (and its peers restored by the caller) if it dies.
public final class GatewayInterface: Sendable {
    /// What the interface is set up with.
    public struct Settings: Sendable {
        public var name: String
        public var listenPort: Int
        /// The gateway's own tunnel addresses with the pool's prefix length, e.g. `10.100.0.1/16`.
        public var addresses: [String]
        /// Where userspace WireGuard puts its control sockets.
        public var socketDirectory: String

        public init(name: String, listenPort: Int, addresses: [String], socketDirectory: String = "/var/run/wireguard") {
            self.name = name
            self.listenPort = listenPort
            self.addresses = addresses
            self.socketDirectory = socketDirectory
        }
    }

    /// How the interface is served.
    public enum Kind: String, Sendable {
        case existing, kernel, userspace
    }

    public let settings: Settings
    public let kind: Kind
    public let control: any WireGuardControl
    private let privateKey: WireGuardKey
    private let logger: Logger
    private let supervisor = Mutex<Task<Void, Never>?>(nil)

    private init(settings: Settings, kind: Kind, control: any WireGuardControl, privateKey: WireGuardKey, logger: Logger) {
        self.settings = settings
        self.kind = kind
        self.control = control
        self.privateKey = privateKey
        self.logger = logger
    }

    /// Brings the interface up with the gateway's key, port and addresses.
    /// - Parameter onRestart: called after a crashed `wireguard-go` came back, to restore its peers.
    public static func start(
        settings: Settings, privateKey: WireGuardKey, logger: Logger, onRestart: @escaping @Sendable () async -> Void
    ) async throws -> GatewayInterface {
        let uapi = UAPIControl(interfaceName: settings.name, socketDirectory: settings.socketDirectory)
        if try await Command.run("ip", ["link", "show", "dev", settings.name]).status == 0 {
            let control: any WireGuardControl = uapi.isAvailable ? uapi : WGToolControl(interfaceName: settings.name)
            let interface = GatewayInterface(settings: settings, kind: .existing, control: control, privateKey: privateKey, logger: logger)
            try await interface.configure()
            return interface
        }
        if try await Command.run("ip", ["link", "add", "dev", settings.name, "type", "wireguard"]).status == 0 {
            let interface = GatewayInterface(
                settings: settings, kind: .kernel, control: WGToolControl(interfaceName: settings.name), privateKey: privateKey, logger: logger)
            try await interface.configure()
            logger.info("created kernel WireGuard interface", metadata: ["interface": "\(settings.name)"])
            return interface
        }
        let interface = GatewayInterface(settings: settings, kind: .userspace, control: uapi, privateKey: privateKey, logger: logger)
        try await interface.superviseUserspace(onRestart: onRestart)
        return interface
    }

    /// Stops a supervised `wireguard-go` (its interface goes with it); a kernel or existing interface stays.
    public func stop() async {
        guard let task = supervisor.withLock({ $0 }) else { return }
        task.cancel()
        await task.value
        // wireguard-go removes its socket when it exits cleanly; one that was killed leaves it behind.
        try? FileManager.default.removeItem(atPath: settings.socketDirectory + "/" + settings.name + ".sock")
    }

    /// Sets key, port and addresses, and brings the link up.
    private func configure() async throws {
        try await control.configure(privateKey: privateKey, listenPort: settings.listenPort)
        for address in settings.addresses {
            try await Command.check("ip", ["address", "replace", address, "dev", settings.name])
        }
        try await Command.check("ip", ["link", "set", "dev", settings.name, "up"])
    }

    /// Starts `wireguard-go -f` and keeps it running: when it exits it is started again, configured,
    /// and `onRestart` restores the peers. Returns once the first instance is configured.
    private func superviseUserspace(onRestart: @escaping @Sendable () async -> Void) async throws {
        let (firstStart, firstStartContinuation) = AsyncStream.makeStream(of: Result<Void, any Error>.self)
        let task = Task { [self] in
            var isFirst = true
            while !Task.isCancelled {
                let started = Date()
                let reportFirst = isFirst
                do {
                    try await runUserspaceOnce { result in
                        if reportFirst {
                            firstStartContinuation.yield(result)
                            firstStartContinuation.finish()
                        } else if case .success = result {
                            await onRestart()
                        }
                    }
                } catch {
                    if isFirst {
                        firstStartContinuation.yield(.failure(error))
                        firstStartContinuation.finish()
                        return
                    }
                    logger.error("wireguard-go could not be started", metadata: ["error": "\(error)"])
                }
                guard !Task.isCancelled else { return }
                isFirst = false
                logger.error("wireguard-go exited; restarting it", metadata: ["interface": "\(settings.name)"])
                // Do not spin if it dies at once, every time.
                let uptime = Date().timeIntervalSince(started)
                try? await Task.sleep(for: .milliseconds(uptime < 1 ? 500 : 50))
            }
        }
        supervisor.withLock { $0 = task }
        for await result in firstStart {
            try result.get()
            logger.info("started wireguard-go", metadata: ["interface": "\(settings.name)"])
            return
        }
        throw WireGuardError("wireguard-go did not start")
    }

    /// Runs one `wireguard-go` until it exits; `started` is called once its socket is up and configured.
    private func runUserspaceOnce(started: @escaping @Sendable (Result<Void, any Error>) async -> Void) async throws {
        let socketPath = settings.socketDirectory + "/" + settings.name + ".sock"
        try? FileManager.default.removeItem(atPath: socketPath)
        _ = try await Subprocess.run(
            .name("wireguard-go"), arguments: ["-f", settings.name], input: .none, output: .discarded, error: .discarded
        ) { [self] execution in
            let deadline = Date().addingTimeInterval(10)
            while !FileManager.default.fileExists(atPath: socketPath) {
                guard Date() < deadline else {
                    await started(.failure(WireGuardError("wireguard-go did not open \(socketPath) within 10 s")))
                    try? execution.send(signal: .kill)
                    return
                }
                try? await Task.sleep(for: .milliseconds(10))
            }
            do {
                try await configure()
                await started(.success(()))
            } catch {
                await started(.failure(error))
                try? execution.send(signal: .terminate)
            }
        }
    }
}
