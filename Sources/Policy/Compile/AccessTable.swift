/// Every user's access under one policy, grouped into classes of users who match the same rules and
/// so have the same access. This is the shape the gateway enforces: one source-address set per class,
/// one destination set per class (see DESIGN.md, nftables layout).
public struct AccessTable: Sendable {
    /// Users who match the same rules.
    public struct AccessClass: Sendable {
        /// Rule indices in policy order; the class's identity.
        public let rules: [Int]
        public let ruleNames: [String]
        public let access: AccessSet
        public var users: [String]
    }

    public let classes: [AccessClass]
    /// userName → index into `classes`; users with no access are absent.
    public let classOfUser: [String: Int]

    /// Computes every subject's access at `now`. Each distinct set of matching rules is computed once.
    public init(policy: CompiledPolicy, subjects: [PolicySubject], at now: Int64) {
        var classes: [AccessClass] = []
        var classByRules: [[Int]: Int] = [:]
        var classOfUser: [String: Int] = [:]
        for subject in subjects {
            let rules = policy.matchingRules(for: subject, at: now)
            guard !rules.isEmpty else { continue }
            if let existing = classByRules[rules] {
                guard existing >= 0 else { continue }  // these rules grant nothing
                classes[existing].users.append(subject.userName)
                classOfUser[subject.userName] = existing
                continue
            }
            let access = policy.access(ofRules: rules)
            guard !access.isEmpty else {
                classByRules[rules] = -1
                continue
            }
            classByRules[rules] = classes.count
            classOfUser[subject.userName] = classes.count
            classes.append(AccessClass(rules: rules, ruleNames: rules.map { policy.rules[$0].name }, access: access, users: [subject.userName]))
        }
        self.classes = classes
        self.classOfUser = classOfUser
    }

    /// What `userName` may reach (empty if nothing).
    public func access(of userName: String) -> AccessSet {
        classOfUser[userName].map { classes[$0].access } ?? .empty
    }
}
