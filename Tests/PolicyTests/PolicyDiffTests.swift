import Foundation
import Testing

@testable import Policy

/// `PolicyDiff`: which rules change and how, which users gain and lose what, and what a group that
/// nobody active is in would gain or lose.
struct PolicyDiffTests {
    static let base = """
        resources:
          git: { hosts: [10.20.1.10/32, "2001:db8:20::10/128"], ports: [tcp/22, tcp/443] }
          prod-db: { hosts: [10.30.0.0/24], ports: [tcp/5432] }
        rules:
          - name: engineers-git
            groups: [Engineering]
            allow: [git]
          - name: no-contractors-on-prod
            groups: [Contractors]
            deny: [prod-db]
        """

    /// A change to `base` and the rule changes it must produce.
    struct RuleCase: Sendable, CustomTestStringConvertible {
        let label: String
        let replacing: String
        let with: String
        /// `kind name: detail | detail`, one a changed rule.
        let expected: [String]

        var testDescription: String { label }
        var edited: String { PolicyDiffTests.base.replacingOccurrences(of: replacing, with: with) }
    }

    static let ruleCases: [RuleCase] = [
        RuleCase(
            label: "a group added", replacing: "groups: [Engineering]", with: "groups: [Engineering, Contractors]",
            expected: ["changed engineers-git: groups: + Contractors"]),
        RuleCase(label: "a group's case changed", replacing: "groups: [Engineering]", with: "groups: [engineering]", expected: []),
        RuleCase(
            label: "a user added", replacing: "groups: [Contractors]", with: "groups: [Contractors]\n    users: [eve@example.com]",
            expected: ["changed no-contractors-on-prod: users: + eve@example.com"]),
        RuleCase(
            label: "a where added", replacing: "groups: [Engineering]", with: "groups: [Engineering]\n    where: { department: [Sales, Ops] }",
            expected: ["changed engineers-git: where: + department: [Sales, Ops]"]),
        RuleCase(
            label: "an allow narrowed to some ports", replacing: "allow: [git]", with: "allow: [{ to: git, ports: [tcp/443] }]",
            expected: ["changed engineers-git: allow: - git on tcp/22 (10.20.1.10/32 tcp/22, 2001:db8:20::10/128 tcp/22)"]),
        RuleCase(
            label: "the same access written as prefixes", replacing: "allow: [git]",
            with: #"allow: [{ to: 10.20.1.10, ports: [tcp/22, tcp/443] }, { to: "2001:db8:20::10", ports: [tcp/443, tcp/22] }]"#,
            expected: []),
        RuleCase(
            label: "a deny widened", replacing: "deny: [prod-db]", with: "deny: [prod-db, { to: 10.20.1.10, ports: [tcp/22] }]",
            expected: ["changed no-contractors-on-prod: deny: + 10.20.1.10/32 tcp/22"]),
        RuleCase(
            label: "an until added", replacing: "allow: [git]", with: "allow: [git]\n    until: 2027-06-30T00:00:00Z",
            expected: ["changed engineers-git: until: none → 2027-06-30T00:00:00Z"]),
        RuleCase(
            label: "a resource's hosts changed", replacing: "10.30.0.0/24", with: "10.30.0.0/23",
            expected: [
                "changed no-contractors-on-prod: deny: + 10.30.1.0/24 tcp/5432 | uses resource prod-db, which changed (a.yaml:3:3)"
            ]),
        RuleCase(
            label: "a resource's ports changed", replacing: "ports: [tcp/22, tcp/443]", with: "ports: [tcp/22]",
            expected: [
                "changed engineers-git: allow: - git on tcp/443 (10.20.1.10/32 tcp/443, 2001:db8:20::10/128 tcp/443)"
                    + " | uses resource git, which changed (a.yaml:2:3)"
            ]),
        RuleCase(
            label: "a rule added", replacing: "rules:",
            with: "rules:\n  - name: analysts-db\n    groups: [Data-Analysts]\n    allow: [{ to: prod-db }]\n    until: 2027-01-01T00:00:00Z",
            expected: ["added analysts-db: groups: + Data-Analysts | allow: + prod-db (10.30.0.0/24 tcp/5432) | until: 2027-01-01T00:00:00Z"]),
        RuleCase(
            label: "a rule removed", replacing: "  - name: no-contractors-on-prod\n    groups: [Contractors]\n    deny: [prod-db]", with: "",
            expected: ["removed no-contractors-on-prod: groups: - Contractors | deny: - prod-db (10.30.0.0/24 tcp/5432)"]),
        RuleCase(
            label: "a rule renamed", replacing: "name: engineers-git", with: "name: engineers-use-git",
            expected: [
                "added engineers-use-git: groups: + Engineering | allow: + git (10.20.1.10/32 tcp/22, 10.20.1.10/32 tcp/443,"
                    + " 2001:db8:20::10/128 tcp/22, 2001:db8:20::10/128 tcp/443)",
                "removed engineers-git: groups: - Engineering | allow: - git (10.20.1.10/32 tcp/22, 10.20.1.10/32 tcp/443,"
                    + " 2001:db8:20::10/128 tcp/22, 2001:db8:20::10/128 tcp/443)",
            ]),
        RuleCase(
            label: "a description added", replacing: "- name: engineers-git", with: "- name: engineers-git\n    description: Source code.",
            expected: []),
    ]

    @Test(arguments: ruleCases)
    func ruleChangesSayWhatChanged(_ change: RuleCase) throws {
        #expect(change.edited != Self.base, "the case must edit the policy")
        let old = try compilePolicy([("a.yaml", Self.base)])
        let new = try compilePolicy([("a.yaml", change.edited)])
        let changes = PolicyDiff.compareRules(from: old, to: new)
        #expect(changes.map { "\($0.kind) \($0.name): " + $0.details.joined(separator: " | ") } == change.expected)
    }

    @Test func ruleChangesGiveTheOldAndNewLocation() throws {
        let old = try compilePolicy([("a.yaml", Self.base)])
        let moved = """
            rules:
              - name: engineers-git
                groups: [Engineering, Contractors]
                allow: [git]
            """
        let new = try compilePolicy([
            ("a.yaml", Self.base.replacingOccurrences(of: "  - name: engineers-git\n    groups: [Engineering]\n    allow: [git]\n", with: "")),
            ("b.yaml", moved),
        ])
        let changes = PolicyDiff.compareRules(from: old, to: new)
        try #require(changes.count == 1)
        #expect(changes[0].kind == .changed)
        #expect(changes[0].from?.description == "a.yaml:5:5")
        #expect(changes[0].to?.description == "b.yaml:2:5")

        let removed = PolicyDiff.compareRules(from: old, to: try compilePolicy([("a.yaml", "")]))
        #expect(removed.map(\.from?.description) == ["a.yaml:5:5", "a.yaml:8:5"])
        #expect(removed.allSatisfy { $0.kind == .removed && $0.to == nil })
        let added = PolicyDiff.compareRules(from: try compilePolicy([("a.yaml", "")]), to: old)
        #expect(added.map(\.to?.description) == ["a.yaml:5:5", "a.yaml:8:5"])
        #expect(added.allSatisfy { $0.kind == .added && $0.from == nil })
    }

    @Test func identicalPoliciesHaveNoRuleChanges() throws {
        let policy = try DecisionFixture.policy()
        #expect(PolicyDiff.compareRules(from: policy, to: policy).isEmpty)
        #expect(PolicyDiff.compareRules(from: policy, to: try compilePolicy(DecisionFixture.files.reversed())).isEmpty)
    }

    // MARK: Users

    @Test func usersSeeTheirChangeByResource() throws {
        let old = try compilePolicy([("a.yaml", Self.base)])
        let new = try compilePolicy([
            ("a.yaml", Self.base.replacingOccurrences(of: "groups: [Engineering]", with: "groups: [Engineering, Contractors]"))
        ])
        let subjects = [
            PolicySubject(userName: "carl@example.com", groups: ["Contractors"]), PolicySubject(userName: "ada@example.com", groups: ["Engineering"]),
        ]
        let changes = PolicyDiff.compare(from: old, to: new, subjects: subjects, at: 0)
        #expect(changes.map(\.userName) == ["carl@example.com"])
        #expect(
            changes.first?.change.gainedByResource.map(\.description) == [
                "git (10.20.1.10/32 tcp/22, 10.20.1.10/32 tcp/443, 2001:db8:20::10/128 tcp/22, 2001:db8:20::10/128 tcp/443)"
            ])
        #expect(changes.first?.change.lostByResource.isEmpty == true)
    }

    // MARK: Groups with no active members

    /// Who is in Data-Analysts when a rule starts to give it the database.
    enum Membership: String, CaseIterable, Sendable {
        case nobody, onlyAnInactiveUser, anActiveUser
    }

    @Test(arguments: Membership.allCases)
    func aGroupWithNoActiveMembersShowsItsChangeByGroup(_ membership: Membership) throws {
        let old = try compilePolicy([("a.yaml", Self.base)])
        let new = try compilePolicy([
            ("a.yaml", Self.base), ("b.yaml", "rules:\n  - name: analysts-db\n    groups: [Data-Analysts]\n    allow: [prod-db]\n"),
        ])
        var subjects = [PolicySubject(userName: "ada@example.com", groups: ["Engineering"])]
        switch membership {
        case .nobody: break
        case .onlyAnInactiveUser: subjects.append(PolicySubject(userName: "dee@example.com", active: false, groups: ["data-analysts"]))
        case .anActiveUser: subjects.append(PolicySubject(userName: "ann@example.com", groups: ["data-analysts"]))
        }
        let groups = PolicyDiff.compareGroups(from: old, to: new, subjects: subjects, knownGroups: ["Engineering", "Data-Analysts"], at: 0)
        let users = PolicyDiff.compare(from: old, to: new, subjects: subjects, at: 0)
        if membership == .anActiveUser {
            #expect(groups.isEmpty, "a group with an active member shows through its members")
            #expect(users.map(\.userName) == ["ann@example.com"])
        } else {
            #expect(groups.map(\.group) == ["Data-Analysts"], "Engineering has an active member and Contractors does not change")
            #expect(groups.first?.isKnown == true)
            #expect(groups.first?.change.gainedByResource.map(\.description) == ["prod-db (10.30.0.0/24 tcp/5432)"])
            #expect(groups.first?.change.lost.isEmpty == true)
            #expect(users.isEmpty)
        }
    }

    @Test func aGroupLosesWhatADenyOrARemovedRuleTakes() throws {
        let old = try compilePolicy([
            ("a.yaml", Self.base), ("b.yaml", "rules:\n  - name: contractors-git\n    groups: [Contractors]\n    allow: [git]\n"),
        ])
        let new = try compilePolicy([
            ("a.yaml", Self.base.replacingOccurrences(of: "deny: [prod-db]", with: "deny: [prod-db, { to: git, ports: [tcp/22] }]")),
            ("b.yaml", "rules:\n  - name: contractors-git\n    groups: [Contractors]\n    allow: [git]\n"),
        ])
        let groups = PolicyDiff.compareGroups(from: old, to: new, subjects: [], knownGroups: [], at: 0)
        #expect(groups.map(\.group) == ["Contractors"])
        #expect(groups.first?.isKnown == false)
        #expect(groups.first?.change.lostByResource.map(\.description) == ["git on tcp/22 (10.20.1.10/32 tcp/22, 2001:db8:20::10/128 tcp/22)"])
        #expect(groups.first?.change.gained.isEmpty == true)

        let withoutTheRule = try compilePolicy([("a.yaml", Self.base)])
        let removed = PolicyDiff.compareGroups(from: old, to: withoutTheRule, subjects: [], knownGroups: [], at: 0)
        #expect(removed.map(\.group) == ["Contractors"], "a group only the old policy names still counts")
        #expect(removed.first?.change.lost.isEmpty == false)
    }

    // MARK: Access by resource

    struct NamingCase: Sendable, CustomTestStringConvertible {
        let grants: [String]
        let expected: [String]
        var testDescription: String { grants.joined(separator: ", ") }
    }

    static let namingCases: [NamingCase] = [
        NamingCase(grants: ["10.30.0.0/24 tcp/5432"], expected: ["prod-db (10.30.0.0/24 tcp/5432)"]),
        NamingCase(
            grants: ["10.20.1.10/32 tcp/443", "2001:db8:20::10/128 tcp/443"],
            expected: ["git on tcp/443 (10.20.1.10/32 tcp/443, 2001:db8:20::10/128 tcp/443)"]),
        NamingCase(grants: ["10.20.1.10/32 tcp/443"], expected: ["10.20.1.10/32 tcp/443"]),
        NamingCase(grants: ["10.30.0.0/24 tcp/5432", "10.99.0.0/24 icmp"], expected: ["prod-db (10.30.0.0/24 tcp/5432)", "10.99.0.0/24 icmp"]),
        NamingCase(
            grants: ["10.30.0.0/24 tcp", "10.30.0.0/24 udp", "10.30.0.0/24 icmp", "10.30.0.0/24 other"],
            expected: ["prod-db on any (10.30.0.0/24 tcp/0-65535, 10.30.0.0/24 udp/0-65535, 10.30.0.0/24 icmp, 10.30.0.0/24 other)"]),
        NamingCase(grants: ["10.30.0.0/23 tcp/5432"], expected: ["prod-db (10.30.0.0/24 tcp/5432)", "10.30.1.0/24 tcp/5432"]),
    ]

    @Test(arguments: namingCases)
    func accessIsNamedAfterTheResourcesItCovers(_ naming: NamingCase) throws {
        let policy = try compilePolicy([("a.yaml", Self.base)])
        let described = NamedAccess.describe(try accessSet(naming.grants), resources: policy.policy.resources)
        #expect(described.map(\.description) == naming.expected)
        #expect(AccessSet(described.flatMap(\.access.grants)).isEquivalent(to: try accessSet(naming.grants)), "the parts add up to the whole")
    }

    // MARK: Report

    @Test func theReportListsRulesThenUsersThenGroups() throws {
        let old = try compilePolicy([("a.yaml", Self.base)])
        let new = try compilePolicy([
            ("a.yaml", Self.base.replacingOccurrences(of: "groups: [Engineering]", with: "groups: [Engineering, Contractors]")),
            ("b.yaml", "rules:\n  - name: analysts-db\n    groups: [Data-Analysts]\n    allow: [prod-db]\n"),
        ])
        let subjects = [
            PolicySubject(userName: "carl@example.com", groups: ["Contractors"]), PolicySubject(userName: "ada@example.com", groups: ["Engineering"]),
        ]
        let report = PolicyDiffReport(from: old, to: new, subjects: subjects, knownGroups: ["Contractors", "Engineering"], at: 0)
        #expect(
            report.text == """
                Rules that change (2)
                  ~ engineers-git  a.yaml:5:5 (was a.yaml:5:5)
                      groups: + Contractors
                  + analysts-db  b.yaml:2:5
                      groups: + Data-Analysts
                      allow: + prod-db (10.30.0.0/24 tcp/5432)
                Users whose access changes (1 of 2)
                  carl@example.com
                    + git (10.20.1.10/32 tcp/22, 10.20.1.10/32 tcp/443, 2001:db8:20::10/128 tcp/22, 2001:db8:20::10/128 tcp/443)
                Groups with no active members, for a member of only that group (1)
                  Data-Analysts (not pushed by the identity provider yet)
                    + prod-db (10.30.0.0/24 tcp/5432)
                """)
    }

    @Test func theReportWithoutUsersShowsRulesAndGroups() throws {
        let old = try compilePolicy([("a.yaml", Self.base)])
        let new = try compilePolicy([
            ("a.yaml", Self.base.replacingOccurrences(of: "groups: [Engineering]", with: "groups: [Engineering, Contractors]"))
        ])
        let report = PolicyDiffReport(from: old, to: new, subjects: [], knownGroups: ["Contractors"], at: 0)
        let lines = report.text.split(separator: "\n").map(String.init)
        #expect(lines.first == "Rules that change (1)")
        #expect(lines.contains("Users whose access changes: none (the data folder has no users)"))
        #expect(
            lines.suffix(2) == [
                "  Contractors (no active members)",
                "    + git (10.20.1.10/32 tcp/22, 10.20.1.10/32 tcp/443, 2001:db8:20::10/128 tcp/22, 2001:db8:20::10/128 tcp/443)",
            ])
        let unchanged = PolicyDiffReport(from: old, to: old, subjects: [PolicySubject(userName: "ada@example.com")], knownGroups: [], at: 0)
        #expect(unchanged.text == "Rules that change: none\nUsers whose access changes: none of 1")
    }
}
