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

        func isActive(at now: Int64) -> Bool {
            until.map { now < $0 } ?? true
        }

        func applies(to subject: PolicySubject) -> Bool {
            if users.contains(subject.userName.lowercased()) { return true }
            if subject.groups.contains(where: { groups.contains($0.lowercased()) }) { return true }
            guard !attributes.isEmpty else { return false }
            return attributes.allSatisfy { condition in
                (subject.attributes[condition.name] ?? []).contains { condition.values.contains($0.lowercased()) }
            }
        }
    }

    public let policy: PolicySet
    public let rules: [CompiledRule]
    private let rulesByGroup: [String: [Int]]
    private let rulesByUser: [String: [Int]]
    private let attributeRules: [Int]

    public init(_ policy: PolicySet) {
        self.policy = policy
        var rules: [CompiledRule] = []
        var rulesByGroup: [String: [Int]] = [:]
        var rulesByUser: [String: [Int]] = [:]
        var attributeRules: [Int] = []
        for (index, rule) in policy.rules.enumerated() {
            let groups = Set(rule.selectors.groups.map { $0.lowercased() })
            let users = Set(rule.selectors.users.map { $0.lowercased() })
            for group in groups { rulesByGroup[group, default: []].append(index) }
            for user in users { rulesByUser[user, default: []].append(index) }
            if !rule.selectors.attributes.isEmpty { attributeRules.append(index) }
            rules.append(
                CompiledRule(
                    name: rule.name, location: rule.location, until: rule.until,
                    allow: Self.accessSet(rule.allow, resources: policy.resources),
                    deny: Self.accessSet(rule.deny, resources: policy.resources),
                    groups: groups, users: users,
                    attributes: rule.selectors.attributes.map { ($0.name, Set($0.values.map { $0.lowercased() })) }))
        }
        self.rules = rules
        self.rulesByGroup = rulesByGroup
        self.rulesByUser = rulesByUser
        self.attributeRules = attributeRules
    }

    /// The rules that apply to `subject` and are in force at `now`, by index in policy order.
    /// Inactive users match no rule: only active users get access.
    public func matchingRules(for subject: PolicySubject, at now: Int64) -> [Int] {
        guard subject.active else { return [] }
        var indices = Set<Int>()
        if let byUser = rulesByUser[subject.userName.lowercased()] { indices.formUnion(byUser) }
        for group in subject.groups {
            if let byGroup = rulesByGroup[group.lowercased()] { indices.formUnion(byGroup) }
        }
        for index in attributeRules where !indices.contains(index) && rules[index].applies(to: subject) {
            indices.insert(index)
        }
        return indices.filter { rules[$0].isActive(at: now) }.sorted()
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
