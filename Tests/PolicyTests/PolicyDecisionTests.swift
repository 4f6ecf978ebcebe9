import Foundation
import Testing
@testable import Policy

/// A shared policy in three files, covering resources, groups, users, `where`, IPv6 and a deny in
/// another file than the allows.
enum DecisionFixture {
    static let network = """
        resources:
          web:
            hosts: [10.1.0.0/24, "2001:db8:1::/64"]
            ports: [tcp/80, tcp/443]
          db:
            hosts: [10.2.0.10]
            ports: [tcp/5432]
          lab:
            hosts: [10.3.0.0/16]
          secret:
            hosts: [10.1.0.128/25]
        """

    static let engineering = """
        rules:
          - name: engineers-web
            groups: [Engineering]
            allow: [web]
          - name: engineers-db-admin
            groups: [engineering]
            allow:
              - { to: db, ports: [tcp/8000-8100] }
          - name: ada-lab
            users: [Ada@Example.com]
            allow: [{ to: lab }]
          - name: sales-crm
            where: { department: [Sales, Sales Operations] }
            allow: [{ to: 10.50.0.0/24, ports: [tcp/443] }]
          - name: emea-finance
            where: { department: Finance, organization: EMEA }
            allow: [{ to: 10.60.0.1, ports: [tcp/443] }]
          - name: ops-dns-v6
            groups: [Ops]
            allow: [{ to: "2001:db8:ff::/48", ports: [udp/53, icmp] }]
          - name: auditors
            groups: [Auditors]
            users: [eve@example.com]
            where: { title: Auditor }
            allow: [{ to: 10.70.0.0/24, ports: [tcp/22] }]
        """

    static let security = """
        rules:
          - name: contractors-not-secret
            groups: [Contractors]
            deny: [secret]
          - name: no-telnet-anywhere
            groups: [Engineering, Ops, Contractors]
            deny: [{ to: 0.0.0.0/0, ports: [tcp/23] }]
        """

    static let files = [("network.yaml", network), ("engineering.yaml", engineering), ("security.yaml", security)]

    static func policy() throws -> CompiledPolicy {
        try compilePolicy(files)
    }
}

/// One decision: who, to where, and whether it is allowed.
struct DecisionCase: Sendable, CustomTestStringConvertible {
    let name: String
    let subject: PolicySubject
    let packet: String
    let allowed: Bool

    var testDescription: String { "\(name): \(packet) \(allowed ? "allowed" : "denied")" }

    static func groups(_ name: String, _ groups: [String], _ packet: String, _ allowed: Bool, active: Bool = true) -> DecisionCase {
        DecisionCase(name: name, subject: PolicySubject(userName: "someone@example.com", active: active, groups: groups), packet: packet, allowed: allowed)
    }

    static func user(_ name: String, _ userName: String, _ packet: String, _ allowed: Bool, groups: [String] = [], active: Bool = true) -> DecisionCase {
        DecisionCase(name: name, subject: PolicySubject(userName: userName, active: active, groups: groups), packet: packet, allowed: allowed)
    }

    static func attributes(_ name: String, _ attributes: [String: [String]], _ packet: String, _ allowed: Bool, active: Bool = true) -> DecisionCase {
        DecisionCase(
            name: name, subject: PolicySubject(userName: "someone@example.com", active: active, attributes: attributes), packet: packet,
            allowed: allowed)
    }
}

struct PolicyDecisionTests {
    static let cases: [DecisionCase] = [
        // Groups and resource default ports
        .groups("engineer on a default port", ["Engineering"], "10.1.0.5:tcp/443", true),
        .groups("engineer on the other default port", ["Engineering"], "10.1.0.5:tcp/80", true),
        .groups("engineer on a port the resource does not list", ["Engineering"], "10.1.0.5:tcp/22", false),
        .groups("default ports are TCP only", ["Engineering"], "10.1.0.5:udp/443", false),
        .groups("no ICMP unless listed", ["Engineering"], "10.1.0.5:icmp", false),
        .groups("just outside the resource's hosts", ["Engineering"], "10.1.1.0:tcp/443", false),
        .groups("last host of the resource", ["Engineering"], "10.1.0.127:tcp/443", true),
        .groups("web over IPv6", ["Engineering"], "[2001:db8:1::5]:tcp/443", true),
        .groups("outside the IPv6 hosts", ["Engineering"], "[2001:db8:2::5]:tcp/443", false),
        .groups("an IPv4-mapped IPv6 address is not the IPv4 host", ["Engineering"], "[::ffff:10.1.0.5]:tcp/443", false),
        .groups("group names ignore case", ["ENGINEERING"], "10.1.0.5:tcp/443", true),
        .groups("a group the policy does not name", ["Marketing"], "10.1.0.5:tcp/443", false),
        .groups("no groups, no access", [], "10.1.0.5:tcp/443", false),
        .groups("any one of the user's groups counts", ["Marketing", "Engineering"], "10.1.0.5:tcp/443", true),
        // Explicit ports replace the resource's
        .groups("explicit port range, inside", ["Engineering"], "10.2.0.10:tcp/8050", true),
        .groups("explicit port range, first port", ["Engineering"], "10.2.0.10:tcp/8000", true),
        .groups("explicit port range, last port", ["Engineering"], "10.2.0.10:tcp/8100", true),
        .groups("explicit port range, one past the end", ["Engineering"], "10.2.0.10:tcp/8101", false),
        .groups("explicit port range, one before the start", ["Engineering"], "10.2.0.10:tcp/7999", false),
        .groups("explicit ports replace the resource's default port", ["Engineering"], "10.2.0.10:tcp/5432", false),
        .groups("explicit ports on a neighbouring host", ["Engineering"], "10.2.0.11:tcp/8050", false),
        // Users
        .user("a named user, ignoring case", "ada@example.com", "10.3.1.1:udp/9999", true),
        .user("a resource without ports allows ICMP", "ada@example.com", "10.3.1.1:icmp", true),
        .user("a resource without ports allows other protocols", "ada@example.com", "10.3.1.1:other", true),
        .user("a resource without ports allows every TCP port", "ADA@example.com", "10.3.255.255:tcp/0", true),
        .user("outside the lab", "ada@example.com", "10.4.0.1:tcp/1", false),
        .user("another user", "bob@example.com", "10.3.1.1:tcp/22", false),
        .groups("a userName is not a group name", ["Ada@Example.com"], "10.3.1.1:tcp/22", false),
        // where
        .attributes("where with one of a list of values", ["department": ["Sales"]], "10.50.0.9:tcp/443", true),
        .attributes("where values ignore case", ["department": ["sales operations"]], "10.50.0.9:tcp/443", true),
        .attributes("where values compare whole", ["department": ["Sales Ops"]], "10.50.0.9:tcp/443", false),
        .attributes("a multi-valued attribute matches with any value", ["department": ["Engineering", "Sales"]], "10.50.0.9:tcp/443", true),
        .attributes("no such attribute", ["title": ["Sales"]], "10.50.0.9:tcp/443", false),
        .attributes("where with explicit ports", ["department": ["Sales"]], "10.50.0.9:tcp/80", false),
        .attributes("all conditions hold", ["department": ["Finance"], "organization": ["EMEA"]], "10.60.0.1:tcp/443", true),
        .attributes("only the first condition holds", ["department": ["Finance"]], "10.60.0.1:tcp/443", false),
        .attributes("only the second condition holds", ["organization": ["EMEA"]], "10.60.0.1:tcp/443", false),
        .attributes("all conditions hold, ignoring case", ["department": ["FINANCE"], "organization": ["emea"]], "10.60.0.1:tcp/443", true),
        .attributes("one of several values holds", ["department": ["Finance"], "organization": ["APAC", "EMEA"]], "10.60.0.1:tcp/443", true),
        .attributes("the value under another attribute", ["division": ["Finance"], "organization": ["EMEA"]], "10.60.0.1:tcp/443", false),
        .attributes("a literal host prefix is just that host", ["department": ["Finance"], "organization": ["EMEA"]], "10.60.0.2:tcp/443", false),
        // Several selectors: any one
        .groups("selected by group", ["Auditors"], "10.70.0.1:tcp/22", true),
        .user("selected by userName", "Eve@example.com", "10.70.0.1:tcp/22", true),
        .attributes("selected by where", ["title": ["auditor"]], "10.70.0.1:tcp/22", true),
        .attributes("selected by none of them", ["title": ["Accountant"]], "10.70.0.1:tcp/22", false),
        // IPv6 literal prefixes
        .groups("IPv6 prefix, UDP port", ["Ops"], "[2001:db8:ff:1::1]:udp/53", true),
        .groups("IPv6 prefix, ICMP", ["Ops"], "[2001:db8:ff:ffff:ffff:ffff:ffff:ffff]:icmp", true),
        .groups("IPv6 prefix, TCP not listed", ["Ops"], "[2001:db8:ff:1::1]:tcp/53", false),
        .groups("outside the IPv6 prefix", ["Ops"], "[2001:db8:fe::1]:udp/53", false),
        // Inactive users
        .groups("an inactive member of a group", ["Engineering"], "10.1.0.5:tcp/443", false, active: false),
        .user("an inactive named user", "ada@example.com", "10.3.1.1:tcp/22", false, active: false),
        .attributes("an inactive user with matching attributes", ["department": ["Sales"]], "10.50.0.9:tcp/443", false, active: false),
        // Deny beats allow, from another file
        .groups("a deny in another file removes part of an allow", ["Engineering", "Contractors"], "10.1.0.200:tcp/443", false),
        .groups("the rest of the allow stays", ["Engineering", "Contractors"], "10.1.0.5:tcp/443", true),
        .groups("a deny alone grants nothing", ["Contractors"], "10.1.0.5:tcp/443", false),
        .user("a deny through a group covers what a user rule allows", "ada@example.com", "10.3.0.1:tcp/23", false, groups: ["Engineering"]),
        .user("without the group the user rule allows it", "ada@example.com", "10.3.0.1:tcp/23", true),
        .user("a deny of one port leaves the others", "ada@example.com", "10.3.0.1:tcp/24", true, groups: ["Engineering"]),
    ]

    @Test(arguments: cases)
    func decides(_ decision: DecisionCase) throws {
        let policy = try DecisionFixture.policy()
        let now = instant("2027-01-01T00:00:00Z")
        let packet = Packet(decision.packet)
        #expect(policy.access(for: decision.subject, at: now).permits(packet) == decision.allowed)
        // The explainer reaches the same decision by another path.
        let explained = PolicyExplainer.explain(
            policy, subject: decision.subject, address: packet.address, networkProtocol: packet.networkProtocol, port: packet.port, at: now)
        #expect(explained.allowed == decision.allowed, "\(explained)")
    }

    static let fileOrders: [[Int]] = [[0, 1, 2], [2, 1, 0], [1, 2, 0], [0, 2, 1]]

    @Test(arguments: fileOrders)
    func denyBeatsAllowWhateverTheFileOrder(order: [Int]) throws {
        let files = order.map { DecisionFixture.files[$0] }
        let policy = try compilePolicy(files)
        let subject = PolicySubject(userName: "x", groups: ["Engineering", "Contractors"])
        let access = policy.access(for: subject, at: 0)
        #expect(!access.permits("10.1.0.200:tcp/443"))
        #expect(!access.permits("10.1.0.128:tcp/80"))
        #expect(access.permits("10.1.0.127:tcp/80"))
        #expect(access.permits("10.2.0.10:tcp/8000"))
    }

    @Test(arguments: [true, false])
    func denyBeatsAllowWhateverTheRuleOrder(denyFirst: Bool) throws {
        let allow = "  - name: allow-all\n    groups: [G]\n    allow: [10.0.0.0/8]\n"
        let deny = "  - name: deny-one\n    groups: [G]\n    deny: [{ to: 10.0.0.1, ports: [tcp/22] }]\n"
        let policy = try compilePolicy([("a.yaml", "rules:\n" + (denyFirst ? deny + allow : allow + deny))])
        let access = policy.access(for: PolicySubject(userName: "x", groups: ["g"]), at: 0)
        #expect(!access.permits("10.0.0.1:tcp/22"))
        #expect(access.permits("10.0.0.1:tcp/21"))
        #expect(access.permits("10.0.0.2:tcp/22"))
    }

    // MARK: Expiry

    static let expiring = """
        rules:
          - name: oncall-db
            groups: [Oncall]
            allow: [{ to: 10.30.0.0/24, ports: [tcp/5432] }]
            until: 2027-06-30T00:00:00Z
          - name: freeze
            groups: [Oncall]
            deny: [{ to: 10.30.0.5, ports: [tcp/5432] }]
            until: 2027-03-01T00:00:00Z
          - name: later
            groups: [Other]
            allow: [10.99.0.0/16]
            until: 2028-01-01T00:00:00Z
          - name: forever
            groups: [Other]
            allow: [10.98.0.0/16]
        """

    @Test(arguments: [
        ("2027-02-28T23:59:59.999Z", "10.30.0.5:tcp/5432", false),  // the deny is in force until its until
        ("2027-02-28T23:59:59.999Z", "10.30.0.6:tcp/5432", true),
        ("2027-03-01T00:00:00Z", "10.30.0.5:tcp/5432", true),  // at its until the deny no longer denies
        ("2027-06-29T23:59:59.999Z", "10.30.0.5:tcp/5432", true),  // one millisecond before the allow expires
        ("2027-06-30T00:00:00Z", "10.30.0.5:tcp/5432", false),  // at its until
        ("2027-06-30T00:00:00.001Z", "10.30.0.5:tcp/5432", false),
        ("2027-07-01T00:00:00Z", "10.30.0.6:tcp/5432", false),
    ])
    func rulesGrantAndDenyNothingFromTheirUntil(at: String, packet: String, allowed: Bool) throws {
        let policy = try compilePolicy([("expiring.yaml", Self.expiring)])
        let access = policy.access(for: PolicySubject(userName: "x", groups: ["Oncall"]), at: Self.milliseconds(at))
        #expect(access.permits(packet) == allowed)
    }

    /// Milliseconds of an ISO 8601 instant that may carry fractional seconds.
    static func milliseconds(_ text: String) -> Int64 {
        guard let dot = text.firstIndex(of: ".") else { return instant(text) }
        let fraction = Int64(text[text.index(after: dot)...].dropLast()) ?? 0
        return instant(String(text[..<dot]) + "Z") + fraction
    }

    @Test(arguments: [
        ("2020-01-01T00:00:00Z", "2027-03-01T00:00:00Z"),
        ("2027-02-28T23:59:59Z", "2027-03-01T00:00:00Z"),
        ("2027-03-01T00:00:00Z", "2027-06-30T00:00:00Z"),  // an until equal to now is past, not next
        ("2027-06-29T00:00:00Z", "2027-06-30T00:00:00Z"),
        ("2027-06-30T00:00:00Z", "2028-01-01T00:00:00Z"),
    ])
    func nextExpiryIsTheFirstUntilAfterNow(now: String, expected: String) throws {
        let policy = try compilePolicy([("expiring.yaml", Self.expiring)])
        #expect(policy.nextExpiry(after: instant(now)) == instant(expected))
    }

    @Test func nothingExpiresAfterTheLastUntil() throws {
        let policy = try compilePolicy([("expiring.yaml", Self.expiring)])
        #expect(policy.nextExpiry(after: instant("2028-01-01T00:00:00Z")) == nil)
        #expect(try DecisionFixture.policy().nextExpiry(after: 0) == nil, "no rule has an until")
    }

    // MARK: Access table

    @Test func usersWithTheSameRulesShareAClass() throws {
        let policy = try DecisionFixture.policy()
        let subjects = [
            PolicySubject(userName: "a", groups: ["Engineering"]),
            PolicySubject(userName: "b", groups: ["ENGINEERING"]),
            PolicySubject(userName: "c", groups: ["Engineering", "Marketing"]),
            PolicySubject(userName: "ada@example.com"),
            PolicySubject(userName: "contractor", groups: ["Contractors"]),  // only denies: nothing
            PolicySubject(userName: "nobody"),
            PolicySubject(userName: "gone", active: false, groups: ["Engineering"]),
            PolicySubject(userName: "d", groups: ["Engineering", "Contractors"]),
        ]
        let table = AccessTable(policy: policy, subjects: subjects, at: 0)
        #expect(table.classes.count == 3)
        let engineers = try #require(table.classOfUser["a"])
        #expect(table.classOfUser["b"] == engineers)
        #expect(table.classOfUser["c"] == engineers)
        #expect(table.classes[engineers].users == ["a", "b", "c"])
        #expect(table.classes[engineers].ruleNames == ["engineers-web", "engineers-db-admin", "no-telnet-anywhere"])
        #expect(table.classes[engineers].rules == table.classes[engineers].rules.sorted())
        #expect(table.classOfUser["ada@example.com"] != engineers)
        #expect(table.classOfUser["d"] != engineers, "a different set of rules is a different class")
        for absent in ["contractor", "nobody", "gone", "stranger"] {
            #expect(table.classOfUser[absent] == nil)
            #expect(table.access(of: absent).isEmpty)
        }
        for subject in subjects {
            #expect(table.access(of: subject.userName).isEquivalent(to: policy.access(for: subject, at: 0)), "\(subject.userName)")
        }
    }

    // MARK: Explainer

    static func explain(_ policy: CompiledPolicy, _ subject: PolicySubject, _ packet: String, at now: Int64 = 0) -> PolicyExplainer.Decision {
        let packet = Packet(packet)
        return PolicyExplainer.explain(
            policy, subject: subject, address: packet.address, networkProtocol: packet.networkProtocol, port: packet.port, at: now)
    }

    @Test func explainerNamesTheDenyThatDecidedWithItsLocation() throws {
        let decision = Self.explain(try DecisionFixture.policy(), PolicySubject(userName: "x", groups: ["Engineering", "Contractors"]), "10.1.0.200:tcp/443")
        #expect(!decision.allowed)
        #expect(decision.decidingRules.map(\.name) == ["contractors-not-secret"])
        #expect(decision.decidingRules.map(\.location.description) == ["security.yaml:2:5"])
        #expect(decision.decidingRules.map(\.effect) == ["denied"])
        #expect(decision.reason.contains("deny"))
        #expect(decision.description.contains("denied by rule 'contractors-not-secret' at security.yaml:2:5"))
        #expect(decision.description.hasPrefix("denied: "))
    }

    @Test func explainerNamesEveryAllowThatMatched() throws {
        let policy = try compilePolicy([
            ("a.yaml", "rules:\n  - name: by-group\n    groups: [G]\n    allow: [10.0.0.0/8]\n"),
            ("b.yaml", "rules:\n  - name: by-user\n    users: [u]\n    allow: [{ to: 10.0.0.1, ports: [tcp/22] }]\n  - name: unrelated\n    users: [u]\n    allow: [10.9.9.9]\n"),
        ])
        let decision = Self.explain(policy, PolicySubject(userName: "u", groups: ["G"]), "10.0.0.1:tcp/22")
        #expect(decision.allowed)
        #expect(decision.decidingRules.map(\.name) == ["by-group", "by-user"])
        #expect(decision.decidingRules.map(\.location.description) == ["a.yaml:2:5", "b.yaml:2:5"])
        #expect(decision.description.hasPrefix("allowed: "))
        #expect(decision.description.contains("allowed by rule 'by-user' at b.yaml:2:5"))
    }

    @Test func explainerSaysDefaultDeny() throws {
        let decision = Self.explain(try DecisionFixture.policy(), PolicySubject(userName: "x", groups: ["Engineering"]), "10.9.9.9:tcp/443")
        #expect(!decision.allowed)
        #expect(decision.decidingRules.isEmpty)
        #expect(decision.reason.contains("default deny"))
    }

    @Test func explainerMentionsExpiredRules() throws {
        let policy = try compilePolicy([("expiring.yaml", Self.expiring)])
        let decision = Self.explain(policy, PolicySubject(userName: "x", groups: ["Oncall"]), "10.30.0.9:tcp/5432", at: instant("2027-07-01T00:00:00Z"))
        #expect(!decision.allowed)
        #expect(decision.decidingRules.map(\.name) == ["oncall-db"])
        #expect(decision.decidingRules.map(\.location.description) == ["expiring.yaml:2:5"])
        #expect(decision.reason.contains("expired"))
        #expect(decision.description.contains("expired"))
        // Before the until, the same rule allows it.
        let before = Self.explain(policy, PolicySubject(userName: "x", groups: ["Oncall"]), "10.30.0.9:tcp/5432", at: instant("2027-06-01T00:00:00Z"))
        #expect(before.allowed)
        #expect(before.decidingRules.map(\.name) == ["oncall-db"])
    }

    @Test func explainerSaysInactiveUsersReachNothing() throws {
        let decision = Self.explain(try DecisionFixture.policy(), PolicySubject(userName: "gone", active: false, groups: ["Engineering"]), "10.1.0.5:tcp/443")
        #expect(!decision.allowed)
        #expect(decision.reason.contains("not active"))
    }

    // MARK: Policy tests

    static let tests = """
        tests:
          - name: engineers reach web
            user: { groups: [Engineering] }
            allow: [web:tcp/443, "[2001:db8:1::1]:tcp/80"]
            deny: [web:tcp/22, db:tcp/5432, web:udp/443]
          - name: wrong about the database
            user: { groups: [Engineering] }
            allow: [db:tcp/5432]
          - name: wrong about the secret hosts
            user: { groups: [Engineering] }
            deny: [secret:tcp/443]
          - name: contractors kept out of the secret hosts
            user: { groups: [Engineering, Contractors] }
            allow: [10.1.0.1:tcp/443]
            deny: [secret:any]
          - name: wrong about a deny of any
            user: { groups: [Engineering] }
            deny: [web:any]
          - name: an inactive engineer
            user: { groups: [Engineering], active: false }
            deny: [web:tcp/443]
        """

    @Test func testRunnerPassesAndFailsTheRightTests() throws {
        let policy = try compilePolicy(DecisionFixture.files + [("tests.yaml", Self.tests)])
        let outcomes = PolicyTestRunner.run(policy, at: 0)
        try #require(outcomes.count == 6)
        #expect(outcomes.map(\.test.name) == [
            "engineers reach web", "wrong about the database", "wrong about the secret hosts",
            "contractors kept out of the secret hosts", "wrong about a deny of any", "an inactive engineer",
        ])
        #expect(outcomes.map(\.passed) == [true, false, false, true, false, true])
        #expect(outcomes[1].failures == ["expected allow db:tcp/5432 (tests.yaml:8:13), but 10.2.0.10/32 tcp/5432 is denied"])
        #expect(outcomes[2].failures == ["expected deny secret:tcp/443 (tests.yaml:11:12), but 10.1.0.128/25 tcp/443 is allowed"])
        // Only what is actually allowed is named: web on its two default ports.
        let anyFailure = try #require(outcomes[4].failures.first)
        #expect(outcomes[4].failures.count == 1)
        #expect(anyFailure.hasPrefix("expected deny web:any (tests.yaml:18:12), but "))
        for grant in ["10.1.0.0/24 tcp/80", "10.1.0.0/24 tcp/443", "2001:db8:1::/64 tcp/80"] {
            #expect(anyFailure.contains(grant), "\(anyFailure)")
        }
        #expect(!anyFailure.contains("udp"))
    }

    @Test func testRunnerUsesTheTestsInstantOrNow() throws {
        let tests = """
            tests:
              - name: on call before the until
                user: { groups: [Oncall] }
                at: 2027-06-29T23:59:59Z
                allow: [10.30.0.9:tcp/5432]
              - name: on call at the until
                user: { groups: [Oncall] }
                at: 2027-06-30T00:00:00Z
                deny: [10.30.0.9:tcp/5432]
              - name: on call now
                user: { groups: [Oncall] }
                allow: [10.30.0.9:tcp/5432]
            """
        let policy = try compilePolicy([("expiring.yaml", Self.expiring), ("tests.yaml", tests)])
        #expect(PolicyTestRunner.run(policy, at: instant("2027-05-01T00:00:00Z")).map(\.passed) == [true, true, true])
        #expect(PolicyTestRunner.run(policy, at: instant("2027-08-01T00:00:00Z")).map(\.passed) == [true, true, false])
    }

    // MARK: Diff

    @Test func diffReportsGainedAndLostPerUser() throws {
        let old = try DecisionFixture.policy()
        let changedEngineering = DecisionFixture.engineering
            .replacingOccurrences(of: "allow: [web]", with: "allow: [{ to: web, ports: [tcp/443] }, { to: db, ports: [tcp/22] }]")
            .replacingOccurrences(of: "users: [Ada@Example.com]", with: "users: [someone-else@example.com]")
        #expect(changedEngineering != DecisionFixture.engineering)
        let new = try compilePolicy([("network.yaml", DecisionFixture.network), ("engineering.yaml", changedEngineering), ("security.yaml", DecisionFixture.security)])
        let subjects = [
            PolicySubject(userName: "sam", attributes: ["department": ["Sales"]]),
            PolicySubject(userName: "eng", groups: ["Engineering"]),
            PolicySubject(userName: "ada@example.com"),
            PolicySubject(userName: "eng2", groups: ["Engineering"]),
        ]
        let changes = PolicyDiff.compare(from: old, to: new, subjects: subjects, at: 0)
        try #require(changes.map(\.userName) == ["eng", "ada@example.com", "eng2"], "unchanged users are left out; order follows the subjects")
        let eng = changes[0]
        #expect(eng.gained.grants.map(\.description) == ["10.2.0.10/32 tcp/22"])
        #expect(eng.lost.grants.map(\.description) == ["10.1.0.0/24 tcp/80", "2001:db8:1::/64 tcp/80"])
        #expect(changes[2].gained == eng.gained && changes[2].lost == eng.lost)
        let ada = changes[1]
        #expect(ada.gained.isEmpty)
        #expect(ada.lost.isEquivalent(to: try accessSet(["10.3.0.0/16 tcp", "10.3.0.0/16 udp", "10.3.0.0/16 icmp", "10.3.0.0/16 other"])))
    }

    @Test func diffOfAPolicyWithItselfIsEmpty() throws {
        let policy = try DecisionFixture.policy()
        let reordered = try compilePolicy(DecisionFixture.files.reversed())
        let subjects = [PolicySubject(userName: "a", groups: ["Engineering", "Contractors"]), PolicySubject(userName: "ada@example.com")]
        #expect(PolicyDiff.compare(from: policy, to: policy, subjects: subjects, at: 0).isEmpty)
        #expect(PolicyDiff.compare(from: policy, to: reordered, subjects: subjects, at: 0).isEmpty)
    }
}
