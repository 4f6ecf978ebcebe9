import ArgumentParser
import Foundation
import Policy
import PortcullisServer
import Reconciler
import Yams

/// Gateway settings shared by `serve`, `device` and `reconcile`: flags, or keys of the same names in
/// a YAML file given with `--config`; flags win over the file.
struct GatewayOptions: ParsableArguments {
    @Option(help: ArgumentHelp("YAML file with any of these settings (same names as the flags).", valueName: "file"))
    var config: String?

    @Option(help: ArgumentHelp("WireGuard interface to manage (default wg0).", valueName: "name"))
    var interface: String?

    @Option(help: ArgumentHelp("Tunnel address pool, IPv4 and optionally IPv6 (default 10.100.0.0/16).", valueName: "cidr[,cidr6]"))
    var pool: String?

    @Option(help: ArgumentHelp("Endpoint written into client configs (default: this host's name and the WireGuard port).", valueName: "host:port"))
    var endpoint: String?

    @Option(name: .customLong("wg-port"), help: ArgumentHelp("UDP port WireGuard listens on (default 51820).", valueName: "port"))
    var wireGuardPort: Int?

    @Option(help: ArgumentHelp("DNS servers written into client configs.", valueName: "ip,..."))
    var dns: String?

    @Option(
        name: .customLong("allowed-ips"),
        help: ArgumentHelp("What client configs route through the tunnel: resources (default), user or full.", valueName: "mode"))
    var allowedIPs: String?

    @Option(
        name: .customLong("default-key-ttl"),
        help: ArgumentHelp(
            "Key lifetime of devices issued without one (API without keyTTL, enrollment links), e.g. 90d (default: none).", valueName: "duration"))
    var defaultKeyTTL: String?

    /// The settings file's contents, if any.
    func configFile() throws -> [String: String] {
        guard let config else { return [:] }
        guard let text = try? String(contentsOfFile: config, encoding: .utf8) else {
            throw ValidationError("cannot read the config file \(config)")
        }
        guard let node = try Yams.compose(yaml: text), let mapping = node.mapping else { return [:] }
        var values: [String: String] = [:]
        for (key, value) in mapping {
            guard let name = key.scalar?.string else { continue }
            if let scalar = value.scalar?.string {
                values[name] = scalar
            } else if let sequence = value.sequence {
                values[name] = sequence.compactMap { $0.scalar?.string }.joined(separator: ",")
            }
        }
        let known = Set([
            "data", "policies", "listen", "interface", "pool", "endpoint", "wg-port", "dns", "dry-run", "allowed-ips", "default-key-ttl", "log-level",
            "audit-retention", "idle-timeout", "tls-cert", "tls-key",
        ]).union(EnrollmentOptions.settingNames)
        if let unknown = values.keys.first(where: { !known.contains($0) }) {
            throw ValidationError("unknown setting '\(unknown)' in \(config); known: \(known.sorted().joined(separator: ", "))")
        }
        return values
    }

    /// The gateway configuration: flag, else config file, else default.
    func gatewayConfiguration(file: [String: String], dryRun: Bool) throws -> GatewayConfiguration {
        let poolText = pool ?? file["pool"] ?? "10.100.0.0/16"
        var configuration: GatewayConfiguration
        do {
            configuration = GatewayConfiguration(pool: try AddressPool.parse(poolText))
        } catch {
            throw ValidationError("--pool: \(error)")
        }
        configuration.interfaceName = interface ?? file["interface"] ?? "wg0"
        guard !configuration.interfaceName.isEmpty, configuration.interfaceName.count <= 15,
            configuration.interfaceName.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" })
        else {
            throw ValidationError("--interface must be 1-15 letters, digits, '-' or '_'")
        }
        let portText = wireGuardPort.map(String.init) ?? file["wg-port"] ?? "51820"
        guard let port = Int(portText), (1...65535).contains(port) else {
            throw ValidationError("--wg-port must be 1-65535, not \(portText)")
        }
        configuration.listenPort = port
        configuration.endpoint = endpoint ?? file["endpoint"] ?? "\(ProcessInfo.processInfo.hostName):\(port)"
        let dnsText = dns ?? file["dns"] ?? ""
        configuration.dns = dnsText.split(separator: ",").map { String($0.filter { !$0.isWhitespace }) }.filter { !$0.isEmpty }
        for server in configuration.dns where (try? IPPrefix.parse(server)) == nil {
            throw ValidationError("--dns: '\(server)' is not an IP address")
        }
        configuration.dryRun = dryRun
        return configuration
    }

    /// The key lifetime (milliseconds) of devices issued without one, if configured.
    func defaultKeyLifetime(file: [String: String]) throws -> Int64? {
        guard let text = defaultKeyTTL ?? file["default-key-ttl"] else { return nil }
        guard let lifetime = DurationText.milliseconds(text) else {
            throw ValidationError("--default-key-ttl must be a duration such as 90d, 72h or 30m, not '\(text)'")
        }
        return lifetime
    }

    /// The AllowedIPs mode of client configs.
    func allowedIPsMode(file: [String: String]) throws -> DeviceIssuer.AllowedIPsMode {
        let text = allowedIPs ?? file["allowed-ips"] ?? "resources"
        guard let mode = DeviceIssuer.AllowedIPsMode(rawValue: text) else {
            throw ValidationError("--allowed-ips must be resources, user or full, not '\(text)'")
        }
        return mode
    }
}
