import Foundation

extension PolicyDiff {
    /// A rule added, removed or changed, matched by name, with where each version is written.
    public struct RuleChange: Sendable {
        public enum Kind: String, Sendable {
            case added, removed, changed
        }

        public let name: String
        public let kind: Kind
        /// The old definition (nil for an added rule).
        public let from: SourceLocation?
        /// The new definition (nil for a removed rule).
        public let to: SourceLocation?
        /// What changed, one fact a line: `groups: + Contractors`, `allow: - git on tcp/22 (10.20.1.10/32 tcp/22)`,
        /// `until: none → 2027-06-30T00:00:00Z`. An added rule lists everything it says as `+`, a removed one as `-`.
        public let details: [String]
    }

    /// The rules that differ in what they do: whom they apply to (groups, users, where), what they
    /// allow and deny (as resolved access, so a changed resource changes every rule that uses it),
    /// and until when. New rules in the new policy's order, then removed ones in the old one's.
    /// A rule only moved or reworded without changing its effect is not listed.
    public static func compareRules(from old: CompiledPolicy, to new: CompiledPolicy) -> [RuleChange] {
        let oldIndex = Dictionary(old.policy.rules.indices.map { (old.policy.rules[$0].name, $0) }, uniquingKeysWith: { first, _ in first })
        let newNames = Set(new.policy.rules.map(\.name))
        var changes: [RuleChange] = []
        for (index, rule) in new.policy.rules.enumerated() {
            let before = oldIndex[rule.name].map { RuleSide(old, $0) }
            let details = RuleSide.details(from: before, to: RuleSide(new, index), oldPolicy: old, newPolicy: new)
            guard let before else {
                changes.append(RuleChange(name: rule.name, kind: .added, from: nil, to: rule.location, details: details))
                continue
            }
            if !details.isEmpty {
                changes.append(RuleChange(name: rule.name, kind: .changed, from: before.rule.location, to: rule.location, details: details))
            }
        }
        for (index, rule) in old.policy.rules.enumerated() where !newNames.contains(rule.name) {
            let details = RuleSide.details(from: RuleSide(old, index), to: nil, oldPolicy: old, newPolicy: new)
            changes.append(RuleChange(name: rule.name, kind: .removed, from: rule.location, to: nil, details: details))
        }
        return changes
    }
}

/// One rule as written and as compiled, for comparing two versions of it.
private struct RuleSide {
    let rule: Rule
    let compiled: CompiledPolicy.CompiledRule

    init(_ policy: CompiledPolicy, _ index: Int) {
        rule = policy.policy.rules[index]
        compiled = policy.rules[index]
    }

    /// How `new` differs from `old`; with one of them nil, everything the other says (as `+` or `-`).
    static func details(from old: RuleSide?, to new: RuleSide?, oldPolicy: CompiledPolicy, newPolicy: CompiledPolicy) -> [String] {
        var details: [String] = []
        details += listChanges("groups", old: old?.groups ?? [], new: new?.groups ?? [])
        details += listChanges("users", old: old?.users ?? [], new: new?.users ?? [])
        details += listChanges("where", old: old?.conditions ?? [], new: new?.conditions ?? [])
        let allow = PolicyDiff.AccessChange(from: old?.compiled.allow ?? .empty, to: new?.compiled.allow ?? .empty, old: oldPolicy, new: newPolicy)
        let deny = PolicyDiff.AccessChange(from: old?.compiled.deny ?? .empty, to: new?.compiled.deny ?? .empty, old: oldPolicy, new: newPolicy)
        details += accessChanges("allow", allow) + accessChanges("deny", deny)
        switch (old?.rule.until, new?.rule.until) {
        case (let before?, let after?) where before != after:
            details.append("until: \(instantText(before)) → \(instantText(after))")
        case (let before?, nil) where new != nil:
            details.append("until: \(instantText(before)) → none")
        case (nil, let after?) where old != nil:
            details.append("until: none → \(instantText(after))")
        case (let only?, nil), (nil, let only?):
            details.append("until: \(instantText(only))")
        default:
            break
        }
        if let old, let new, !allow.isEmpty || !deny.isEmpty {
            details += new.changedResources(since: old, oldPolicy: oldPolicy, newPolicy: newPolicy).map {
                "uses resource \($0.name), which changed (\($0.location))"
            }
        }
        return details
    }

    /// Group names, each with the key the policy matches it by.
    private var groups: [Selector] { rule.selectors.groups.map { Selector(text: $0, key: fold($0)) } }

    /// userNames, each with the key the policy matches it by.
    private var users: [Selector] { rule.selectors.users.map { Selector(text: $0, key: fold($0)) } }

    /// `department: [Sales, Sales Operations]`, one a condition; the same values in another order or
    /// case are the same condition.
    private var conditions: [Selector] {
        rule.selectors.attributes.map { condition in
            let key = condition.name + "\u{0}" + Set(condition.values.map(fold)).sorted().joined(separator: "\u{0}")
            return Selector(text: "\(condition.name): [\(condition.values.joined(separator: ", "))]", key: key)
        }
    }

    /// The resources this rule names whose hosts or default ports differ from `old`'s policy.
    private func changedResources(since old: RuleSide, oldPolicy: CompiledPolicy, newPolicy: CompiledPolicy) -> [NetworkResource] {
        var names: [String] = []
        for destination in rule.allow + rule.deny + old.rule.allow + old.rule.deny {
            if case .resource(let name) = destination.target, !names.contains(name) { names.append(name) }
        }
        return names.compactMap { name in
            guard let after = newPolicy.policy.resources[name], let before = oldPolicy.policy.resources[name] else { return nil }
            let sameHosts = NamedAccess.grants(on: before.hosts, ports: [.any]).permitsTheSame(as: NamedAccess.grants(on: after.hosts, ports: [.any]))
            return sameHosts && Set(before.defaultPorts) == Set(after.defaultPorts) ? nil : after
        }
    }

    private struct Selector {
        let text: String
        let key: String
    }

    private static func listChanges(_ field: String, old: [Selector], new: [Selector]) -> [String] {
        let oldKeys = Set(old.map(\.key))
        let newKeys = Set(new.map(\.key))
        let added = new.filter { !oldKeys.contains($0.key) }.map { "\(field): + \($0.text)" }
        let removed = old.filter { !newKeys.contains($0.key) }.map { "\(field): - \($0.text)" }
        return added + removed
    }

    private static func accessChanges(_ field: String, _ change: PolicyDiff.AccessChange) -> [String] {
        change.gainedByResource.map { "\(field): + \($0)" } + change.lostByResource.map { "\(field): - \($0)" }
    }

    /// `2027-06-30T00:00:00Z`, or `none`.
    static func instantText(_ milliseconds: Int64?) -> String {
        guard let milliseconds else { return "none" }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = milliseconds % 1000 == 0 ? [.withInternetDateTime] : [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: Date(timeIntervalSince1970: Double(milliseconds) / 1000))
    }
}
