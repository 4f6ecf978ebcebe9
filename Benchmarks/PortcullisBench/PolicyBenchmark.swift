import Foundation
import Policy

/// `make bench-policy`: compiling a large policy for a large directory, and recomputing one user after
/// a membership change, side by side with a naive evaluator (every rule checked for every user, no
/// index and no sharing of results between users with the same rules).
struct PolicyBenchmark {
    let options: BenchOptions

    func run() async {
        let userCount = options.int("users", 100_000)
        let groupCount = options.int("groups", 1_000)
        let ruleCount = options.int("rules", 500)
        var generator = SeededGenerator(seed: 7)
        let groups = (0..<groupCount).map { "group-\($0)" }
        let departments = ["Engineering", "Sales", "Finance", "Support", "Marketing", "Legal", "Operations", "Research"]
        let yaml = Self.policyYAML(rules: ruleCount, groups: groups, departments: departments, generator: &generator)

        let (loaded, parseTime) = Timing.measure { PolicyLoader.parse(files: [("bench.yaml", yaml)]) }
        guard let policySet = loaded.policy else {
            print("the generated policy does not load: \(loaded.errors.prefix(3))")
            exit(1)
        }
        let (policy, compileTime) = Timing.measure { CompiledPolicy(policySet) }
        let subjects: [PolicySubject] = (0..<userCount).map { index in
            let memberships = (0..<Int.random(in: 1...5, using: &generator)).map { _ in groups.randomElement(using: &generator) ?? "" }
            return PolicySubject(
                userName: "user\(index)@example.com", groups: memberships,
                attributes: ["department": [departments.randomElement(using: &generator) ?? ""]])
        }
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        // What the gateway loads: for every user, the rules (source sets) their addresses go in.
        let (membership, tableTime) = Timing.measure {
            subjects.map { policy.matchingRules(for: $0, at: now) }
        }
        let usersWithAccess = membership.filter { !$0.isEmpty }.count
        let setElements = membership.reduce(0) { $0 + $1.count }
        // Every user's access as one materialized set (explain, diff, configs with AllowedIPs = user).
        let materializedSample = min(userCount, options.int("materialized-users", 10_000))
        let (_, materializedTime) = Timing.measure {
            AccessTable(policy: policy, subjects: Array(subjects.prefix(materializedSample)), at: now)
        }

        // One membership change: that user alone is recomputed.
        var single: [Double] = []
        var singleMaterialized: [Double] = []
        for _ in 0..<2_000 {
            var subject = subjects.randomElement(using: &generator) ?? subjects[0]
            subject.groups.append(groups.randomElement(using: &generator) ?? "")
            let (rules, time) = Timing.measure { policy.matchingRules(for: subject, at: now) }
            single.append(Timing.milliseconds(time))
            let (_, materialized) = Timing.measure { policy.access(ofRules: rules) }
            singleMaterialized.append(Timing.milliseconds(time) + Timing.milliseconds(materialized))
        }

        // The naive evaluator, on the same data.
        let naiveSample = min(userCount, options.int("naive-users", userCount))
        let (naiveNonEmpty, naiveTime) = Timing.measure { Self.naive(policy, subjects: Array(subjects.prefix(naiveSample)), at: now) }
        let naiveFull = Timing.milliseconds(naiveTime) * Double(userCount) / Double(naiveSample)
        var naiveSingle: [Double] = []
        for _ in 0..<200 {
            let subject = subjects.randomElement(using: &generator) ?? subjects[0]
            let (_, time) = Timing.measure { Self.naive(policy, subjects: [subject], at: now) }
            naiveSingle.append(Timing.milliseconds(time))
        }

        let compiled = Timing.milliseconds(parseTime) + Timing.milliseconds(compileTime) + Timing.milliseconds(tableTime)
        let materializedFull = Timing.milliseconds(materializedTime) * Double(userCount) / Double(materializedSample)
        let lines = [
            "### \(userCount.formatted()) users, \(groupCount.formatted()) groups, \(ruleCount) rules",
            "",
            "Measured \(Machine.now) on \(Machine.description), with `make bench-policy` (release build).",
            "Data: \(ruleCount) rules over 200 resources (a tenth with `where: department`, a tenth with denies, a tenth expiring);",
            "every user in 1 to 5 random groups and one of \(departments.count) departments: \(usersWithAccess.formatted()) users get access,",
            "\(setElements.formatted()) rule memberships in all (the source-set elements the gateway loads, per device).",
            "",
            "Portcullis compiles each rule once to its destination sets; a user's compiled access is the rules they match",
            "(the nftables source sets their addresses go in, denies evaluated first). The naive evaluator checks every rule",
            "for every user and computes each user's access set on its own, as a controller without that split would.",
            "",
            "| Step | Portcullis | naive evaluator |",
            "| --- | ---: | ---: |",
            "| parse \(ruleCount) rules from YAML | \(Timing.format(Timing.milliseconds(parseTime))) | (same) |",
            "| compile the rules to destination sets | \(Timing.format(Timing.milliseconds(compileTime))) | (same) |",
            "| compiled access of all \(userCount.formatted()) users | \(Timing.format(Timing.milliseconds(tableTime))) | \(Timing.format(naiveFull))"
                + (naiveSample < userCount ? " (extrapolated from \(naiveSample.formatted()))" : "") + " |",
            "| **total, policy to every user's compiled access** | **\(Timing.format(compiled))** | \(Timing.format(naiveFull + Timing.milliseconds(parseTime) + Timing.milliseconds(compileTime))) |",
            "| one user after a membership change, p50 | \(Timing.format(Timing.percentile(single, 50))) | \(Timing.format(Timing.percentile(naiveSingle, 50))) |",
            "| one user after a membership change, p99 | \(Timing.format(Timing.percentile(single, 99))) | \(Timing.format(Timing.percentile(naiveSingle, 99))) |",
            "| one user's access as one materialized set (explain, diff), p50 / p99 | \(Timing.format(Timing.percentile(singleMaterialized, 50))) / \(Timing.format(Timing.percentile(singleMaterialized, 99))) | |",
            "| every user's access materialized (not needed to enforce) | \(Timing.format(materializedFull))"
                + (materializedSample < userCount ? " (extrapolated from \(materializedSample.formatted()))" : "") + " | |",
            "",
            "Targets (issue #3): all users under 1 s: \(compiled < 1000 ? "met" : "MISSED") (\(Timing.format(compiled)));"
                + " one user under 1 ms: \(Timing.percentile(single, 99) < 1 ? "met" : "MISSED") (p99 \(Timing.format(Timing.percentile(single, 99)))).",
            "The naive evaluator found \(naiveNonEmpty.formatted()) of \(naiveSample.formatted()) users with access; Portcullis's compiled form gives "
                + "\(membership.prefix(naiveSample).enumerated().filter { !$0.element.isEmpty && !policy.access(ofRules: $0.element).isEmpty }.count.formatted()).",
        ]
        let body = lines.joined(separator: "\n")
        print(body)
        if options.flag("docs") {
            do {
                try BenchmarksDocument.write(section: "bench-policy", body: "## Policy compilation (make bench-policy)\n\n" + body)
            } catch {
                print("could not write docs/benchmarks.md: \(error)")
            }
        }
    }

    /// Every rule checked against every user, each user's access computed on its own.
    static func naive(_ policy: CompiledPolicy, subjects: [PolicySubject], at now: Int64) -> Int {
        var withAccess = 0
        for subject in subjects where subject.active {
            var allowed: [AccessGrant] = []
            var denied: [AccessGrant] = []
            for (index, rule) in policy.policy.rules.enumerated() {
                if let until = rule.until, until <= now { continue }
                let selectors = rule.selectors
                let byUser = selectors.users.contains { $0.lowercased() == subject.userName.lowercased() }
                let byGroup = selectors.groups.contains { group in subject.groups.contains { $0.lowercased() == group.lowercased() } }
                let byAttributes =
                    !selectors.attributes.isEmpty
                    && selectors.attributes.allSatisfy { condition in
                        (subject.attributes[condition.name] ?? []).contains { value in condition.values.contains { $0.lowercased() == value.lowercased() } }
                    }
                guard byUser || byGroup || byAttributes else { continue }
                allowed += policy.rules[index].allow.grants
                denied += policy.rules[index].deny.grants
            }
            if !AccessSet(allowed).subtracting(AccessSet(denied)).isEmpty { withAccess += 1 }
        }
        return withAccess
    }

    /// A policy file with `rules` rules over 200 resources.
    static func policyYAML(rules: Int, groups: [String], departments: [String], generator: inout SeededGenerator) -> String {
        var lines = ["resources:"]
        for index in 0..<200 {
            let octet2 = index / 250 + 20
            let octet3 = index % 250
            let ports = ["tcp/22", "tcp/443", "tcp/5432", "udp/53", "tcp/8000-8100", "tcp/80"].shuffled(using: &generator).prefix(2)
            lines.append("  r\(index): { hosts: [10.\(octet2).\(octet3).0/24, \"2001:db8:\(index)::/64\"], ports: [\(ports.joined(separator: ", "))] }")
        }
        lines.append("rules:")
        for index in 0..<rules {
            lines.append("  - name: rule-\(index)")
            if index % 10 == 3 {
                lines.append("    where: { department: [\(departments.randomElement(using: &generator) ?? "")] }")
            } else {
                let named = (0..<Int.random(in: 1...3, using: &generator)).map { _ in groups.randomElement(using: &generator) ?? "" }
                lines.append("    groups: [\(named.joined(separator: ", "))]")
            }
            let targets = (0..<Int.random(in: 1...4, using: &generator)).map { _ in "{ to: r\(Int.random(in: 0..<200, using: &generator)) }" }
            lines.append("    \(index % 10 == 7 ? "deny" : "allow"): [\(targets.joined(separator: ", "))]")
            if index % 10 == 5 { lines.append("    until: 2099-01-01T00:00:00Z") }
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
