import Foundation
import Testing

/// `portcullis policy …` and the server's policy reload, run as a user would.
@Suite(.serialized)
struct PolicyEndToEndTests {
    static let policy = """
        resources:
          git: { hosts: [10.20.1.10/32], ports: [tcp/22, tcp/443] }
          prod-db: { hosts: [10.30.0.0/24], ports: [tcp/5432] }
        rules:
          - name: engineers-git
            groups: [Engineering]
            allow: [{ to: git }]
          - name: no-contractors-on-prod
            groups: [Contractors]
            deny: [{ to: prod-db }]
        tests:
          - name: engineers reach git
            user: { groups: [Engineering] }
            allow: [git:tcp/22]
            deny: [prod-db:tcp/5432]
        """

    /// A folder with the given files, removed afterwards.
    final class Folder {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("portcullis-e2e-policy-\(UUID().uuidString)").path

        init(_ files: [String: String]) throws {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            for (name, contents) in files { try write(name, contents) }
        }

        func write(_ name: String, _ contents: String) throws {
            try contents.write(toFile: path + "/" + name, atomically: true, encoding: .utf8)
        }

        deinit { try? FileManager.default.removeItem(atPath: path) }
    }

    @Test func checkReportsEveryErrorWithItsPositionAndFails() throws {
        let folder = try Folder([
            "a.yaml": "resources:\n  git: { hosts: [10.20.1.10/24] }\nrules:\n  - name: r\n    groups: [G]\n    allow: [{ to: gti }]\n"
        ])
        let result = try PortcullisBinary.run(["policy", "check", folder.path])
        #expect(result.status == 1)
        #expect(result.stdout.contains("\(folder.path)/a.yaml:2:18: error: '10.20.1.10/24' has host bits set; did you mean 10.20.1.0/24?"))
        #expect(result.stdout.contains("\(folder.path)/a.yaml:6:19: error: unknown resource 'gti'; did you mean 'git'?"))
    }

    @Test func checkAndTestPassOnAValidFolder() throws {
        let folder = try Folder(["a.yaml": Self.policy])
        let check = try PortcullisBinary.run(["policy", "check", folder.path])
        #expect(check.status == 0)
        #expect(check.stdout.contains("2 rules, 1 tests: no errors"))
        let test = try PortcullisBinary.run(["policy", "test", folder.path])
        #expect(test.status == 0)
        #expect(test.stdout.contains("✔ engineers reach git"))
    }

    @Test func testFailsWhenAPolicyTestFails() throws {
        let folder = try Folder([
            "a.yaml": Self.policy + "\n  - name: engineers reach the database\n    user: { groups: [Engineering] }\n    allow: [prod-db:tcp/5432]\n"
        ])
        let test = try PortcullisBinary.run(["policy", "test", folder.path])
        #expect(test.status == 1)
        #expect(test.stdout.contains("✘ engineers reach the database"))
        #expect(test.stdout.contains("expected allow prod-db:tcp/5432"))
        #expect(test.stdout.contains("2 test(s), 1 failed"))
    }

    @Test func explainAndDiffUseTheUsersInTheDatabase() async throws {
        let data = DataFolder()
        let server = try ServerProcess(data: data.path)
        let token = try #require(server.firstToken)
        let ada = try await server.request("POST", "/scim/v2/Users", token: token, body: #"{"userName": "ada@example.com"}"#)
        let carl = try await server.request("POST", "/scim/v2/Users", token: token, body: #"{"userName": "carl@example.com"}"#)
        let adaID = try #require(ada.body["id"] as? String)
        let carlID = try #require(carl.body["id"] as? String)
        let backend = try await server.request(
            "POST", "/scim/v2/Groups", token: token, body: #"{"displayName": "Backend", "members": [{"value": "\#(adaID)"}]}"#)
        let backendID = try #require(backend.body["id"] as? String)
        _ = try await server.request(
            "POST", "/scim/v2/Groups", token: token, body: #"{"displayName": "Engineering", "members": [{"value": "\#(backendID)"}]}"#)
        _ = try await server.request(
            "POST", "/scim/v2/Groups", token: token, body: #"{"displayName": "Contractors", "members": [{"value": "\#(carlID)"}]}"#)
        server.stop()

        let folder = try Folder(["a.yaml": Self.policy])
        // Ada is in Engineering through the nested Backend group.
        let allowed = try PortcullisBinary.run(
            ["policy", "explain", "--data", data.path, "--policies", folder.path, "--user", "ada@example.com", "--to", "10.20.1.10:22/tcp"])
        #expect(allowed.status == 0)
        #expect(allowed.stdout.contains("allowed"))
        #expect(allowed.stdout.contains("rule 'engineers-git' at \(folder.path)/a.yaml:5:5"))
        let denied = try PortcullisBinary.run(
            ["policy", "explain", "--data", data.path, "--policies", folder.path, "--user", "ada@example.com", "--to", "prod-db:5432/tcp"])
        #expect(denied.status == 2)
        #expect(denied.stdout.contains("no rule allows it (default deny)"))

        // Diff against a git revision of the folder.
        try git(["init", "-q"], in: folder.path)
        try git(["add", "."], in: folder.path)
        try git(["-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "policy"], in: folder.path)
        try folder.write(
            "a.yaml",
            Self.policy.replacingOccurrences(of: "groups: [Engineering]\n    allow: [{ to: git }]", with: "groups: [Engineering, Contractors]\n    allow: [{ to: git }]")
                .replacingOccurrences(of: "deny: [{ to: prod-db }]", with: "deny: [{ to: prod-db }, { to: git, ports: [tcp/22] }]"))
        let diff = try PortcullisBinary.run(["policy", "diff", "--data", data.path, "--from", "HEAD", "--to", folder.path, "--json"])
        #expect(diff.status == 0, "\(diff.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(diff.stdout.utf8)) as? [String: Any])
        let users = try #require(json["users"] as? [[String: Any]])
        #expect(users.count == 1)
        #expect(users.first?["userName"] as? String == "carl@example.com")
        #expect(users.first?["gained"] as? [String] == ["10.20.1.10/32 tcp/443"])
        #expect((users.first?["lost"] as? [String])?.isEmpty == true)
    }

    /// `Self.policy` changed for review: Contractors get git but not over SSH, and a new rule gives
    /// the database to Data-Analysts, whose only member is inactive.
    static let reviewedChange = (
        a: policy.replacingOccurrences(
            of: "groups: [Engineering]\n    allow: [{ to: git }]", with: "groups: [Engineering, Contractors]\n    allow: [{ to: git }]"
        )
        .replacingOccurrences(of: "deny: [{ to: prod-db }]", with: "deny: [{ to: prod-db }, { to: git, ports: [tcp/22] }]"),
        b: "rules:\n  - name: analysts-db\n    groups: [Data-Analysts]\n    allow: [{ to: prod-db }]\n"
    )

    /// A data folder whose users the identity provider pushed: ada in Engineering (through Backend),
    /// carl in Contractors, and dee, inactive, alone in Data-Analysts.
    static func directory() async throws -> DataFolder {
        let data = DataFolder()
        let server = try ServerProcess(data: data.path)
        let token = try #require(server.firstToken)
        var ids: [String: String] = [:]
        for (name, active) in [("ada", true), ("carl", true), ("dee", false)] {
            let body = #"{"userName": "\#(name)@example.com", "active": \#(active)}"#
            let user = try await server.request("POST", "/scim/v2/Users", token: token, body: body)
            ids[name] = try #require(user.body["id"] as? String)
        }
        let backend = try await server.request(
            "POST", "/scim/v2/Groups", token: token, body: #"{"displayName": "Backend", "members": [{"value": "\#(ids["ada"] ?? "")"}]}"#)
        let backendID = try #require(backend.body["id"] as? String)
        for (group, member) in [("Engineering", backendID), ("Contractors", ids["carl"] ?? ""), ("Data-Analysts", ids["dee"] ?? "")] {
            let created = try await server.request(
                "POST", "/scim/v2/Groups", token: token, body: #"{"displayName": "\#(group)", "members": [{"value": "\#(member)"}]}"#)
            #expect(created.status == 201)
        }
        #expect(server.stop() == 0)
        return data
    }

    /// A git repository of `Self.policy` with the reviewed change made but not committed.
    func repositoryWithTheChange() throws -> Folder {
        let folder = try Folder(["a.yaml": Self.policy])
        try git(["init", "-q"], in: folder.path)
        try git(["add", "."], in: folder.path)
        try git(["-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "policy"], in: folder.path)
        try folder.write("a.yaml", Self.reviewedChange.a)
        try folder.write("b.yaml", Self.reviewedChange.b)
        return folder
    }

    @Test func diffShowsTheRulesThenTheUsersThenTheGroupsWithoutActiveMembers() async throws {
        let data = try await Self.directory()
        let folder = try repositoryWithTheChange()
        let diff = try PortcullisBinary.run(["policy", "diff", "--data", data.path, "--from", "HEAD", "--to", folder.path])
        #expect(diff.status == 0, "\(diff.stderr)")
        #expect(
            diff.stdout == """
                Rules that change (3)
                  ~ engineers-git  \(folder.path)/a.yaml:5:5 (was HEAD:a.yaml:5:5)
                      groups: + Contractors
                  ~ no-contractors-on-prod  \(folder.path)/a.yaml:8:5 (was HEAD:a.yaml:8:5)
                      deny: + git on tcp/22 (10.20.1.10/32 tcp/22)
                  + analysts-db  \(folder.path)/b.yaml:2:5
                      groups: + Data-Analysts
                      allow: + prod-db (10.30.0.0/24 tcp/5432)
                Users whose access changes (1 of 3)
                  carl@example.com
                    + git on tcp/443 (10.20.1.10/32 tcp/443)
                Groups with no active members, for a member of only that group (1)
                  Data-Analysts (no active members)
                    + prod-db (10.30.0.0/24 tcp/5432)

                """)
    }

    @Test func diffPrintsTheSameAsJSONForCI() async throws {
        let data = try await Self.directory()
        let folder = try repositoryWithTheChange()
        let diff = try PortcullisBinary.run(["policy", "diff", "--data", data.path, "--from", "HEAD", "--to", folder.path, "--json"])
        #expect(diff.status == 0, "\(diff.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(diff.stdout.utf8)) as? [String: Any])
        #expect(json["from"] as? String == "HEAD")
        #expect(json["to"] as? String == folder.path)
        #expect(json["usersCompared"] as? Int == 3)
        let rules = try #require(json["rules"] as? [[String: Any]])
        #expect(rules.map { $0["name"] as? String } == ["engineers-git", "no-contractors-on-prod", "analysts-db"])
        #expect(rules.map { $0["change"] as? String } == ["changed", "changed", "added"])
        #expect(rules.map { $0["from"] as? String } == ["HEAD:a.yaml:5:5", "HEAD:a.yaml:8:5", nil])
        #expect(rules.map { $0["to"] as? String } == ["\(folder.path)/a.yaml:5:5", "\(folder.path)/a.yaml:8:5", "\(folder.path)/b.yaml:2:5"])
        #expect(rules.first?["details"] as? [String] == ["groups: + Contractors"])
        let users = try #require(json["users"] as? [[String: Any]])
        #expect(users.map { $0["userName"] as? String } == ["carl@example.com"])
        #expect(users.first?["gained"] as? [String] == ["10.20.1.10/32 tcp/443"])
        #expect(users.first?["gainedByResource"] as? [String] == ["git on tcp/443 (10.20.1.10/32 tcp/443)"])
        #expect(users.first?["lost"] as? [String] == [])
        let groups = try #require(json["groups"] as? [[String: Any]])
        #expect(groups.map { $0["group"] as? String } == ["Data-Analysts"])
        #expect(groups.first?["known"] as? Bool == true)
        #expect(groups.first?["gained"] as? [String] == ["10.30.0.0/24 tcp/5432"])
    }

    @Test func diffOfTwoFoldersWithoutUsersShowsRulesAndGroups() throws {
        let data = DataFolder()
        let live = try Folder(["a.yaml": Self.policy])
        let checkout = try Folder(["a.yaml": Self.policy, "b.yaml": Self.reviewedChange.b])
        let diff = try PortcullisBinary.run(["policy", "diff", "--data", data.path, "--from", live.path, "--to", checkout.path])
        #expect(diff.status == 0, "\(diff.stderr)")
        #expect(
            diff.stdout == """
                Rules that change (1)
                  + analysts-db  \(checkout.path)/b.yaml:2:5
                      groups: + Data-Analysts
                      allow: + prod-db (10.30.0.0/24 tcp/5432)
                Users whose access changes: none (the data folder has no users)
                Groups with no active members, for a member of only that group (1)
                  Data-Analysts (not pushed by the identity provider yet)
                    + prod-db (10.30.0.0/24 tcp/5432)

                """)
    }

    @Test func diffReadsARevisionOfASubfolderAndSaysWhenTheFolderDidNotExistYet() throws {
        let data = DataFolder()
        let repository = try Folder(["README.md": "policies below\n"])
        try git(["init", "-q"], in: repository.path)
        try git(["add", "."], in: repository.path)
        try git(["-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "readme"], in: repository.path)
        try FileManager.default.createDirectory(atPath: repository.path + "/policies", withIntermediateDirectories: true)
        try repository.write("policies/a.yaml", Self.policy)
        try git(["add", "."], in: repository.path)
        try git(["-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "policy"], in: repository.path)
        try repository.write("policies/a.yaml", Self.reviewedChange.a)

        let policies = repository.path + "/policies"
        let diff = try PortcullisBinary.run(["policy", "diff", "--data", data.path, "--from", "HEAD", "--to", policies])
        #expect(diff.status == 0, "\(diff.stderr)")
        #expect(diff.stdout.contains("~ engineers-git  \(policies)/a.yaml:5:5 (was HEAD:policies/a.yaml:5:5)"))
        let before = try PortcullisBinary.run(["policy", "diff", "--data", data.path, "--from", "HEAD~1", "--to", policies])
        #expect(before.status == 0, "\(before.stderr)")
        #expect(before.stderr == "note: policies/ did not exist at HEAD~1; comparing with an empty policy\n")
        #expect(before.stdout.contains("+ engineers-git  \(policies)/a.yaml:5:5"))
        #expect(before.stdout.contains("+ no-contractors-on-prod  \(policies)/a.yaml:8:5"))
    }

    /// A mistake on the command line of `policy diff`, and the message it gets.
    enum DiffMistake: String, CaseIterable, Sendable {
        case revisionBeforeTheFirstCommit, misspelledFolder, revisionOutsideARepository, missingCheckout
    }

    @Test(arguments: DiffMistake.allCases)
    func diffExplainsAMistakeInPlainWords(_ mistake: DiffMistake) throws {
        let data = DataFolder()
        let repository = try repositoryWithTheChange()
        let plain = try Folder(["a.yaml": Self.policy])
        let (from, to, message): (String, String, String) =
            switch mistake {
            case .revisionBeforeTheFirstCommit:
                ("HEAD~9", repository.path, "error: no git revision 'HEAD~9' in \(repository.path) (the repository has 1 commit)")
            case .misspelledFolder:
                (
                    "./polices", repository.path,
                    "error: './polices' is neither a folder nor a git revision in \(repository.path) (the repository has 1 commit)"
                )
            case .revisionOutsideARepository:
                ("HEAD", plain.path, "error: 'HEAD' is not a folder, and cannot be a git revision either: not a git repository: \(plain.path)")
            case .missingCheckout:
                (
                    plain.path, plain.path + "/missing",
                    "error: '\(plain.path)/missing' is not a folder; give the policy folder after the change (the checkout under review)"
                )
            }
        let diff = try PortcullisBinary.run(["policy", "diff", "--data", data.path, "--from", from, "--to", to])
        #expect(diff.status == 1)
        #expect(diff.stdout.isEmpty)
        #expect(diff.stderr == message + "\n")
        for gitWords in ["fatal:", "--", "show", "rev-parse", "ls-tree", "Usage:"] {
            #expect(!diff.stderr.contains(gitWords), "git's own words or arguments leak: \(gitWords)")
        }
    }

    @Test func theServerSurvivesSIGHUPAndReloadsOnIt() async throws {
        let data = DataFolder()
        let folder = try Folder(["a.yaml": Self.policy])
        let server = try ServerProcess(data: data.path, extraArguments: ["--policies", folder.path])
        let admin = try PortcullisBinary.run(["token", "create", "--data", data.path, "--name", "ops", "--scope", "admin"])
        let adminToken = admin.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let before = try await server.request("GET", "/api/v1/policy", token: adminToken)
        #expect((before.body["inForce"] as? [String: Any])?["version"] as? Int == 1)

        try folder.write("b.yaml", "rules:\n  - name: sales\n    groups: [Sales]\n    allow: [{ to: git }]\n")
        kill(server.process.processIdentifier, SIGHUP)
        var version: Int?
        for _ in 0..<50 {
            let status = try await server.request("GET", "/api/v1/policy", token: adminToken)
            version = (status.body["inForce"] as? [String: Any])?["version"] as? Int
            if version == 2 { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(version == 2)
        #expect(server.process.isRunning)
        #expect(server.stop() == 0)
    }

    private func git(_ arguments: [String], in directory: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["git", "-C", directory] + arguments
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "git \(arguments.joined(separator: " ")) failed")
    }
}
