/// Answers "may this user reach that address, and which rules decided it?".
public enum PolicyExplainer {
    /// A decision with its reasons.
    public struct Decision: Sendable, CustomStringConvertible {
        public let allowed: Bool
        /// The rules that decided: the denies that matched, else the allows that matched.
        public let decidingRules: [(name: String, location: SourceLocation, effect: String)]
        /// Why, in one sentence.
        public let reason: String

        public var description: String {
            var lines = [(allowed ? "allowed" : "denied") + ": " + reason]
            for rule in decidingRules {
                lines.append("  \(rule.effect) by rule '\(rule.name)' at \(rule.location)")
            }
            return lines.joined(separator: "\n")
        }
    }

    /// Decides a packet to `address` in `networkProtocol` on `port` from `subject` at `now`.
    public static func explain(
        _ policy: CompiledPolicy, subject: PolicySubject, address: IPPrefix, networkProtocol: NetworkProtocol, port: UInt16?, at now: Int64
    ) -> Decision {
        guard subject.active else {
            return Decision(allowed: false, decidingRules: [], reason: "\(subject.userName) is not active; inactive users reach nothing")
        }
        let matching = policy.matchingRules(for: subject, at: now)
        let hits = { (set: AccessSet) in
            set.permits(address: address.address, family: address.family, networkProtocol: networkProtocol, port: port)
        }
        let denies = matching.filter { hits(policy.rules[$0].deny) }
        let allows = matching.filter { hits(policy.rules[$0].allow) }
        let describe = { (indices: [Int], effect: String) in
            indices.map { (policy.rules[$0].name, policy.rules[$0].location, effect) }
        }
        if !denies.isEmpty {
            return Decision(allowed: false, decidingRules: describe(denies, "denied"), reason: "a deny rule matches, and deny beats every allow")
        }
        if !allows.isEmpty {
            return Decision(allowed: true, decidingRules: describe(allows, "allowed"), reason: "an allow rule matches and no deny rule does")
        }
        let expired = policy.rules.indices.filter { index in
            !policy.rules[index].isActive(at: now) && policy.rules[index].applies(to: subject) && hits(policy.rules[index].allow)
        }
        if !expired.isEmpty {
            return Decision(allowed: false, decidingRules: describe(expired, "expired, no longer allowed"), reason: "the only rules that allowed it have expired")
        }
        return Decision(allowed: false, decidingRules: [], reason: "no rule allows it (default deny)")
    }
}
