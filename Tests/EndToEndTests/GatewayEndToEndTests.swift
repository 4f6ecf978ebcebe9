import Foundation
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The whole path on real parts: SCIM over HTTP → Portcullis → wireguard-go and nftables in a gateway
/// namespace → a client namespace with wireguard-go configured from the config Portcullis generated →
/// two resource hosts, one the policy allows and one it does not.
@Suite(
    .serialized,
    .enabled(if: getuid() == 0, "needs root: it creates network namespaces, WireGuard interfaces and nftables rules"),
    .enabled(if: GatewayLab.toolsMissing.isEmpty, "needs \(GatewayLab.toolsMissing.joined(separator: ", ")) installed"))
struct GatewayEndToEndTests {
    static let policy = """
        resources:
          allowed: { hosts: [10.40.0.0/24] }
          denied: { hosts: [10.30.0.0/24] }
        rules:
          - name: engineers-reach-allowed
            groups: [Engineering]
            allow: [{ to: allowed }]
        """

    @Test func provisioningGrantsAndEveryRevocationCutsAccessBeforeTheAnswer() async throws {
        let lab = try GatewayLab()
        defer { lab.tearDown() }
        try lab.startEchoServers()
        let server = try lab.startPortcullis(policy: Self.policy)
        let token = try #require(server.token)

        // Provision a user and put them in a group.
        let ada = try await lab.scim(server, "POST", "/Users", token: token, body: #"{"userName": "ada@example.com"}"#)
        #expect(ada.status == 201)
        let adaID = try #require(ada.json["id"] as? String)
        let group = try await lab.scim(
            server, "POST", "/Groups", token: token, body: #"{"displayName": "Engineering", "members": [{"value": "\#(adaID)"}]}"#)
        let groupID = try #require(group.json["id"] as? String)

        // Issue a device; the running server picks it up; the client connects with the generated config.
        let config = try lab.issueDevice(user: "ada@example.com")
        #expect(config.contains("PrivateKey = "))
        try lab.startClient(config: config)
        #expect(try await lab.waitUntil(seconds: 20) { lab.ping("10.40.0.10") }, "the allowed host answers ping through the tunnel")
        #expect(!lab.ping("10.30.0.10"), "the other host is not reachable")
        let tcp = try lab.openTCP(to: "10.40.0.10")
        #expect(tcp.firstLine == "connected")
        #expect(try tcp.send("hello") == "hello")
        let deniedTCP = try lab.openTCP(to: "10.30.0.10")
        #expect(deniedTCP.firstLine.hasPrefix("failed"))
        let probe = try lab.startProbe(to: "10.40.0.10")

        // Someone flushes the firewall behind Portcullis's back: the table is restored within seconds.
        try lab.run("ip", ["netns", "exec", "\(lab.prefix)-gw", "nft", "delete", "table", "inet", "portcullis"])
        #expect(try await lab.waitUntil(seconds: 5) { (try? lab.firewallSources().isEmpty) == false }, "the table comes back")
        #expect(!lab.ping("10.30.0.10"), "and the other host is still out of reach")

        // Leaving the group: the open TCP connection stops passing data.
        let removal = try await lab.timedRevocation(probe: probe, goneAtAnswer: { try lab.firewallSources().isEmpty }) {
            try await lab.scim(
                server, "PATCH", "/Groups/\(groupID)", token: token,
                body: #"{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "remove", "path": "members[value eq \"\#(adaID)\"]"}]}"#)
        }
        #expect(removal.status == 200)
        #expect(removal.goneAtAnswer, "the address left the firewall set before the answer")
        #expect(removal.firstLostMilliseconds != nil)
        #expect(try tcp.send("still there?") == "timeout", "an established connection loses the access with the group")
        #expect(!lab.ping("10.40.0.10"))
        lab.report("group removal", removal)

        // Back in the group, then deactivated: the tunnel itself stops.
        _ = try await lab.scim(
            server, "PATCH", "/Groups/\(groupID)", token: token,
            body: #"{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "add", "path": "members", "value": [{"value": "\#(adaID)"}]}]}"#)
        #expect(try await lab.waitUntil(seconds: 20) { lab.ping("10.40.0.10") })
        let deactivation = try await lab.timedRevocation(probe: probe, goneAtAnswer: { try lab.gatewayPeers().isEmpty }) {
            try await lab.scim(
                server, "PATCH", "/Users/\(adaID)", token: token,
                body: #"{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "replace", "value": {"active": false}}]}"#)
        }
        #expect(deactivation.status == 200)
        #expect(deactivation.goneAtAnswer, "the peer was removed before the answer")
        #expect(deactivation.firstLostMilliseconds != nil)
        #expect(try lab.gatewayPeers().isEmpty, "the peer is gone from wg show")
        #expect(!lab.ping("10.40.0.10"))
        lab.report("deactivation", deactivation)

        // Reactivated: it works again (the client re-handshakes on its own).
        let reactivation = try await lab.scim(
            server, "PATCH", "/Users/\(adaID)", token: token,
            body: #"{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "replace", "value": {"active": true}}]}"#)
        #expect(reactivation.status == 200)
        #expect(try lab.gatewayPeers().count == 1)
        #expect(try await lab.waitUntil(seconds: 40) { lab.ping("10.40.0.10") }, "access returns after reactivation")

        // Deleted: it stops, and the device goes with the user.
        let deletion = try await lab.timedRevocation(probe: probe, goneAtAnswer: { try lab.gatewayPeers().isEmpty }) {
            try await lab.scim(server, "DELETE", "/Users/\(adaID)", token: token)
        }
        #expect(deletion.status == 204)
        #expect(deletion.goneAtAnswer, "the peer was removed before the answer")
        #expect(deletion.firstLostMilliseconds != nil)
        #expect(try lab.gatewayPeers().isEmpty)
        #expect(!lab.ping("10.40.0.10"))
        lab.report("deletion", deletion)

        #expect(server.stop() == 0)
    }

    /// The gateway's own services, from the tunnel: only what a policy names. The echo server in the
    /// gateway namespace listens on every address of the gateway: its tunnel address 10.100.0.1 and its
    /// LAN addresses 10.40.0.1 and 10.30.0.1. The client's config routes everything (`--allowed-ips
    /// full`, as a client may widen its own), and the client routes those addresses through the tunnel.
    static let gatewayPolicy = """
        resources:
          gateway-echo: { hosts: [10.100.0.1/32], ports: [tcp/7000] }
        rules:
          - name: operators-reach-the-gateway-echo
            groups: [Operators]
            allow: [gateway-echo]
        """

    @Test func tunnelReachesTheGatewayItselfOnlyWhereAPolicyAllows() async throws {
        let lab = try GatewayLab()
        defer { lab.tearDown() }
        try lab.startEchoServer(in: "gw")
        let server = try lab.startPortcullis(policy: Self.gatewayPolicy)
        let token = try #require(server.token)
        let ada = try await lab.scim(server, "POST", "/Users", token: token, body: #"{"userName": "ada@example.com"}"#)
        let adaID = try #require(ada.json["id"] as? String)
        let group = try await lab.scim(
            server, "POST", "/Groups", token: token, body: #"{"displayName": "Operators", "members": [{"value": "\#(adaID)"}]}"#)
        let groupID = try #require(group.json["id"] as? String)
        try lab.startClient(config: try lab.issueDevice(user: "ada@example.com"))
        try lab.routeThroughTunnel("10.100.0.1/32")

        // The policy names the gateway's tunnel address on tcp/7000: that answers.
        var tunnelAddress: GatewayLab.LineProcess?
        #expect(
            try await lab.waitUntil(seconds: 20) {
                tunnelAddress = try? lab.openTCP(to: "10.100.0.1")
                return tunnelAddress?.firstLine == "connected"
            }, "the gateway's tunnel address answers on the port the policy names")
        #expect(try tunnelAddress?.send("hello") == "hello")
        // No policy names the gateway's LAN addresses: they do not answer, though the same server listens there.
        for lanAddress in ["10.40.0.1", "10.30.0.1"] {
            #expect(try lab.openTCP(to: lanAddress).firstLine.hasPrefix("failed"), "the gateway's LAN address \(lanAddress) does not answer")
        }

        // Out of the group, no grant covers the gateway: the open connection stops, and no address answers.
        let removal = try await lab.scim(
            server, "PATCH", "/Groups/\(groupID)", token: token,
            body: #"{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "remove", "path": "members[value eq \"\#(adaID)\"]"}]}"#)
        #expect(removal.status == 200)
        #expect(try tunnelAddress?.send("still there?") == "timeout", "an open connection to the gateway loses the access with the group")
        for address in ["10.100.0.1", "10.40.0.1"] {
            #expect(try lab.openTCP(to: address).firstLine.hasPrefix("failed"), "the gateway's address \(address) does not answer")
        }

        #expect(server.stop() == 0)
        // The table with its input chain lists back as it was loaded: the firewall watchdog never had to restore it.
        #expect(!lab.logTail("portcullis").contains("restoring it"), "the watchdog saw a changed table: \(lab.logTail("portcullis"))")
    }
}

/// The namespaces, processes and files of one gateway test, all removed by `tearDown()`.
final class GatewayLab {
    static let scriptFolder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Gateway")

    static var toolsMissing: [String] {
        ["ip", "wg", "wg-quick", "wireguard-go", "nft", "ping", "python3"].filter { tool in
            !["/usr/bin/", "/usr/sbin/", "/bin/", "/sbin/", "/usr/local/bin/"].contains { FileManager.default.isExecutableFile(atPath: $0 + tool) }
        }
    }

    /// A namespace and interface prefix unique to this run (interface names stay under 16 bytes).
    let prefix = "pc" + String(UInt32.random(in: 0..<0xFFFFFF), radix: 36)
    /// The control subnet 10.99.N.0/24, random so that labs side by side do not share a route.
    let controlSubnet = Int.random(in: 10...250)
    var controlAddress: String { "10.99.\(controlSubnet).2" }
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("portcullis-gateway-\(UUID().uuidString)")
    private var processes: [Process] = []

    struct Server {
        let process: Process
        let baseURL: String
        let token: String?

        @discardableResult
        func stop() -> Int32 {
            kill(process.processIdentifier, SIGTERM)
            process.waitUntilExit()
            return process.terminationStatus
        }
    }

    /// A revocation: the HTTP answer's status, its latency, and when the first probe was lost.
    struct Revocation {
        let status: Int
        let responseMilliseconds: Double
        let firstLostMilliseconds: Double?
        /// Whether the access was already gone from the gateway when the answer arrived.
        let goneAtAnswer: Bool
    }

    init() throws {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try run(Self.scriptFolder.appendingPathComponent("topology.sh").path, ["up", prefix, String(controlSubnet)])
    }

    func tearDown() {
        for process in processes.reversed() where process.isRunning {
            kill(process.processIdentifier, SIGTERM)
        }
        let deadline = Date().addingTimeInterval(5)
        while processes.contains(where: \.isRunning), Date() < deadline { usleep(20_000) }
        for process in processes where process.isRunning {
            kill(process.processIdentifier, SIGKILL)
        }
        _ = try? run(Self.scriptFolder.appendingPathComponent("topology.sh").path, ["down", prefix])
        // The sockets of this lab's wireguard-go processes, if one was killed before it could remove its own.
        let sockets = "/var/run/wireguard"
        for name in (try? FileManager.default.contentsOfDirectory(atPath: sockets)) ?? [] where name.hasPrefix(prefix) && name.hasSuffix(".sock") {
            try? FileManager.default.removeItem(atPath: sockets + "/" + name)
        }
        try? FileManager.default.removeItem(at: folder)
    }

    func report(_ step: String, _ revocation: Revocation) {
        let lost = revocation.firstLostMilliseconds.map { String(format: "%.2f ms", $0) } ?? "no probe lost"
        let line = "revocation by \(step): HTTP answer after \(String(format: "%.2f", revocation.responseMilliseconds)) ms, first lost packet \(lost) after the request was sent"
        print(line)
    }

    // MARK: Processes

    func startEchoServers() throws {
        for host in ["ok", "no"] {
            try startEchoServer(in: host)
        }
    }

    /// An echo server on port 7000 of every address of one namespace of the lab (`gw`, `ok`, `no`).
    func startEchoServer(in host: String) throws {
        let process = try spawn(namespace: "\(prefix)-\(host)", ["python3", Self.scriptFolder.appendingPathComponent("echo_server.py").path, "7000"])
        _ = try readLine(process, timeout: 5)
    }

    func startPortcullis(policy: String) throws -> Server {
        let policies = folder.appendingPathComponent("policies")
        try FileManager.default.createDirectory(at: policies, withIntermediateDirectories: true)
        try policy.write(to: policies.appendingPathComponent("lab.yaml"), atomically: true, encoding: .utf8)
        let process = try spawn(
            namespace: "\(prefix)-gw",
            [
                PortcullisBinary.url.path, "serve", "--data", dataPath, "--policies", policies.path, "--listen", "\(controlAddress):0",
                "--interface", "\(prefix)g", "--pool", "10.100.0.0/24", "--endpoint", "10.99.1.1:51820",
            ])
        var output = ""
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline, !output.contains("listening on") || !output.contains("\n") {
            output += try readLine(process, timeout: 20) + "\n"
        }
        // The banner's remaining lines (where the first token is) arrive in the same write.
        while let more = try? readLine(process, timeout: 0.3) { output += more + "\n" }
        guard let range = output.range(of: "http://\(controlAddress):[0-9]+", options: .regularExpression) else {
            throw LabError("portcullis did not start: \(output) \(logTail("portcullis"))")
        }
        return Server(process: process, baseURL: String(output[range]), token: FirstTokenFile.token(banner: output, data: dataPath))
    }

    var dataPath: String { folder.appendingPathComponent("data").path }

    func issueDevice(user: String) throws -> String {
        let result = try PortcullisBinary.run([
            "device", "issue", "--data", dataPath, "--user", user, "--name", "laptop", "--policies", folder.appendingPathComponent("policies").path,
            "--pool", "10.100.0.0/24", "--endpoint", "10.99.1.1:51820", "--allowed-ips", "full",
        ])
        guard result.status == 0 else { throw LabError("device issue failed: \(result.stderr)") }
        return result.stdout
    }

    /// Configures the client namespace from a wg-quick config, as `wg-quick` would, with routes to
    /// both resource networks through the tunnel so that the gateway's firewall decides.
    func startClient(config: String) throws {
        let interface = "\(prefix)c"
        let file = folder.appendingPathComponent("\(interface).conf")
        FileManager.default.createFile(atPath: file.path, contents: Data(config.utf8), attributes: [.posixPermissions: 0o600])
        let stripped = try run("wg-quick", ["strip", file.path])
        let strippedFile = folder.appendingPathComponent("stripped.conf")
        try stripped.write(to: strippedFile, atomically: true, encoding: .utf8)
        let process = try spawn(namespace: "\(prefix)-client", ["wireguard-go", "-f", interface])
        let socket = "/var/run/wireguard/\(interface).sock"
        let deadline = Date().addingTimeInterval(10)
        while !FileManager.default.fileExists(atPath: socket), Date() < deadline { usleep(10_000) }
        guard process.isRunning else { throw LabError("wireguard-go did not start in the client namespace") }
        try run("wg", ["setconf", interface, strippedFile.path])
        let address = config.split(separator: "\n").first { $0.hasPrefix("Address = ") }.map { String($0.dropFirst(10)) } ?? ""
        for entry in address.split(separator: ",") {
            try run("ip", ["netns", "exec", "\(prefix)-client", "ip", "address", "add", entry.trimmingCharacters(in: .whitespaces), "dev", interface])
        }
        try run("ip", ["netns", "exec", "\(prefix)-client", "ip", "link", "set", interface, "up"])
        for network in ["10.40.0.0/24", "10.30.0.0/24"] {
            try run("ip", ["netns", "exec", "\(prefix)-client", "ip", "route", "add", network, "dev", interface])
        }
    }

    /// Routes one more network from the client namespace through its tunnel, as a client may.
    func routeThroughTunnel(_ network: String) throws {
        try run("ip", ["netns", "exec", "\(prefix)-client", "ip", "route", "add", network, "dev", "\(prefix)c"])
    }

    /// One ping from the client namespace, waiting at most a second.
    func ping(_ host: String) -> Bool {
        (try? run("ip", ["netns", "exec", "\(prefix)-client", "ping", "-c", "1", "-W", "1", host])) != nil
    }

    func gatewayPeers() throws -> [String] {
        try run("wg", ["show", "\(prefix)g", "peers"]).split(separator: "\n").map(String.init)
    }

    final class LineProcess {
        let process: Process
        let input: FileHandle
        let lab: GatewayLab
        let firstLine: String

        init(process: Process, input: FileHandle, lab: GatewayLab) throws {
            self.process = process
            self.input = input
            self.lab = lab
            self.firstLine = try lab.readLine(process, timeout: 10)
        }

        func send(_ line: String, timeout: Double = 5) throws -> String {
            input.write(Data((line + "\n").utf8))
            return try lab.readLine(process, timeout: timeout)
        }
    }

    func openTCP(to host: String) throws -> LineProcess {
        let (process, input) = try spawnWithInput(
            namespace: "\(prefix)-client", ["python3", Self.scriptFolder.appendingPathComponent("tcp_client.py").path, host, "7000"])
        return try LineProcess(process: process, input: input, lab: self)
    }

    func startProbe(to host: String) throws -> LineProcess {
        let (process, input) = try spawnWithInput(
            namespace: "\(prefix)-client", ["python3", Self.scriptFolder.appendingPathComponent("probe.py").path, host, "7000"])
        return try LineProcess(process: process, input: input, lab: self)
    }

    /// Sends a revoking request while the probe runs. `goneAtAnswer` is checked the moment the answer
    /// arrives, before anything else: the access must already be gone from the gateway. Then the probe
    /// says when its first packet was lost.
    func timedRevocation(
        probe: LineProcess, goneAtAnswer: () throws -> Bool, _ request: () async throws -> (status: Int, json: [String: Any])
    ) async throws -> Revocation {
        try await Task.sleep(for: .milliseconds(300))
        let start = Date()
        let response = try await request()
        let answered = Date().timeIntervalSince(start) * 1000
        let gone = try goneAtAnswer()
        try await Task.sleep(for: .milliseconds(500))
        let reply = try probe.send(String(format: "lost-after %.6f", start.timeIntervalSince1970))
        let firstLost = Double(reply.split(separator: " ").first ?? "")
        return Revocation(status: response.status, responseMilliseconds: answered, firstLostMilliseconds: firstLost, goneAtAnswer: gone)
    }

    /// The tunnel addresses in Portcullis's firewall source sets.
    func firewallSources() throws -> [String] {
        let listing = try run("ip", ["netns", "exec", "\(prefix)-gw", "nft", "-j", "list", "table", "inet", "portcullis"])
        let json = try JSONSerialization.jsonObject(with: Data(listing.utf8)) as? [String: Any]
        let items = json?["nftables"] as? [[String: Any]] ?? []
        return items.compactMap { $0["set"] as? [String: Any] }
            .filter { ($0["name"] as? String)?.hasSuffix("_src4") == true }
            .flatMap { $0["elem"] as? [String] ?? [] }
    }

    // MARK: HTTP

    func scim(_ server: Server, _ method: String, _ path: String, token: String, body: String? = nil) async throws -> (status: Int, json: [String: Any]) {
        var request = URLRequest(url: URL(string: server.baseURL + "/scim/v2" + path)!)
        request.httpMethod = method
        request.timeoutInterval = 15
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        if let body {
            request.httpBody = Data(body.utf8)
            request.setValue("application/scim+json", forHTTPHeaderField: "Content-Type")
        }
        let (data, response) = try await URLSession.shared.data(for: request)
        let json = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, json)
    }

    func waitUntil(seconds: Double, _ condition: () -> Bool) async throws -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return true }
            try await Task.sleep(for: .milliseconds(200))
        }
        return condition()
    }

    // MARK: Plumbing

    struct LabError: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    private var outputs: [ObjectIdentifier: (FileHandle, Buffer)] = [:]

    final class Buffer {
        var data = Data()
    }

    @discardableResult
    func run(_ tool: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [tool] + arguments
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        let errorData = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw LabError("\(tool) \(arguments.joined(separator: " ")) failed: \(String(decoding: errorData, as: UTF8.self))")
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// Runs a command with every signal unblocked: a child inherits its parent thread's blocked signals,
    /// and test runner threads block SIGTERM, which would make the child unstoppable.
    static let unblockingSignals = [
        "python3", "-c", "import os, signal, sys; signal.pthread_sigmask(signal.SIG_SETMASK, []); os.execvp(sys.argv[1], sys.argv[1:])",
    ]

    /// Starts a long-running process in a namespace; `ip netns exec` and the unblocking wrapper exec
    /// it, so the PID is its own.
    private func spawn(namespace: String, _ command: [String]) throws -> Process {
        try spawnWithInput(namespace: namespace, command).0
    }

    private func spawnWithInput(namespace: String, _ command: [String]) throws -> (Process, FileHandle) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
        if !FileManager.default.isExecutableFile(atPath: "/usr/sbin/ip") { process.executableURL = URL(fileURLWithPath: "/sbin/ip") }
        process.arguments = ["netns", "exec", namespace] + Self.unblockingSignals + command
        let input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        let log = folder.appendingPathComponent("\(command.first.map { ($0 as NSString).lastPathComponent } ?? "process")-\(processes.count).log")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        process.standardError = try FileHandle(forWritingTo: log)
        try process.run()
        processes.append(process)
        outputs[ObjectIdentifier(process)] = (output.fileHandleForReading, Buffer())
        return (process, input.fileHandleForWriting)
    }

    /// The last lines a spawned command wrote to its standard error.
    func logTail(_ command: String) -> String {
        let logs = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return logs.filter { $0.hasPrefix(command + "-") }.compactMap { name in
            (try? String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8)).map { $0.split(separator: "\n").suffix(20).joined(separator: "\n") }
        }.joined(separator: "\n")
    }

    /// The next line a spawned process prints, waiting at most `timeout` seconds.
    func readLine(_ process: Process, timeout: Double) throws -> String {
        guard let (handle, buffer) = outputs[ObjectIdentifier(process)] else { throw LabError("unknown process") }
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            if let newline = buffer.data.firstIndex(of: 0x0A) {
                let line = String(decoding: buffer.data[buffer.data.startIndex..<newline], as: UTF8.self)
                buffer.data.removeSubrange(buffer.data.startIndex...newline)
                return line
            }
            guard Date() < deadline else { throw LabError("no output within \(timeout) s") }
            var pollDescriptor = pollfd(fd: handle.fileDescriptor, events: Int16(POLLIN), revents: 0)
            let remaining = Int32(max(1, deadline.timeIntervalSinceNow * 1000))
            guard poll(&pollDescriptor, 1, remaining) > 0 else { continue }
            let chunk = handle.availableData
            if chunk.isEmpty { throw LabError("the process closed its output") }
            buffer.data.append(chunk)
        }
    }
}
