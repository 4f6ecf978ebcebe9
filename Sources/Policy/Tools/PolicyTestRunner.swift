/// Runs the `tests:` of a policy.
public enum PolicyTestRunner {
    /// The outcome of one test.
    public struct Outcome: Sendable {
        public let test: PolicyTest
        /// One line per failed check, e.g. "expected allow git:tcp/22, but it is denied".
        public let failures: [String]

        public var passed: Bool { failures.isEmpty }
    }

    /// Runs every test; `now` is used for tests without `at`.
    public static func run(_ policy: CompiledPolicy, at now: Int64) -> [Outcome] {
        policy.policy.tests.map { test in
            let access = policy.access(for: test.subject, at: test.at ?? now)
            var failures: [String] = []
            for probe in test.allow {
                let wanted = probeSet(probe, resources: policy.policy.resources)
                let missing = wanted.subtracting(access)
                if !missing.isEmpty {
                    failures.append("expected allow \(probe) (\(probe.location)), but \(missing) is denied")
                }
            }
            for probe in test.deny {
                let probed = probeSet(probe, resources: policy.policy.resources)
                let reachable = probed.subtracting(probed.subtracting(access))
                if !reachable.isEmpty {
                    failures.append("expected deny \(probe) (\(probe.location)), but \(reachable) is allowed")
                }
            }
            return Outcome(test: test, failures: failures)
        }
    }

    /// The packets a probe stands for: every host of its target, on its port.
    static func probeSet(_ probe: PolicyTest.Probe, resources: [String: NetworkResource]) -> AccessSet {
        let (prefixes, _) = CompiledPolicy.expand(probe.target, resources: resources)
        return AccessSet(
            prefixes.flatMap { prefix in
                probe.port.parts.map { AccessGrant(prefix: prefix, networkProtocol: $0.0, ports: $0.1) }
            })
    }
}
