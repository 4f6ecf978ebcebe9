import Testing
@testable import Policy

/// Random policies over a small address space, written out as YAML and checked against a direct,
/// rule-by-rule reading of the semantics: default deny; a rule applies to an active user named in
/// `users`, in one of its `groups`, or meeting every `where` condition (names and values ignore case);
/// a rule past its `until` does nothing; the packet is allowed if an applying rule allows it and no
/// applying rule denies it.
struct RandomPolicy {
    struct Resource {
        let name: String
        let hosts: [IPPrefix]
        let ports: [String]
    }

    struct Destination {
        /// A resource name or a literal prefix.
        let target: String
        /// The literal prefix, if `target` is one.
        let prefix: IPPrefix?
        let ports: [String]?
    }

    struct Rule {
        var name: String
        var groups: [String] = []
        var users: [String] = []
        var conditions: [(name: String, values: [String])] = []
        var allow: [Destination] = []
        var deny: [Destination] = []
        var until: Int64?
        var untilText: String?
    }

    var resources: [Resource]
    /// Rules, by file.
    var files: [[Rule]]

    static let groupNames = ["eng", "ops", "sales", "contractors"]
    static let userNames = ["ada", "bob", "cy", "dee"]
    static let attributeValues = ["department": ["d0", "d1", "d2"], "title": ["t0", "t1"]]
    static let portSpecs = ["tcp/1", "tcp/2", "tcp/3", "udp/1", "udp/4", "tcp/0-2", "tcp/2-5", "udp/3-6", "tcp", "udp", "icmp", "any"]
    static let hours = 0...6

    static func time(hour: Int) -> Int64 {
        instant("2027-01-01T00:00:00Z") + Int64(hour) * 3_600_000
    }

    // MARK: Generating

    static func randomCase(_ word: String, _ random: inout SplitMix64) -> String {
        switch Int.random(in: 0..<4, using: &random) {
        case 0: word.uppercased()
        case 1: word.prefix(1).uppercased() + word.dropFirst()
        default: word
        }
    }

    static func randomPrefix(_ random: inout SplitMix64) -> IPPrefix {
        if Int.random(in: 0..<6, using: &random) == 0 {
            let base = UInt128(0x2001_0db8) << 96
            return IPPrefix(family: .v6, address: base | UInt128(UInt8.random(in: 0...15, using: &random)), length: Int.random(in: 124...128, using: &random))
        }
        // Mostly inside 10.0.0.0/26; packets also go to the rest of 10.0.0.0/25.
        let length = Int.random(in: 0..<8, using: &random) == 0 ? 25 : Int.random(in: 26...32, using: &random)
        return IPPrefix(family: .v4, address: 0x0A00_0000 | UInt128(UInt8.random(in: 0...63, using: &random)), length: length)
    }

    static func randomPorts(_ random: inout SplitMix64, count: ClosedRange<Int>) -> [String] {
        (0..<Int.random(in: count, using: &random)).map { _ in portSpecs.randomElement(using: &random) ?? "any" }
    }

    static func randomDestination(_ resources: [Resource], _ random: inout SplitMix64) -> Destination {
        let ports: [String]? = Bool.random(using: &random) ? nil : randomPorts(&random, count: 1...2)
        if Int.random(in: 0..<3, using: &random) == 0 || resources.isEmpty {
            let prefix = randomPrefix(&random)
            return Destination(target: prefix.description, prefix: prefix, ports: ports)
        }
        return Destination(target: resources.randomElement(using: &random)?.name ?? "r0", prefix: nil, ports: ports)
    }

    static func randomRule(name: String, resources: [Resource], allows: Bool, denies: Bool, _ random: inout SplitMix64) -> Rule {
        var rule = Rule(name: name)
        repeat {
            if Bool.random(using: &random) {
                rule.groups = (0..<Int.random(in: 1...2, using: &random)).map { _ in randomCase(groupNames.randomElement(using: &random) ?? "eng", &random) }
            }
            if Int.random(in: 0..<3, using: &random) == 0 {
                rule.users = [randomCase(userNames.randomElement(using: &random) ?? "ada", &random)]
            }
            if Int.random(in: 0..<3, using: &random) == 0 {
                for name in attributeValues.keys.sorted() where Bool.random(using: &random) {
                    let values = (0..<Int.random(in: 1...2, using: &random)).map { _ in
                        randomCase(attributeValues[name]?.randomElement(using: &random) ?? "x", &random)
                    }
                    rule.conditions.append((randomCase(name, &random), values))
                }
            }
        } while rule.groups.isEmpty && rule.users.isEmpty && rule.conditions.isEmpty
        if allows { rule.allow = (0..<Int.random(in: 1...3, using: &random)).map { _ in randomDestination(resources, &random) } }
        if denies { rule.deny = (0..<Int.random(in: 1...2, using: &random)).map { _ in randomDestination(resources, &random) } }
        if Int.random(in: 0..<4, using: &random) == 0 {
            let hour = Int.random(in: 1...5, using: &random)
            rule.until = time(hour: hour)
            rule.untilText = "2027-01-01T0\(hour):00:00Z"
        }
        return rule
    }

    init(seed: UInt64) {
        var random = SplitMix64(seed: seed)
        resources = (0..<Int.random(in: 1...3, using: &random)).map { index in
            Resource(
                name: "r\(index)", hosts: (0..<Int.random(in: 1...2, using: &random)).map { _ in Self.randomPrefix(&random) },
                ports: Self.randomPorts(&random, count: 0...2))
        }
        let fileCount = Int.random(in: 1...3, using: &random)
        var files = Array(repeating: [Rule](), count: fileCount)
        for index in 0..<Int.random(in: 1...7, using: &random) {
            let kind = Int.random(in: 0..<4, using: &random)  // mostly allows, some denies, some both
            let rule = Self.randomRule(name: "rule-\(index)", resources: resources, allows: kind != 3, denies: kind >= 2, &random)
            files[Int.random(in: 0..<fileCount, using: &random)].append(rule)
        }
        self.files = files
    }

    static func randomSubjects(_ random: inout SplitMix64, count: Int) -> [PolicySubject] {
        (0..<count).map { _ in
            var attributes: [String: [String]] = [:]
            for (name, values) in attributeValues where Bool.random(using: &random) {
                attributes[name] = (0..<Int.random(in: 1...2, using: &random)).map { _ in randomCase(values.randomElement(using: &random) ?? "x", &random) }
            }
            return PolicySubject(
                userName: randomCase(userNames.randomElement(using: &random) ?? "ada", &random) + (Bool.random(using: &random) ? "" : "-other"),
                active: Int.random(in: 0..<8, using: &random) != 0,
                groups: groupNames.filter { _ in Int.random(in: 0..<3, using: &random) == 0 }.map { randomCase($0, &random) },
                attributes: attributes)
        }
    }

    static func randomPackets(_ random: inout SplitMix64, count: Int) -> [Packet] {
        (0..<count).map { _ in
            let address =
                Int.random(in: 0..<6, using: &random) == 0
                ? IPPrefix(family: .v6, address: UInt128(0x2001_0db8) << 96 | UInt128(UInt8.random(in: 0...17, using: &random)), length: 128)
                : IPPrefix(family: .v4, address: 0x0A00_0000 | UInt128(UInt8.random(in: 0...127, using: &random)), length: 32)
            let networkProtocol = NetworkProtocol.allCases.randomElement(using: &random) ?? .tcp
            let port: UInt16? = networkProtocol.hasPorts ? UInt16.random(in: 0...7, using: &random) : nil
            return Packet(address: address, networkProtocol: networkProtocol, port: port)
        }
    }

    // MARK: Writing YAML

    static func yaml(_ destination: Destination) -> String {
        guard let ports = destination.ports else { return "\"\(destination.target)\"" }
        return "{ to: \"\(destination.target)\", ports: [\(ports.joined(separator: ", "))] }"
    }

    static func yaml(_ rule: Rule) -> String {
        var lines = ["  - name: \(rule.name)"]
        if !rule.groups.isEmpty { lines.append("    groups: [\(rule.groups.joined(separator: ", "))]") }
        if !rule.users.isEmpty { lines.append("    users: [\(rule.users.joined(separator: ", "))]") }
        if !rule.conditions.isEmpty {
            let conditions = rule.conditions.map { "\($0.name): [\($0.values.joined(separator: ", "))]" }
            lines.append("    where: { \(conditions.joined(separator: ", ")) }")
        }
        if !rule.allow.isEmpty { lines.append("    allow: [\(rule.allow.map(yaml).joined(separator: ", "))]") }
        if !rule.deny.isEmpty { lines.append("    deny: [\(rule.deny.map(yaml).joined(separator: ", "))]") }
        if let untilText = rule.untilText { lines.append("    until: \(untilText)") }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The resources file, then one file per rule list, in order.
    var yamlFiles: [(String, String)] {
        var resourceLines = ["resources:"]
        for resource in resources {
            resourceLines.append("  \(resource.name):")
            resourceLines.append("    hosts: [\(resource.hosts.map { "\"\($0)\"" }.joined(separator: ", "))]")
            if !resource.ports.isEmpty { resourceLines.append("    ports: [\(resource.ports.joined(separator: ", "))]") }
        }
        var result = [("resources.yaml", resourceLines.joined(separator: "\n") + "\n")]
        for (index, rules) in files.enumerated() {
            result.append(("rules-\(index).yaml", "rules:\n" + (rules.isEmpty ? "  []\n" : rules.map(Self.yaml).joined())))
        }
        return result
    }

    func compile(sourceLocation: Testing.SourceLocation = #_sourceLocation) throws -> CompiledPolicy {
        try compilePolicy(yamlFiles, sourceLocation: sourceLocation)
    }

    // MARK: The reference decision

    func hits(_ destination: Destination, _ packet: Packet) -> Bool {
        let resource = resources.first { $0.name == destination.target }
        let hosts = resource?.hosts ?? destination.prefix.map { [$0] } ?? []
        let ports = destination.ports ?? ((resource?.ports.isEmpty ?? true) ? ["any"] : resource?.ports ?? [])
        guard hosts.contains(where: { $0.family == packet.address.family && $0.contains(address: packet.address.address) }) else { return false }
        return ports.contains { spec in
            switch spec {
            case "any": return true
            case "icmp": return packet.networkProtocol == .icmp
            case "tcp", "udp": return packet.networkProtocol.rawValue == spec
            default:
                let parts = spec.split(separator: "/")
                let bounds = parts[1].split(separator: "-").compactMap { UInt16($0) }
                guard packet.networkProtocol.rawValue == parts[0], let port = packet.port, let lower = bounds.first, let upper = bounds.last else { return false }
                return lower <= port && port <= upper
            }
        }
    }

    static func applies(_ rule: Rule, to subject: PolicySubject) -> Bool {
        if rule.users.contains(where: { $0.lowercased() == subject.userName.lowercased() }) { return true }
        if rule.groups.contains(where: { group in subject.groups.contains { $0.lowercased() == group.lowercased() } }) { return true }
        guard !rule.conditions.isEmpty else { return false }
        return rule.conditions.allSatisfy { condition in
            let values = subject.attributes[condition.name.lowercased()] ?? []
            return values.contains { value in condition.values.contains { $0.lowercased() == value.lowercased() } }
        }
    }

    /// The rules in force at `now` that apply to `subject`.
    func rules(for subject: PolicySubject, at now: Int64) -> [Rule] {
        guard subject.active else { return [] }
        return files.joined().filter { rule in (rule.until.map { now < $0 } ?? true) && Self.applies(rule, to: subject) }
    }

    func decide(_ rules: [Rule], _ packet: Packet) -> Bool {
        var allowed = false
        for rule in rules {
            if rule.deny.contains(where: { hits($0, packet) }) { return false }
            if rule.allow.contains(where: { hits($0, packet) }) { allowed = true }
        }
        return allowed
    }

    func decide(_ subject: PolicySubject, _ packet: Packet, at now: Int64) -> Bool {
        decide(rules(for: subject, at: now), packet)
    }
}

struct PolicyPropertyTests {
    static let seeds = 0..<250

    /// Every decision of `policy` for the subjects, packets and hours, row by row. A subject's access
    /// is by definition that of the rules it matches, so it is computed once per set of rules.
    static func decisions(_ policy: CompiledPolicy, _ subjects: [PolicySubject], _ packets: [Packet]) -> [[Bool]] {
        var rows: [[Bool]] = []
        for hour in RandomPolicy.hours {
            let now = RandomPolicy.time(hour: hour)
            var byRules: [[Int]: [Bool]] = [:]
            for subject in subjects {
                let rules = policy.matchingRules(for: subject, at: now)
                if let row = byRules[rules] {
                    rows.append(row)
                    continue
                }
                let access = policy.access(for: subject, at: now)
                let row = packets.map { access.permits($0) }
                byRules[rules] = row
                rows.append(row)
            }
        }
        return rows
    }

    @Test func permitsAgreesWithRuleByRuleEvaluation() throws {
        var allowedCount = 0
        var total = 0
        for seed in Self.seeds {
            let model = RandomPolicy(seed: UInt64(seed))
            let policy = try model.compile()
            var random = SplitMix64(seed: UInt64(seed) &* 31 &+ 7)
            let subjects = RandomPolicy.randomSubjects(&random, count: 16)
            let packets = RandomPolicy.randomPackets(&random, count: 60)
            var mismatches: [String] = []
            for hour in RandomPolicy.hours {
                let now = RandomPolicy.time(hour: hour)
                for subject in subjects {
                    let access = policy.access(for: subject, at: now)
                    let rules = model.rules(for: subject, at: now)
                    for packet in packets {
                        let expected = model.decide(rules, packet)
                        total += 1
                        if expected { allowedCount += 1 }
                        if access.permits(packet) != expected {
                            mismatches.append("\(subject.userName) \(subject.groups) \(subject.attributes) → \(packet) at +\(hour)h: expected \(expected)")
                        }
                    }
                }
                // The explainer decides the same, for a sample.
                for (subject, packet) in zip(subjects, packets) {
                    let decision = PolicyExplainer.explain(
                        policy, subject: subject, address: packet.address, networkProtocol: packet.networkProtocol, port: packet.port, at: now)
                    if decision.allowed != model.decide(subject, packet, at: now) { mismatches.append("explainer: \(subject.userName) → \(packet)") }
                }
            }
            #expect(mismatches.isEmpty, "seed \(seed): \(mismatches.prefix(5))\n\(model.yamlFiles.map(\.1).joined(separator: "---\n"))")
            if !mismatches.isEmpty { break }
        }
        // The cases are not trivially all-deny (or all-allow).
        #expect(allowedCount > total / 50 && allowedCount < total / 2, "\(allowedCount) of \(total) allowed")
    }

    @Test func addingADenyRuleNeverGrantsAccess() throws {
        var changedSeeds = 0
        for seed in Self.seeds {
            var model = RandomPolicy(seed: UInt64(seed))
            let before = try model.compile()
            var random = SplitMix64(seed: UInt64(seed) &* 131 &+ 3)
            let subjects = RandomPolicy.randomSubjects(&random, count: 20)
            let packets = RandomPolicy.randomPackets(&random, count: 40)
            let deny = RandomPolicy.randomRule(name: "added-deny", resources: model.resources, allows: false, denies: true, &random)
            let file = Int.random(in: 0...model.files.count, using: &random)
            if file == model.files.count { model.files.append([deny]) } else { model.files[file].insert(deny, at: Int.random(in: 0...model.files[file].count, using: &random)) }
            let after = try model.compile()
            let old = Self.decisions(before, subjects, packets)
            let new = Self.decisions(after, subjects, packets)
            var granted = 0
            for (oldRow, newRow) in zip(old, new) {
                for (was, now) in zip(oldRow, newRow) where now && !was { granted += 1 }
            }
            #expect(granted == 0, "seed \(seed): the deny rule granted \(granted) packets")
            if old != new { changedSeeds += 1 }
        }
        #expect(changedSeeds > Self.seeds.count / 10, "the added denies took something away in only \(changedSeeds) cases")
    }

    @Test func addingAnAllowRuleNeverRemovesAccess() throws {
        var changedSeeds = 0
        for seed in Self.seeds {
            var model = RandomPolicy(seed: UInt64(seed))
            let before = try model.compile()
            var random = SplitMix64(seed: UInt64(seed) &* 977 &+ 5)
            let subjects = RandomPolicy.randomSubjects(&random, count: 20)
            let packets = RandomPolicy.randomPackets(&random, count: 40)
            let allow = RandomPolicy.randomRule(name: "added-allow", resources: model.resources, allows: true, denies: false, &random)
            let file = Int.random(in: 0...model.files.count, using: &random)
            if file == model.files.count { model.files.insert([allow], at: 0) } else { model.files[file].insert(allow, at: Int.random(in: 0...model.files[file].count, using: &random)) }
            let after = try model.compile()
            let old = Self.decisions(before, subjects, packets)
            let new = Self.decisions(after, subjects, packets)
            var removed = 0
            for (oldRow, newRow) in zip(old, new) {
                for (was, now) in zip(oldRow, newRow) where was && !now { removed += 1 }
            }
            #expect(removed == 0, "seed \(seed): the allow rule removed \(removed) packets")
            if old != new { changedSeeds += 1 }
        }
        #expect(changedSeeds > Self.seeds.count / 10, "the added allows granted something in only \(changedSeeds) cases")
    }

    @Test func fileAndRuleOrderNeverChangeADecision() throws {
        for seed in Self.seeds {
            let model = RandomPolicy(seed: UInt64(seed))
            let original = try model.compile()
            var random = SplitMix64(seed: UInt64(seed) &* 7 &+ 11)
            let subjects = RandomPolicy.randomSubjects(&random, count: 20)
            let packets = RandomPolicy.randomPackets(&random, count: 40)
            // Shuffle the rules within each file and the files themselves (the resources file too).
            var shuffled = model
            shuffled.files = model.files.map { $0.shuffled(using: &random) }
            let permuted = try compilePolicy(shuffled.yamlFiles.shuffled(using: &random))
            #expect(Self.decisions(original, subjects, packets) == Self.decisions(permuted, subjects, packets), "seed \(seed)")
            for hour in [0, 3, 6] {
                for subject in subjects.prefix(5) {
                    let now = RandomPolicy.time(hour: hour)
                    #expect(original.access(for: subject, at: now).isEquivalent(to: permuted.access(for: subject, at: now)), "seed \(seed)")
                }
            }
        }
    }
}
