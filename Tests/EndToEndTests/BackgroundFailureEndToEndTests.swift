import Foundation
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Work the server does on its own (applying a reloaded policy, retries, drift checks) reports its
/// failures: `/readyz` fails while the gateway differs from the desired state, and recovers.
@Suite(.serialized)
struct BackgroundFailureEndToEndTests {
    static func policy(rule: String, network: String) -> String {
        """
        rules:
          - name: \(rule)
            groups: [Engineering]
            allow: [{ to: \(network), ports: [tcp/22] }]
        """
    }

    static func get(_ server: ServerProcess, _ path: String) async throws -> (status: Int, body: String) {
        let (data, response) = try await URLSession.shared.data(from: URL(string: server.baseURL + path)!)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
    }

    static func eventually(seconds: Double, _ condition: () async throws -> Bool) async throws -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try await condition() { return true }
            try await Task.sleep(for: .milliseconds(100))
        }
        return try await condition()
    }

    @Test func aPolicyThatCannotBeAppliedMakesReadinessFailUntilItIsApplied() async throws {
        let data = DataFolder()
        let policies = data.path + "-policies"
        try FileManager.default.createDirectory(atPath: policies, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: policies) }
        try Self.policy(rule: "engineers-ssh", network: "10.20.0.0/16").write(toFile: policies + "/lab.yaml", atomically: true, encoding: .utf8)

        let server = try ServerProcess(data: data.path, extraArguments: ["--policies", policies])
        defer { server.stop() }
        #expect(try await Self.eventually(seconds: 10) { try await Self.get(server, "/readyz").status == 200 })

        // The dry-run gateway's firewall file cannot be written any more (a directory took its place,
        // which stops root too), and a new policy arrives.
        let firewallFile = data.path + "/dry-run/nftables.conf"
        try FileManager.default.removeItem(atPath: firewallFile)
        try FileManager.default.createDirectory(atPath: firewallFile, withIntermediateDirectories: false)
        try Self.policy(rule: "engineers-db", network: "10.30.0.0/16").write(toFile: policies + "/lab.yaml", atomically: true, encoding: .utf8)
        kill(server.process.processIdentifier, SIGHUP)

        let failed = try await Self.eventually(seconds: 10) { try await Self.get(server, "/readyz").status == 503 }
        #expect(failed, "the policy could not be applied, so the gateway is not in the desired state")
        let metrics = try await Self.get(server, "/metrics").body
        let failures = metrics.split(separator: "\n").first { $0.hasPrefix("portcullis_background_failures_total ") }
        #expect(failures.flatMap { Double($0.split(separator: " ")[1]) }.map { $0 >= 1 } == true, "\(failures ?? "no metric")")

        // The gateway can be written again: the retry applies the new policy and readiness returns.
        try FileManager.default.removeItem(atPath: firewallFile)
        let recovered = try await Self.eventually(seconds: 10) { try await Self.get(server, "/readyz").status == 200 }
        #expect(recovered)
        let ruleset = try String(contentsOfFile: firewallFile, encoding: .utf8)
        #expect(ruleset.contains("10.30.0.0/16"), "the new policy is the one applied")
        #expect(!ruleset.contains("10.20.0.0/16"))
    }
}
