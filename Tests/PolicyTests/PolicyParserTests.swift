import Testing
@testable import Policy

/// An invalid policy and the errors it must produce: `file:line:column` and a fragment of the text.
struct InvalidPolicy: Sendable, CustomTestStringConvertible {
    let name: String
    let files: [(String, String)]
    let errors: [(location: String, fragment: String)]

    init(_ name: String, _ files: [(String, String)], _ errors: [(String, String)]) {
        self.name = name
        self.files = files
        self.errors = errors.map { (location: $0.0, fragment: $0.1) }
    }

    init(_ name: String, _ yaml: String, _ errors: [(String, String)]) {
        self.init(name, [("a.yaml", yaml)], errors)
    }

    var testDescription: String { name }
}

struct PolicyParserTests {
    static let invalidPolicies: [InvalidPolicy] = [
        // Unknown keys, with the closest known one suggested
        InvalidPolicy(
            "misspelled top-level key",
            """
            resource:
              git: { hosts: [10.0.0.1] }
            """,
            [("a.yaml:1:1", "unknown key 'resource' in a policy file; did you mean 'resources'?")]),
        InvalidPolicy(
            "unknown top-level key far from every name lists the known ones",
            "policies: []\n",
            [("a.yaml:1:1", "unknown key 'policies' in a policy file; expected one of: resources, rules, tests")]),
        InvalidPolicy(
            "misspelled rule key",
            """
            rules:
              - name: r
                users: [ada]
                alow: [10.0.0.0/8]
            """,
            [
                ("a.yaml:2:5", "rule 'r' neither allows nor denies anything; add allow: [...] or deny: [...]"),
                ("a.yaml:4:5", "unknown key 'alow' in a rule; did you mean 'allow'?"),
            ]),
        InvalidPolicy(
            "misspelled resource key",
            """
            resources:
              git:
                host: [10.0.0.1]
            """,
            [
                ("a.yaml:2:3", "resource 'git' has no hosts; add hosts: [10.0.0.0/24]"),
                ("a.yaml:3:5", "unknown key 'host' in a resource; did you mean 'hosts'?"),
            ]),
        InvalidPolicy(
            "misspelled destination key",
            """
            rules:
              - name: r
                users: [ada]
                allow: [{ to: 10.0.0.0/8, port: [tcp/22] }]
            """,
            [("a.yaml:4:31", "unknown key 'port' in a destination; did you mean 'ports'?")]),
        InvalidPolicy(
            "misspelled where attribute",
            """
            rules:
              - name: r
                where: { departmnt: Sales }
                allow: [10.0.0.0/8]
            """,
            [
                ("a.yaml:2:5", "rule 'r' applies to nobody"),
                ("a.yaml:3:14", "unknown key 'departmnt' in 'where' (user attributes); did you mean 'department'?"),
            ]),
        InvalidPolicy(
            "misspelled test user key",
            """
            tests:
              - name: t
                user: { group: [Eng] }
                deny: [10.0.0.1:tcp/22]
            """,
            [("a.yaml:3:13", "unknown key 'group' in a test user; did you mean 'groups'?")]),
        InvalidPolicy(
            "misspelled test key",
            """
            tests:
              - name: t
                user: { groups: [Eng] }
                Deny: [10.0.0.1:tcp/22]
                allow: [10.0.0.1:tcp/22]
            """,
            [("a.yaml:4:5", "unknown key 'Deny' in a test; did you mean 'deny'?")]),
        // Resources that do not exist
        InvalidPolicy(
            "unknown resource with a suggestion",
            """
            resources:
              git: { hosts: [10.0.0.1] }
            rules:
              - name: r
                users: [ada]
                allow: [gti]
            """,
            [("a.yaml:6:13", "unknown resource 'gti'; did you mean 'git'?")]),
        InvalidPolicy(
            "unknown resource in another file lists the known ones",
            [
                (
                    "a.yaml",
                    """
                    resources:
                      git: { hosts: [10.0.0.1] }
                      wiki: { hosts: [10.0.0.2] }
                    """
                ),
                (
                    "b.yaml",
                    """
                    rules:
                      - name: r
                        users: [ada]
                        allow:
                          - to: payroll
                            ports: [tcp/443]
                    """
                ),
            ],
            [("b.yaml:5:13", "unknown resource 'payroll'; known resources: git, wiki")]),
        InvalidPolicy(
            "unknown resource without any resources",
            """
            rules:
              - name: r
                users: [ada]
                deny: [git]
            """,
            [("a.yaml:4:12", "unknown resource 'git'; define it under 'resources:', or write a CIDR")]),
        InvalidPolicy(
            "unknown resource in a test probe",
            """
            resources:
              git: { hosts: [10.0.0.1] }
            tests:
              - name: t
                user: { groups: [Eng] }
                allow: [gti:tcp/22]
            """,
            [("a.yaml:6:13", "unknown resource 'gti'; did you mean 'git'?")]),
        // Addresses
        InvalidPolicy(
            "host bits set in a resource's hosts",
            """
            resources:
              git: { hosts: [10.0.0.1/8] }
            """,
            [("a.yaml:2:18", "'10.0.0.1/8' has host bits set; did you mean 10.0.0.0/8?")]),
        InvalidPolicy(
            "bad IPv6 host in a block list",
            """
            resources:
              git:
                hosts:
                  - 10.0.0.1
                  - "2001:db8::g"
            """,
            [("a.yaml:5:9", "'2001:db8::g' is not an IPv4 or IPv6 address or prefix")]),
        InvalidPolicy(
            "prefix length too long in a destination",
            """
            rules:
              - name: r
                users: [ada]
                allow: [{ to: 10.0.0.0/33 }]
            """,
            [("a.yaml:4:19", "'10.0.0.0/33' has an invalid prefix length; use 0 to 32")]),
        InvalidPolicy(
            "octal-looking address as a bare destination",
            """
            rules:
              - name: r
                groups: [Eng]
                deny: [010.0.0.0/8]
            """,
            [("a.yaml:4:12", "'010.0.0.0/8' is not an IPv4 or IPv6 address or prefix")]),
        // Ports
        InvalidPolicy(
            "port out of range",
            """
            resources:
              web:
                hosts: [10.0.0.0/24]
                ports: [tcp/443, tcp/70000]
            """,
            [("a.yaml:4:22", "'tcp/70000' has an invalid port; ports are 0 to 65535")]),
        InvalidPolicy(
            "reversed port range",
            """
            rules:
              - name: r
                groups: [Eng]
                allow:
                  - { to: 10.0.0.0/8, ports: [tcp/8100-8000] }
            """,
            [("a.yaml:5:35", "'tcp/8100-8000' is an empty range; did you mean tcp/8000-8100?")]),
        InvalidPolicy(
            "unknown protocol",
            """
            resources:
              web: { hosts: [10.0.0.0/24], ports: [sctp/9] }
            """,
            [("a.yaml:2:40", "'sctp/9' is not a port specification; write tcp/22, udp/53, tcp/8000-8100, tcp, udp, icmp or any")]),
        // Names unique across files
        InvalidPolicy(
            "the same resource in two files",
            [
                ("a.yaml", "resources:\n  git: { hosts: [10.0.0.1] }\n"),
                ("b.yaml", "# the same name again\nresources:\n  git: { hosts: [10.0.0.2] }\n"),
            ],
            [("b.yaml:3:3", "resource 'git' is already defined at a.yaml:2:3; names are unique across all policy files")]),
        InvalidPolicy(
            "the same rule in two files",
            [
                ("a.yaml", "rules:\n  - name: ssh\n    groups: [Eng]\n    allow: [10.0.0.0/8]\n"),
                (
                    "b.yaml",
                    """
                    rules:
                      - name: web
                        groups: [Eng]
                        allow: [10.0.0.0/8]
                      - name: ssh
                        groups: [Ops]
                        allow: [10.0.0.0/8]
                    """
                ),
            ],
            [("b.yaml:5:5", "rule 'ssh' is already defined at a.yaml:2:5; names are unique across all policy files")]),
        InvalidPolicy(
            "the same test in two files",
            [
                ("a.yaml", "tests:\n  - name: nobody\n    user: { groups: [] }\n    deny: [10.0.0.1:tcp/22]\n"),
                ("b.yaml", "tests:\n  - name: nobody\n    user: { groups: [x] }\n    deny: [10.0.0.1:tcp/22]\n"),
            ],
            [("b.yaml:2:5", "test 'nobody' is already defined at a.yaml:2:5")]),
        // Rules that cannot work
        InvalidPolicy(
            "rule without a selector",
            """
            rules:
              - name: everyone
                allow: [10.0.0.0/8]
            """,
            [("a.yaml:2:5", "rule 'everyone' applies to nobody; add groups, users or where")]),
        InvalidPolicy(
            "rule without allow or deny",
            """
            rules:
              - name: r
                groups: [Eng]
                description: grants nothing
            """,
            [("a.yaml:2:5", "rule 'r' neither allows nor denies anything")]),
        InvalidPolicy(
            "rule without a name",
            """
            rules:
              - groups: [Eng]
                allow: [10.0.0.0/8]
            """,
            [("a.yaml:2:5", "every rule needs a 'name'")]),
        InvalidPolicy(
            "a list where a single value belongs",
            """
            rules:
              - name: [a, b]
                groups: [Eng]
                allow: [10.0.0.0/8]
            """,
            [("a.yaml:2:5", "every rule needs a 'name'"), ("a.yaml:2:11", "'name' should be a single value, not a list or mapping")]),
        InvalidPolicy(
            "where with an empty list",
            """
            rules:
              - name: r
                where: { department: [] }
                allow: [10.0.0.0/8]
            """,
            [("a.yaml:2:5", "rule 'r' applies to nobody"), ("a.yaml:3:26", "'department' lists no values, so it matches nobody")]),
        InvalidPolicy(
            "destination without 'to'",
            """
            rules:
              - name: r
                groups: [Eng]
                allow: [{ ports: [tcp/22] }]
            """,
            [("a.yaml:4:13", "a destination needs 'to': a resource name or a CIDR")]),
        InvalidPolicy(
            "resource name starting with a digit",
            "resources:\n  1git: { hosts: [10.0.0.1] }\n",
            [("a.yaml:2:3", "a resource name is letters, digits, '-', '_' and '.', starting with a letter")]),
        // Timestamps
        InvalidPolicy(
            "until is not a timestamp",
            """
            rules:
              - name: r
                groups: [Eng]
                allow: [10.0.0.0/8]
                until: next tuesday
            """,
            [("a.yaml:5:12", "'next tuesday' is not a timestamp; write e.g. 2027-01-31T00:00:00Z")]),
        InvalidPolicy(
            "until on a day that does not exist",
            """
            rules:
              - name: r
                groups: [Eng]
                allow: [10.0.0.0/8]
                until: 2027-02-30
            """,
            [("a.yaml:5:12", "'2027-02-30' is not a timestamp")]),
        InvalidPolicy(
            "test at in a month that does not exist",
            """
            tests:
              - name: t
                user: { groups: [Eng] }
                at: 2027-13-01T00:00:00Z
                deny: [10.0.0.1:tcp/22]
            """,
            [("a.yaml:4:9", "'2027-13-01T00:00:00Z' is not a timestamp")]),
        InvalidPolicy(
            "test at an hour that does not exist",
            """
            tests:
              - name: t
                user: { groups: [Eng] }
                at: 2027-01-01T24:00:00Z
                deny: [10.0.0.1:tcp/22]
            """,
            [("a.yaml:4:9", "'2027-01-01T24:00:00Z' is not a timestamp")]),
        // YAML and file shape
        InvalidPolicy(
            "invalid YAML: a second colon",
            "rules:\n  - name: r: s\n",
            [("a.yaml:2:12", "invalid YAML: mapping values are not allowed in this context")]),
        InvalidPolicy(
            "invalid YAML: a tab for indentation",
            "rules:\n\t- name: r\n",
            [("a.yaml:2:1", "invalid YAML: found character that cannot start any token")]),
        InvalidPolicy(
            "invalid YAML: an unclosed list, reported where the file ends",
            "rules:\n  - name: r\n    groups: [Eng\n",
            [("a.yaml:4:1", "invalid YAML: did not find expected ',' or ']'")]),
        InvalidPolicy(
            "invalid YAML in one file does not hide errors in another",
            [("a.yaml", "rules:\n  - name: r: s\n"), ("b.yaml", "resources:\n  git: { hosts: [10.0.0.1/8] }\n")],
            [
                ("a.yaml:2:12", "invalid YAML: mapping values are not allowed"),
                ("b.yaml:2:18", "did you mean 10.0.0.0/8?"),
            ]),
        InvalidPolicy(
            "a key twice in one mapping",
            "rules:\n  - name: a\n    name: b\n",
            [("a.yaml:2:5", "the key 'name' appears twice in one mapping")]),
        InvalidPolicy(
            "a file that is a list",
            "- git\n- wiki\n",
            [("a.yaml:1:1", "a policy file is a mapping with 'resources', 'rules' and 'tests'")]),
        InvalidPolicy(
            "a file that is a sentence",
            "allow everyone to reach git\n",
            [("a.yaml:1:1", "a policy file is a mapping")]),
        InvalidPolicy(
            "'rules' that is not a list",
            "rules:\n  name: r\n",
            [("a.yaml:2:3", "'rules' is a list of rules, each starting with '- name: ...'")]),
        InvalidPolicy(
            "'resources' that is not a mapping",
            "resources: [git]\n",
            [("a.yaml:1:12", "'resources' is a mapping of names to { hosts: [...], ports: [...] }")]),
        // Tests
        InvalidPolicy(
            "bad probes",
            """
            resources:
              git: { hosts: [10.0.0.1] }
            tests:
              - name: t
                user: { groups: [Eng] }
                allow:
                  - git-tcp-22
                  - "[2001:db8::1]tcp/22"
                  - git:tcp/99999
                  - 10.0.0.1/8:tcp/22
                  - git:icmp/8
                deny: [git:tcp/22]
            """,
            [
                ("a.yaml:7:9", "'git-tcp-22' should be TARGET:PROTO/PORT, e.g. git:tcp/22 or 10.1.2.3:icmp"),
                ("a.yaml:8:9", "'[2001:db8::1]tcp/22' should be [IPV6]:PROTO/PORT"),
                ("a.yaml:9:9", "'tcp/99999' has an invalid port"),
                ("a.yaml:10:9", "'10.0.0.1/8' has host bits set; did you mean 10.0.0.0/8?"),
                ("a.yaml:11:9", "'icmp/8' is not a port specification"),
            ]),
        InvalidPolicy(
            "test without a user",
            "tests:\n  - name: t\n    deny: [10.0.0.1:tcp/22]\n",
            [("a.yaml:2:5", "test 't' needs a 'user', e.g. user: { groups: [Engineering] }")]),
        InvalidPolicy(
            "test that checks nothing",
            "tests:\n  - name: t\n    user: { groups: [Eng] }\n",
            [("a.yaml:2:5", "test 't' checks nothing; add allow: [resource:tcp/443] or deny: [...]")]),
        InvalidPolicy(
            "test user with active neither true nor false",
            "tests:\n  - name: t\n    user: { active: maybe }\n    deny: [10.0.0.1:tcp/22]\n",
            [("a.yaml:3:21", "'active' is true or false")]),
    ]

    @Test(arguments: invalidPolicies)
    func reportsEveryErrorWithItsPosition(_ policy: InvalidPolicy) {
        let result = loadPolicy(policy.files)
        #expect(result.policy == nil, "a policy with errors is not usable")
        let errors = result.errors
        #expect(errors.count == policy.errors.count, "\(errors.map(\.description))")
        for (error, expected) in zip(errors, policy.errors) {
            #expect(error.location.description == expected.location, "\(error)")
            #expect(error.description.contains(expected.fragment), "\(error)")
            #expect(error.description.hasPrefix("\(expected.location): error: "))
        }
    }

    @Test func errorsAreSortedByFileLineAndColumn() {
        let result = loadPolicy([
            ("b.yaml", "rules:\n  - name: r\n    allow: [10.0.0.0/33]\n"),
            ("a.yaml", "resources:\n  git: { hosts: [10.0.0.1/8], ports: [tcp/0-99999] }\n"),
        ])
        let locations = result.errors.map(\.location)
        #expect(locations.count == 4)
        #expect(locations == locations.sorted())
        #expect(locations.first?.file == "a.yaml")
    }

    // MARK: Valid policies

    static let fullPolicy = """
        resources:
          git:
            description: Git server.
            hosts: [10.20.1.10/32, "2001:db8:20::10"]
            ports: [tcp/22, TCP/443]
          lab:
            hosts: 10.3.0.0/16
        rules:
          - name: engineers
            description: Engineers use git.
            groups: [Engineering, backend]
            users: ada@example.com
            where: { Department: [R&D, Platform], costcenter: 4711 }
            allow:
              - git
              - { to: lab, ports: [udp/53, icmp] }
              - to: 10.9.0.0/16
            deny: [{ to: "2001:db8::/32", ports: [any] }]
            until: 2027-06-30T12:30:00+02:00
        tests:
          - name: ada's access
            user: { userName: ada@example.com, groups: [Engineering], active: false, department: R&D, emails: [a@x.example, b@x.example] }
            at: 2027-01-01
            allow: [git:tcp/22, "[2001:db8:20::10]:tcp/443", 10.3.0.1:icmp]
            deny: [lab:any]
        """

    @Test func parsesResources() throws {
        let policy = try #require(loadPolicy([("full.yaml", Self.fullPolicy)]).policy)
        #expect(policy.resources.keys.sorted() == ["git", "lab"])
        let git = try #require(policy.resources["git"])
        #expect(git.name == "git")
        #expect(git.hosts.map(\.description) == ["10.20.1.10/32", "2001:db8:20::10/128"])
        #expect(git.defaultPorts.map(\.description) == ["tcp/22", "tcp/443"])
        #expect(git.location.description == "full.yaml:2:3")
        let lab = try #require(policy.resources["lab"])
        #expect(lab.hosts.map(\.description) == ["10.3.0.0/16"], "a single value stands for a one-item list")
        #expect(lab.defaultPorts.isEmpty)
    }

    @Test func parsesRules() throws {
        let policy = try #require(loadPolicy([("full.yaml", Self.fullPolicy)]).policy)
        let rule = try #require(policy.rules.first)
        #expect(policy.rules.count == 1)
        #expect(rule.name == "engineers")
        #expect(rule.description == "Engineers use git.")
        #expect(rule.location.description == "full.yaml:9:5")
        #expect(rule.selectors.groups == ["Engineering", "backend"])
        #expect(rule.selectors.users == ["ada@example.com"])
        // Attribute names take their canonical spelling.
        #expect(rule.selectors.attributes.map(\.name) == ["department", "costCenter"])
        #expect(rule.selectors.attributes.map(\.values) == [["R&D", "Platform"], ["4711"]])
        let literal = try IPPrefix.parse("10.9.0.0/16")
        #expect(rule.allow.map(\.target) == [.resource("git"), .resource("lab"), .prefix(literal)])
        #expect(rule.allow.map { $0.ports?.map(\.description) } == [nil, ["udp/53", "icmp"], nil])
        // A destination's position is its target's: the bare name, or the value after `to:`.
        #expect(rule.allow.map(\.location.description) == ["full.yaml:15:9", "full.yaml:16:15", "full.yaml:17:13"])
        let documentation = try IPPrefix.parse("2001:db8::/32")
        #expect(rule.deny.map(\.target) == [.prefix(documentation)])
        #expect(rule.deny.first?.ports?.map(\.description) == ["any"])
        // 12:30 at +02:00 is 10:30 UTC.
        #expect(rule.until == instant("2027-06-30T10:30:00Z"))
    }

    @Test func parsesTests() throws {
        let policy = try #require(loadPolicy([("full.yaml", Self.fullPolicy)]).policy)
        let test = try #require(policy.tests.first)
        #expect(test.name == "ada's access")
        #expect(test.location.description == "full.yaml:21:5")
        #expect(test.subject.userName == "ada@example.com")
        #expect(test.subject.groups == ["Engineering"])
        #expect(test.subject.active == false)
        #expect(test.subject.attributes["department"] == ["R&D"])
        #expect(test.subject.attributes["emails"] == ["a@x.example", "b@x.example"])
        #expect(test.subject.attributes["userName"] == ["ada@example.com"])
        #expect(test.at == instant("2027-01-01T00:00:00Z"), "a date alone is midnight UTC")
        #expect(test.allow.map(\.text) == ["git:tcp/22", "[2001:db8:20::10]:tcp/443", "10.3.0.1:icmp"])
        let v6 = try IPPrefix.parse("2001:db8:20::10")
        let v4 = try IPPrefix.parse("10.3.0.1")
        #expect(test.allow.map(\.target) == [.resource("git"), .prefix(v6), .prefix(v4)])
        #expect(test.allow.map(\.port.description) == ["tcp/22", "tcp/443", "icmp"])
        #expect(test.deny.map(\.port.description) == ["any"])
        #expect(test.deny.first?.location.description == "full.yaml:25:12")
    }

    @Test func aTestUserWithoutUserNameIsTestUserAndActive() throws {
        let policy = try #require(
            loadPolicy([("t.yaml", "tests:\n  - name: t\n    user: { groups: [Eng] }\n    deny: [10.0.0.1:tcp/22]\n")]).policy)
        let subject = try #require(policy.tests.first?.subject)
        #expect(subject.userName == "test-user")
        #expect(subject.active)
        #expect(policy.tests.first?.at == nil)
    }

    @Test func keepsTheFilesAndTheirOrder() throws {
        let files = [("b.yaml", "rules: []\n"), ("a.yaml", "# nothing yet\n")]
        let policy = try #require(loadPolicy(files).policy)
        #expect(policy.files.map(\.name) == ["b.yaml", "a.yaml"])
        #expect(policy.files.map(\.contents) == ["rules: []\n", "# nothing yet\n"])
    }

    @Test(arguments: ["", "# only a comment\n", "---\n", "---\n# nothing yet\n", "resources: {}\nrules: []\ntests: []\n"])
    func emptyFilesAreEmptyPolicies(contents: String) throws {
        let result = loadPolicy([("empty.yaml", contents)])
        #expect(result.diagnostics.isEmpty)
        let policy = try #require(result.policy)
        #expect(policy.resources.isEmpty && policy.rules.isEmpty && policy.tests.isEmpty)
    }

    @Test func rulesAndResourcesFromSeveralFilesAreMerged() throws {
        let result = loadPolicy([
            ("a.yaml", "resources:\n  git: { hosts: [10.0.0.1] }\nrules:\n  - name: one\n    groups: [A]\n    allow: [git]\n"),
            ("b.yaml", "rules:\n  - name: two\n    groups: [B]\n    deny: [git]\n"),
        ])
        let policy = try #require(result.policy)
        #expect(policy.rules.map(\.name) == ["one", "two"])
        #expect(policy.rules.map(\.location.file) == ["a.yaml", "b.yaml"])
    }

    // MARK: Suggestions

    @Test(arguments: [
        ("gti", ["git", "wiki"], "git"),
        ("resource", ["resources", "rules", "tests"], "resources"),
        ("DEPARTMENT", ["department", "division"], "department"),
        ("prod_db", ["prod-db", "prod-ssh"], "prod-db"),
        ("xyz", ["git", "wiki"], nil),
        ("payroll", ["git", "wiki"], nil),
        ("a", [], nil),
    ] as [(String, [String], String?)])
    func suggestsOnlyCloseNames(word: String, candidates: [String], expected: String?) {
        #expect(Suggestion.closest(to: word, among: candidates) == expected)
    }
}
