/// A policy ready to answer "what may this user reach?": every rule's destinations resolved to
/// access sets, and rules indexed by the groups and users they name, so one user's access costs a
/// few dictionary lookups and one union of precomputed sets.
public struct CompiledPolicy: Sendable {
    /// One rule, compiled.
    public struct CompiledRule: Sendable {
        public let name: String
        public let location: SourceLocation
        public let until: Int64?
        public let allow: AccessSet
        public let deny: AccessSet
        let groups: Set<String>
        let users: Set<String>
        let attributes: [(name: String, values: Set<String>)]

        /// Whether the rule is in force at `now` (before its `until`).
        public func isActive(at now: Int64) -> Bool {
            until.map { now < $0 } ?? true
        }

        func applies(to subject: PolicySubject) -> Bool {
            if users.contains(fold(subject.userName)) { return true }
            if subject.groups.contains(where: { groups.contains(fold($0)) }) { return true }
            return appliesByAttributes(subject.attributes.mapValues { $0.map(fold) })
        }

        /// Whether every `where` condition holds, given the subject's attribute values already folded.
        func appliesByAttributes(_ folded: [String: [String]]) -> Bool {
            guard !attributes.isEmpty else { return false }
            return attributes.allSatisfy { condition in
                (folded[condition.name] ?? []).contains { condition.values.contains($0) }
            }
        }
    }

    public let policy: PolicySet
    public let rules: [CompiledRule]
    private let rulesByGroup: [String: [Int]]
    private let rulesByUser: [String: [Int]]
    /// Attribute rules by their first condition's attribute and each of its values ("name\0value").
    private let rulesByAttribute: [String: [Int]]

    public init(_ policy: PolicySet) {
        self.policy = policy
        var rules: [CompiledRule] = []
        var rulesByGroup: [String: [Int]] = [:]
        var rulesByUser: [String: [Int]] = [:]
        var rulesByAttribute: [String: [Int]] = [:]
        for (index, rule) in policy.rules.enumerated() {
            let groups = Set(rule.selectors.groups.map(fold))
            let users = Set(rule.selectors.users.map(fold))
            for group in groups { rulesByGroup[group, default: []].append(index) }
            for user in users { rulesByUser[user, default: []].append(index) }
            if let first = rule.selectors.attributes.first {
                for value in Set(first.values.map(fold)) { rulesByAttribute[first.name + "\u{0}" + value, default: []].append(index) }
            }
            rules.append(
                CompiledRule(
                    name: rule.name, location: rule.location, until: rule.until,
                    allow: Self.accessSet(rule.allow, resources: policy.resources),
                    deny: Self.accessSet(rule.deny, resources: policy.resources),
                    groups: groups, users: users,
                    attributes: rule.selectors.attributes.map { ($0.name, Set($0.values.map(fold))) }))
        }
        self.rules = rules
        self.rulesByGroup = rulesByGroup
        self.rulesByUser = rulesByUser
        self.rulesByAttribute = rulesByAttribute
    }

    /// The rules that apply to `subject` and are in force at `now`, by index in policy order.
    /// Inactive users match no rule: only active users get access. Every selector is an index
    /// lookup; an attribute rule's other conditions are checked only when its first one holds.
    public func matchingRules(for subject: PolicySubject, at now: Int64) -> [Int] {
        guard subject.active else { return [] }
        var indices: [Int] = []
        if let byUser = rulesByUser[fold(subject.userName)] { indices += byUser }
        for group in subject.groups {
            if let byGroup = rulesByGroup[fold(group)] { indices += byGroup }
        }
        if !rulesByAttribute.isEmpty, !subject.attributes.isEmpty {
            let folded = subject.attributes.mapValues { $0.map(fold) }
            for (name, values) in folded {
                for value in values {
                    for index in rulesByAttribute[name + "\u{0}" + value] ?? [] where rules[index].appliesByAttributes(folded) {
                        indices.append(index)
                    }
                }
            }
        }
        guard !indices.isEmpty else { return [] }
        indices.sort()
        var unique: [Int] = []
        unique.reserveCapacity(indices.count)
        for index in indices where unique.last != index && rules[index].isActive(at: now) {
            unique.append(index)
        }
        return unique
    }

    /// What a set of matching rules grants: the union of their allows minus the union of their denies.
    public func access(ofRules indices: [Int]) -> AccessSet {
        var allowed: [AccessGrant] = []
        var denied: [AccessGrant] = []
        for index in indices {
            allowed += rules[index].allow.grants
            denied += rules[index].deny.grants
        }
        return AccessSet(allowed).subtracting(AccessSet(denied))
    }

    /// What `subject` may reach at `now`.
    public func access(for subject: PolicySubject, at now: Int64) -> AccessSet {
        access(ofRules: matchingRules(for: subject, at: now))
    }

    /// The next instant after `now` at which a rule expires, so a server can recompute then.
    public func nextExpiry(after now: Int64) -> Int64? {
        rules.compactMap(\.until).filter { $0 > now }.min()
    }

    /// Every prefix any rule allows, minimized: the `AllowedIPs` that route all policy destinations
    /// through the tunnel whatever a user's groups, so configs do not go stale when groups change.
    public var allowedDestinationPrefixes: [IPPrefix] {
        IPPrefix.minimize(rules.flatMap { $0.allow.grants.map(\.prefix) })
    }

    /// Every group name the rules mention, as written.
    public var referencedGroups: [String] {
        Array(Set(policy.rules.flatMap(\.selectors.groups))).sorted()
    }

    /// Every userName the rules mention, as written.
    public var referencedUsers: [String] {
        Array(Set(policy.rules.flatMap(\.selectors.users))).sorted()
    }

    /// The access set of a list of destinations.
    static func accessSet(_ destinations: [Destination], resources: [String: NetworkResource]) -> AccessSet {
        var grants: [AccessGrant] = []
        for destination in destinations {
            let (prefixes, defaultPorts) = expand(destination.target, resources: resources)
            let ports = destination.ports ?? (defaultPorts.isEmpty ? [.any] : defaultPorts)
            for prefix in prefixes {
                for spec in ports {
                    for (networkProtocol, range) in spec.parts {
                        grants.append(AccessGrant(prefix: prefix, networkProtocol: networkProtocol, ports: range))
                    }
                }
            }
        }
        return AccessSet(grants)
    }

    static func expand(_ target: Destination.Target, resources: [String: NetworkResource]) -> ([IPPrefix], [PortSpec]) {
        switch target {
        case .prefix(let prefix): ([prefix], [])
        case .resource(let name): (resources[name]?.hosts ?? [], resources[name]?.defaultPorts ?? [])
        }
    }
}

/// Names and values compared ignoring case: lowercased, with a fast path for ASCII text.
func fold(_ text: String) -> String {
    let utf8 = text.utf8
    guard utf8.allSatisfy({ $0 < 0x80 }) else { return text.lowercased() }
    guard utf8.contains(where: { $0 >= 0x41 && $0 <= 0x5A }) else { return text }
    return String(decoding: utf8.map { $0 >= 0x41 && $0 <= 0x5A ? $0 + 0x20 : $0 }, as: UTF8.self)
}
