import Foundation
import Policy
import Reconciler
import SCIM
import Store
import WireGuard

/// `make bench-revocation` (root): with 10,000 peers on a wireguard-go interface managed by
/// Portcullis in a network namespace, the time of 100 SCIM DELETEs — each answered only after the
/// user's peer is removed — side by side with what a full-resync controller pays for the same
/// revocation: `wg syncconf` of the whole configuration minus one peer.
struct RevocationBenchmark {
    let options: BenchOptions

    func run() async {
        guard getuid() == 0 else {
            print("bench-revocation needs root: it creates a network namespace and a WireGuard interface")
            exit(1)
        }
        let peerCount = options.int("peers", 10_000)
        let deletions = options.int("deletions", 100)
        let binary = options.string("binary", ".build/release/portcullis")
        let tag = String(UInt32.random(in: 0..<0xFFFFFF), radix: 36)
        let namespace = "pcbench-\(tag)"
        let interface = "pcb\(tag)"
        let subnet = Int.random(in: 10...250)
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("portcullis-bench-revocation-\(tag)")
        var server: Process?
        defer {
            if let server, server.isRunning {
                kill(server.processIdentifier, SIGTERM)
                server.waitUntilExit()
            }
            _ = try? Shell.run("ip", ["netns", "delete", namespace])
            // wireguard-go leaves its UAPI socket behind when its interface goes with the namespace.
            try? FileManager.default.removeItem(atPath: "/var/run/wireguard/\(interface).sock")
            try? FileManager.default.removeItem(at: work)
        }
        do {
            try FileManager.default.createDirectory(at: work.appendingPathComponent("policies"), withIntermediateDirectories: true)
            let data = work.appendingPathComponent("data").path
            print("seeding \(peerCount.formatted()) users with one device each")
            let (ids, seedTime) = try await Timing.measureAsync { try await seed(data: data, count: peerCount) }
            print("seeded in \(Timing.format(Timing.milliseconds(seedTime)))")

            try Shell.run("ip", ["netns", "add", namespace])
            try Shell.run("ip", ["netns", "exec", namespace, "ip", "link", "set", "lo", "up"])
            try Shell.run("ip", ["link", "add", "\(interface)h", "type", "veth", "peer", "name", "\(interface)n"])
            try Shell.run("ip", ["link", "set", "\(interface)n", "netns", namespace])
            try Shell.run("ip", ["address", "add", "10.98.\(subnet).1/24", "dev", "\(interface)h"])
            try Shell.run("ip", ["link", "set", "\(interface)h", "up"])
            try Shell.run("ip", ["netns", "exec", namespace, "ip", "address", "add", "10.98.\(subnet).2/24", "dev", "\(interface)n"])
            try Shell.run("ip", ["netns", "exec", namespace, "ip", "link", "set", "\(interface)n", "up"])

            let (process, baseURL, token) = try startServer(
                binary: binary, namespace: namespace, interface: interface, data: data, policies: work.appendingPathComponent("policies").path,
                address: "10.98.\(subnet).2")
            server = process
            let (_, syncTime) = try await Timing.measureAsync {
                while try Shell.run("wg", ["show", interface, "peers"]).split(separator: "\n").count < peerCount {
                    try await Task.sleep(for: .milliseconds(100))
                }
            }
            print("\(peerCount.formatted()) peers on \(interface) \(Timing.format(Timing.milliseconds(syncTime))) after the server answered")

            var generator = SeededGenerator(seed: 11)
            let victims = Array(ids.shuffled(using: &generator).prefix(deletions))
            var latencies: [Double] = []
            var stillThere = 0
            let client = try KeepAliveClient(baseURL: baseURL)
            for victim in victims {
                let start = ContinuousClock.now
                let status = try client.send("DELETE", "/scim/v2/Users/" + victim.userID, token: token)
                latencies.append(Timing.milliseconds(ContinuousClock.now - start))
                guard status == 204 else {
                    print("DELETE answered \(status)")
                    exit(1)
                }
                if try Shell.run("wg", ["show", interface, "peers"]).contains(victim.publicKey) { stillThere += 1 }
            }

            let baseline = try syncconfBaseline(interface: interface, data: data, runs: options.int("syncconf-runs", 20))
            report(peers: peerCount, latencies: latencies, stillThere: stillThere, baseline: baseline)
        } catch {
            print("bench-revocation failed: \(error)")
            exit(1)
        }
    }

    private func report(peers: Int, latencies: [Double], stillThere: Int, baseline: [Double]) {
        let p50 = Timing.percentile(latencies, 50)
        let p99 = Timing.percentile(latencies, 99)
        let lines = [
            "### \(peers.formatted()) peers, \(latencies.count) deletions",
            "",
            "Measured \(Machine.now) on \(Machine.description), with `make bench-revocation` (release build, as root): Portcullis",
            "manages a wireguard-go interface and nftables in a network namespace; \(peers.formatted()) users with one device each.",
            "A SCIM `DELETE /Users/{id}` is answered only after the user's peer is removed (over the UAPI socket) and its",
            "firewall elements deleted, so the time to the answer bounds the time until the peer is gone from `wg show`;",
            "after each answer `wg show` was checked: the peer was still there \(stillThere) time(s). The DELETEs go one after",
            "another over one kept-alive HTTP/1.1 connection, as an identity provider's connection pool sends them.",
            "The full-resync controller's cost for the same revocation is one `wg syncconf` of the whole configuration",
            "(all peers but one), as controllers that rebuild the configuration from scratch do.",
            "",
            "| Revocation of one user | p50 | p99 | runs |",
            "| --- | ---: | ---: | ---: |",
            "| Portcullis: SCIM DELETE answered (peer already removed) | \(Timing.format(p50)) | \(Timing.format(p99)) | \(latencies.count) |",
            "| full resync: `wg syncconf` with one peer removed | \(Timing.format(Timing.percentile(baseline, 50))) | \(Timing.format(Timing.percentile(baseline, 99))) | \(baseline.count) |",
            "",
            "Target (issue #4): p99 under 10 ms: \(p99 < 10 ? "met" : "MISSED") (\(Timing.format(p99))).",
        ]
        let body = lines.joined(separator: "\n")
        print(body)
        if options.flag("docs") {
            do {
                try BenchmarksDocument.write(section: "bench-revocation", body: "## Revocation (make bench-revocation)\n\n" + body)
            } catch {
                print("could not write docs/benchmarks.md: \(error)")
            }
        }
    }

    struct Seeded {
        let userID: String
        let publicKey: String
    }

    /// Users with one device each, written straight into the store (faster than over HTTP).
    private func seed(data: String, count: Int) async throws -> [Seeded] {
        let store = try Store(directory: data)
        let pool = try AddressPool.parse("10.100.0.0/16")
        var seeded: [Seeded] = []
        for index in 0..<count {
            let user = try await store.create(.user, attributes: ["userName": .string("bench\(index)@example.com"), "active": true])
            let pair = WireGuardKeyPair.generate()
            _ = try await store.createDevice(
                Store.NewDevice(userID: user.id, name: "laptop", publicKey: pair.publicKey.base64),
                firstIndex: pool.firstDeviceIndex, capacity: pool.capacity, quarantine: 3_600_000
            ) { index in
                let (address4, _) = pool.addresses(at: index)
                return (address4.description, nil)
            }
            seeded.append(Seeded(userID: user.id, publicKey: pair.publicKey.base64))
        }
        return seeded
    }

    private func startServer(
        binary: String, namespace: String, interface: String, data: String, policies: String, address: String
    ) throws -> (Process, String, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [
            "ip", "netns", "exec", namespace, binary, "serve", "--data", data, "--policies", policies, "--listen", "\(address):0",
            "--interface", interface, "--pool", "10.100.0.0/16", "--endpoint", "\(address):51820", "--log-level", "warning",
        ]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
        var text = ""
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline, !text.contains("listening on") {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty, !process.isRunning { break }
            text += String(decoding: chunk, as: UTF8.self)
        }
        // Standard output is not a terminal: the first token is in a file of the data folder.
        let tokenFile = data + "/initial-token"
        guard let base = text.range(of: "http://[0-9.]+:[0-9]+", options: .regularExpression),
            let token = (try? String(contentsOfFile: tokenFile, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines), !token.isEmpty
        else {
            throw BenchError("the server did not start, or wrote no first token to \(tokenFile): \(text)")
        }
        return (process, String(text[base]), token)
    }

    /// `wg syncconf` of the interface's whole configuration with one peer left out, `runs` times, a
    /// different peer each time (so every run really removes one and puts the previous one back).
    private func syncconfBaseline(interface: String, data: String, runs: Int) throws -> [Double] {
        let dump = try Shell.run("wg", ["show", interface, "dump"]).split(separator: "\n").dropFirst()
        let peers = dump.map { $0.split(separator: "\t").map(String.init) }.filter { $0.count >= 4 }
        let privateKey = try String(contentsOfFile: data + "/" + GatewayKeyFile.fileName, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("portcullis-syncconf-\(UUID().uuidString).conf")
        defer { try? FileManager.default.removeItem(at: file) }
        var samples: [Double] = []
        for run in 0..<min(runs, peers.count) {
            var lines = ["[Interface]", "PrivateKey = \(privateKey)", "ListenPort = 51820"]
            for (index, peer) in peers.enumerated() where index != run {
                lines += ["[Peer]", "PublicKey = \(peer[0])", "AllowedIPs = \(peer[3])"]
            }
            FileManager.default.createFile(atPath: file.path, contents: Data(lines.joined(separator: "\n").utf8), attributes: [.posixPermissions: 0o600])
            let start = ContinuousClock.now
            try Shell.run("wg", ["syncconf", interface, file.path])
            samples.append(Timing.milliseconds(ContinuousClock.now - start))
        }
        return samples
    }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Runs a tool to completion; fails on a non-zero exit.
enum Shell {
    @discardableResult
    static func run(_ tool: String, _ arguments: [String]) throws -> String {
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
            throw BenchError("\(tool) \(arguments.joined(separator: " ")): \(String(decoding: errorData, as: UTF8.self))")
        }
        return String(decoding: data, as: UTF8.self)
    }
}

extension Timing {
    static func measureAsync<T>(_ body: () async throws -> T) async rethrows -> (T, Duration) {
        let start = ContinuousClock.now
        let result = try await body()
        return (result, ContinuousClock.now - start)
    }
}
