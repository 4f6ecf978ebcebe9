import Foundation
import Testing
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The audit log and access history, run as an auditor would: a scripted history through the real
/// HTTP API of `portcullis serve --dry-run` (provisioning, group changes, a policy reload, a deny, a
/// deactivation), then `portcullis audit access` asked at instants one second before and after each
/// change, and `audit verify` after the database was edited behind the server's back.
@Suite(.serialized)
struct AuditEndToEndTests {
    static let policy = """
        resources:
          git: { hosts: [10.20.1.10/32], ports: [tcp/22] }
          prod-db: { hosts: [10.30.0.0/24], ports: [tcp/5432] }
        rules:
          - name: engineers-git
            groups: [Engineering]
            allow: [{ to: git }]
          - name: sre-db
            groups: [SRE]
            allow: [{ to: prod-db }]
          - name: no-contractors-on-prod
            groups: [Contractors]
            deny: [{ to: prod-db }]
        """

    static let reloadedPolicy = policy + """

          - name: engineers-intranet
            groups: [Engineering]
            allow: [{ to: 10.40.0.0/16, ports: [tcp/443] }]
        """

    /// When a step of the script ran: just before its request, and once its effect was in force.
    struct Step {
        let before: Int64
        let after: Int64
    }

    /// A scripted history: each step with its times, and the ids it made.
    final class History {
        let data = DataFolder()
        let policies: PolicyEndToEndTests.Folder
        let server: ServerProcess
        let scimToken: String
        let adminToken: String
        var steps: [String: Step] = [:]
        var ids: [String: String] = [:]

        init() throws {
            policies = try PolicyEndToEndTests.Folder(["access.yaml": AuditEndToEndTests.policy])
            server = try ServerProcess(data: data.path, extraArguments: ["--policies", policies.path])
            scimToken = try #require(server.firstToken)
            let created = try PortcullisBinary.run(["token", "create", "--data", data.path, "--name", "auditor", "--scope", "admin"])
            guard created.status == 0 else { throw ServerProcess.StartFailure(description: "token create: \(created.stderr)") }
            adminToken = created.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        }

        /// Runs one step, waits until its effect is in force, then lets more than a second pass so the
        /// instants one second either side of it are unambiguous.
        func step(_ name: String, _ body: () async throws -> Void) async throws {
            let before = AuditEndToEndTests.now()
            try await body()
            steps[name] = Step(before: before, after: AuditEndToEndTests.now())
            try await Task.sleep(for: .milliseconds(1300))
        }

        func scim(_ method: String, _ path: String, _ body: String) async throws -> [String: Any] {
            let response = try await server.request(method, "/scim/v2" + path, token: scimToken, body: body)
            #expect((200..<300).contains(response.status), "\(method) \(path): \(response.status) \(response.body)")
            return response.body
        }

        func addDevice(user: String) async throws {
            let response = try await server.request("POST", "/api/v1/users/\(user)/devices", token: adminToken, body: #"{"name": "laptop"}"#)
            #expect(response.status == 201, "\(response.body)")
        }

        func group(_ name: String, members: [String]) -> String {
            let list = members.map { #"{"value": "\#($0)"}"# }.joined(separator: ", ")
            return #"{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "\#(name)", "members": [\#(list)]}"#
        }

        func user(_ name: String) -> String {
            #"{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "\#(name)", "active": true}"#
        }

        /// `portcullis audit access --to TARGET --at T`: the userName and rule of every row.
        func whoCouldReach(_ target: String, at: Int64) throws -> [String] {
            try rows(["--to", target, "--at", AuditEndToEndTests.format(at)]).map { "\($0["userName"] ?? "") via \($0["rule"] ?? "")" }
        }

        func rows(_ arguments: [String]) throws -> [[String: Any]] {
            let result = try PortcullisBinary.run(["audit", "access", "--data", data.path, "--format", "json"] + arguments)
            #expect(result.status == 0, "\(arguments): \(result.stderr)")
            return try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String: Any]], "\(result.stdout)")
        }

        /// How many rules the policy in force has, from the admin API.
        func policyRules() async throws -> Int? {
            let status = try await server.request("GET", "/api/v1/policy", token: adminToken)
            return (status.body["inForce"] as? [String: Any])?["rules"] as? Int
        }
    }

    @Test func accessAnswersAtEveryInstantOfAScriptedHistory() async throws {
        let history = try History()
        let start = Self.now()

        try await history.step("provision") {
            for name in ["ada", "bob"] {
                let user = try await history.scim("POST", "/Users", history.user(name))
                history.ids[name] = try #require(user["id"] as? String)
                try await history.addDevice(user: history.ids[name]!)
            }
        }
        let ada = try #require(history.ids["ada"])
        let bob = try #require(history.ids["bob"])
        try await history.step("engineering") {
            _ = try await history.scim("POST", "/Groups", history.group("Engineering", members: [ada]))
        }
        try await history.step("sre") {
            let group = try await history.scim("POST", "/Groups", history.group("SRE", members: [ada, bob]))
            history.ids["SRE"] = try #require(group["id"] as? String)
        }
        try await history.step("reload") {
            try history.policies.write("access.yaml", Self.reloadedPolicy)
            kill(history.server.process.processIdentifier, SIGHUP)
            let deadline = Date().addingTimeInterval(10)
            while try await history.policyRules() != 4, Date() < deadline { try await Task.sleep(for: .milliseconds(20)) }
            #expect(try await history.policyRules() == 4, "the reloaded policy is in force")
            // The reconciler applies new access within a second of the reload.
            while try history.whoCouldReach("10.40.0.5:443/tcp", at: Self.now()).isEmpty, Date() < deadline {
                try await Task.sleep(for: .milliseconds(50))
            }
        }
        try await history.step("deny") {
            _ = try await history.scim("POST", "/Groups", history.group("Contractors", members: [bob]))
        }
        try await history.step("deactivate") {
            _ = try await history.scim(
                "PATCH", "/Users/\(ada)",
                #"{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "replace", "value": {"active": false}}]}"#)
        }
        let steps = history.steps
        func before(_ step: String) -> Int64 { steps[step]!.before - 1000 }
        func after(_ step: String) -> Int64 { steps[step]!.after + 1000 }

        // SSH to git: Engineering from its creation until ada's deactivation.
        let git = "10.20.1.10:22/tcp"
        #expect(try history.whoCouldReach(git, at: before("engineering")) == [])
        #expect(try history.whoCouldReach(git, at: after("engineering")) == ["ada via engineers-git"])
        #expect(try history.whoCouldReach(git, at: before("deactivate")) == ["ada via engineers-git"])
        #expect(try history.whoCouldReach(git, at: after("deactivate")) == [])
        #expect(try history.whoCouldReach("10.20.1.10:443/tcp", at: after("engineering")) == [], "only the ports the rule allows")

        // The database: SRE, until the deny took bob out and the deactivation took ada.
        let database = "10.30.0.7:5432/tcp"
        #expect(try history.whoCouldReach(database, at: before("sre")) == [])
        #expect(try history.whoCouldReach(database, at: after("sre")) == ["ada via sre-db", "bob via sre-db"])
        #expect(try history.whoCouldReach(database, at: before("deny")) == ["ada via sre-db", "bob via sre-db"])
        #expect(try history.whoCouldReach(database, at: after("deny")) == ["ada via sre-db"], "the deny beats bob's allow")
        #expect(try history.whoCouldReach(database, at: before("deactivate")) == ["ada via sre-db"])
        #expect(try history.whoCouldReach(database, at: after("deactivate")) == [])

        // The intranet: only from the policy reload on.
        let intranet = "10.40.0.5:443/tcp"
        #expect(try history.whoCouldReach(intranet, at: before("reload")) == [])
        #expect(try history.whoCouldReach(intranet, at: after("reload")) == ["ada via engineers-intranet"])
        #expect(try history.whoCouldReach(intranet, at: after("deactivate")) == [])

        // Ada's whole window, interval by interval, each opened and closed within its step.
        let intervals = try history.rows(["--user", "ada", "--from", Self.format(start), "--until", Self.format(Self.now())])
        #expect(intervals.compactMap { $0["rule"] as? String }.sorted() == ["engineers-git", "engineers-intranet", "sre-db"])
        for interval in intervals {
            let rule = interval["rule"] as? String ?? ""
            let opened = try #require((interval["from"] as? String).flatMap(Self.parse), "\(interval)")
            let closed = try #require((interval["until"] as? String).flatMap(Self.parse), "closed: \(interval)")
            let openedBy = ["engineers-git": "engineering", "sre-db": "sre", "engineers-intranet": "reload"][rule] ?? ""
            #expect((steps[openedBy]!.before...steps[openedBy]!.after).contains(opened), "\(rule) opened during \(openedBy)")
            #expect((steps["deactivate"]!.before...steps["deactivate"]!.after).contains(closed), "\(rule) closed by the deactivation")
        }
        #expect(Set(intervals.compactMap { $0["address"] as? String }).count == 1, "ada's one device, by its tunnel address")

        // The same answer from the admin API, in JSON and CSV.
        let at = Self.format(after("sre"))
        let api = try await history.server.request("GET", "/api/v1/audit/access?to=\(database)&at=\(at)", token: history.adminToken)
        #expect(api.status == 200)
        let apiRows = try #require(api.body["access"] as? [[String: Any]])
        #expect(apiRows.map { "\($0["userName"] ?? "") via \($0["rule"] ?? "")" } == ["ada via sre-db", "bob via sre-db"])
        let csv = try await Self.text(history.server.baseURL + "/api/v1/audit/access?to=\(database)&at=\(at)&format=csv", token: history.adminToken)
        let lines = csv.split(whereSeparator: \.isNewline)
        #expect(lines.first == "userName,userId,deviceId,address,rule,effect,destinations,from,until")
        #expect(lines.dropFirst().map { String($0.prefix(while: { $0 != "," })) } == ["ada", "bob"])

        // The report: ada left, and the gateway revoked her within milliseconds of the request.
        let report = try PortcullisBinary.run(["audit", "report", "--data", history.data.path, "--from", Self.format(start), "--format", "json"])
        #expect(report.status == 0, "\(report.stderr)")
        let document = try #require(try JSONSerialization.jsonObject(with: Data(report.stdout.utf8)) as? [String: Any])
        let joiners = (document["joiners"] as? [[String: Any]] ?? []).compactMap { $0["userName"] as? String }
        #expect(joiners.sorted() == ["ada", "bob"])
        let leavers = document["leavers"] as? [[String: Any]] ?? []
        let leaver = try #require(leavers.first { $0["userName"] as? String == "ada" }, "\(leavers)")
        #expect(leaver["hadAccess"] as? Bool == true)
        let delay = try #require(leaver["delayMilliseconds"] as? Int, "\(leaver)")
        #expect((0..<1000).contains(delay), "revoked \(delay) ms after the request")
        print("audit: ada's deactivation reached the gateway \(delay) ms after the request")
        #expect(history.server.stop() == 0)
    }

    @Test func verifyNamesTheRecordEditedBehindTheServersBack() async throws {
        let history = try History()
        let user = try await history.scim("POST", "/Users", history.user("ada"))
        let ada = try #require(user["id"] as? String)
        _ = try await history.scim("POST", "/Groups", history.group("Engineering", members: [ada]))
        _ = try await history.scim(
            "PATCH", "/Users/\(ada)",
            #"{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "replace", "path": "active", "value": false}]}"#)

        let intact = try PortcullisBinary.run(["audit", "verify", "--data", history.data.path])
        #expect(intact.status == 0, "\(intact.stdout)\(intact.stderr)")
        #expect(intact.stdout.hasPrefix("audit log intact: "))

        // The deactivation's record, as `audit log` lists it.
        let log = try PortcullisBinary.run(["audit", "log", "--data", history.data.path, "--action", "User.patch", "--json"])
        let firstLine = String(log.stdout.split(separator: "\n").first ?? "")
        let record = try #require(try JSONSerialization.jsonObject(with: Data(firstLine.utf8)) as? [String: Any], "\(log.stdout)")
        let seq = try #require(record["seq"] as? Int)

        // A plain edit is refused by the store's trigger...
        let database = history.data.path + "/portcullis.db"
        let refused = try Self.sqlite(database, "UPDATE audit_log SET actor = 'token:nobody' WHERE seq = \(seq);")
        #expect(refused.status != 0)
        #expect(refused.output.contains("append-only"), "\(refused.output)")
        #expect(try PortcullisBinary.run(["audit", "verify", "--data", history.data.path]).status == 0)

        // ...so someone with the file drops it, and makes the deactivation look like it never happened.
        let edited = try Self.sqlite(
            database, "DROP TRIGGER audit_log_no_update; UPDATE audit_log SET details = replace(details, 'false', 'true') WHERE seq = \(seq);")
        #expect(edited.status == 0, "\(edited.output)")
        let broken = try PortcullisBinary.run(["audit", "verify", "--data", history.data.path])
        #expect(broken.status == 1)
        #expect(broken.stdout.contains("BROKEN at record \(seq):"), "\(broken.stdout)")
        #expect(broken.stdout.contains("\(seq - 1) records before it verified"), "\(broken.stdout)")
        #expect(history.server.stop() == 0)
    }

    /// Deleting the last records (with the guard dropped) leaves a chain that verifies, since nothing
    /// after them links to them: only a head kept elsewhere (`audit head`) shows they are gone, or
    /// that the end was replaced by records written afterwards.
    @Test func aKeptHeadCatchesADeletedTailThatPlainVerifyCannotSee() async throws {
        let history = try History()
        for name in ["ada", "bob", "carol"] { _ = try await history.scim("POST", "/Users", history.user(name)) }
        #expect(history.server.stop() == 0)
        let data = history.data.path

        let head = try PortcullisBinary.run(["audit", "head", "--data", data])
        #expect(head.status == 0, "\(head.stderr)")
        let anchor = head.stdout.trimmingCharacters(in: .newlines)
        #expect(head.stdout == anchor + "\n", "one line")
        #expect(anchor.wholeMatch(of: /[0-9]+:[0-9a-f]{64}/) != nil, "\(head.stdout)")
        let seq = try #require(Int(anchor.prefix { $0 != ":" }))
        let hash = String(anchor.drop { $0 != ":" }.dropFirst())
        let log = try PortcullisBinary.run(["audit", "log", "--data", data, "--after", String(seq - 1), "--json"])
        let last = try #require(try JSONSerialization.jsonObject(with: Data(log.stdout.utf8)) as? [String: Any], "\(log.stdout)")
        #expect(last["seq"] as? Int == seq)
        #expect(last["hash"] as? String == hash, "the head is the last record")

        // `audit log` says when there is more than it printed, in JSON too.
        let page = try PortcullisBinary.run(["audit", "log", "--data", data, "--limit", "2", "--json"])
        #expect(page.stdout.split(separator: "\n").count == 2)
        #expect(page.stderr.contains("more records follow: --after 2"), "\(page.stderr)")

        let matching = try PortcullisBinary.run(["audit", "verify", "--data", data, "--expect-head", anchor])
        #expect(matching.status == 0, "\(matching.stdout)\(matching.stderr)")
        #expect(matching.stdout.contains("the anchor \(seq):\(hash.prefix(16))… matches"), "\(matching.stdout)")

        // Someone with the file drops the guard and deletes the last two records.
        let deleted = try Self.sqlite(data + "/portcullis.db", "DROP TRIGGER audit_log_no_delete; DELETE FROM audit_log WHERE seq >= \(seq - 1);")
        #expect(deleted.status == 0, "\(deleted.output)")
        let plain = try PortcullisBinary.run(["audit", "verify", "--data", data])
        #expect(plain.status == 0, "without an anchor the shortened chain verifies (docs/audit.md says so): \(plain.stdout)")
        let anchored = try PortcullisBinary.run(["audit", "verify", "--data", data, "--expect-head", anchor])
        #expect(anchored.status == 1, "\(anchored.stdout)\(anchored.stderr)")
        let missing = "records \(seq - 1)-\(seq) are missing: the log ends at \(seq - 2), the anchor expects \(seq):\(hash.prefix(16))"
        #expect(anchored.stdout.contains(missing), "\(anchored.stdout)")

        // New records written over the gap (here by the CLI) make the chain reach the anchor's
        // number again, with other contents: the head's hash tells.
        for name in ["x", "y"] { #expect(try PortcullisBinary.run(["token", "create", "--data", data, "--name", name]).status == 0) }
        #expect(try PortcullisBinary.run(["audit", "verify", "--data", data]).status == 0)
        let replaced = try PortcullisBinary.run(["audit", "verify", "--data", data, "--expect-head", anchor])
        #expect(replaced.status == 1)
        #expect(replaced.stdout.contains("BROKEN at record \(seq):"), "\(replaced.stdout)")
        #expect(replaced.stdout.contains("the anchor expects \(seq):\(hash.prefix(16))"), "\(replaced.stdout)")

        for bad in ["12", "x:" + hash, "12:abc", "12:" + hash.dropLast(), "12:" + String(repeating: "g", count: 64), "12:\(hash):1"] {
            let usage = try PortcullisBinary.run(["audit", "verify", "--data", data, "--expect-head", bad])
            #expect(usage.status == 64 || usage.status == 2, "\(bad)")
            #expect(usage.stderr.contains("--expect-head must be SEQ:HASH"), "\(bad): \(usage.stderr)")
        }
    }

    /// Names from the identity provider reach spreadsheets, Markdown and terminals as text: a formula
    /// does not run, a link does not render, an escape sequence does not reach the terminal.
    @Test func hostileNamesAreShownAsTextInEveryOutput() async throws {
        let history = try History()
        let start = Self.now()
        let names = ["=cmd|' /C calc'!A0", "[login](http://evil) | *", "\u{1b}[31mred\u{1b}[0m"]
        var ids: [String] = []
        for name in names {
            let body = try JSONSerialization.data(withJSONObject: [
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name, "displayName": name, "active": true,
            ])
            let user = try await history.scim("POST", "/Users", String(decoding: body, as: UTF8.self))
            let id = try #require(user["id"] as? String)
            ids.append(id)
            try await history.addDevice(user: id)
        }
        _ = try await history.scim("POST", "/Groups", history.group("Engineering", members: ids))
        let git = "10.20.1.10:22/tcp"
        let deadline = Date().addingTimeInterval(10)
        while try history.whoCouldReach(git, at: Self.now()).count < 3, Date() < deadline { try await Task.sleep(for: .milliseconds(50)) }
        #expect(try history.whoCouldReach(git, at: Self.now()).count == 3)
        let escape = "\u{1b}"

        // CSV: the report's and the API's.
        let reportCSV = try PortcullisBinary.run(["audit", "report", "--data", history.data.path, "--from", Self.format(start), "--format", "csv"])
        #expect(reportCSV.status == 0, "\(reportCSV.stderr)")
        let apiCSV = try await Self.text(
            history.server.baseURL + "/api/v1/audit/access?to=\(git)&at=\(Self.format(Self.now()))&format=csv", token: history.adminToken)
        for csv in [reportCSV.stdout, apiCSV] {
            #expect(csv.contains("'=cmd|' /C calc'!A0"), "\(csv)")
            let cells = csv.split(whereSeparator: \.isNewline).flatMap { $0.split(separator: ",") }
            #expect(!cells.contains { $0.hasPrefix("=") || $0.hasPrefix("\"=") }, "no cell starts a formula: \(csv)")
            #expect(!csv.contains(escape), "\(csv)")
            #expect(csv.contains(#"\u{1B}[31mred\u{1B}[0m"#), "\(csv)")
        }

        // Markdown: the link is text, the pipe stays in its cell.
        let markdown = try PortcullisBinary.run(["audit", "report", "--data", history.data.path, "--from", Self.format(start), "--format", "md"])
        #expect(markdown.status == 0, "\(markdown.stderr)")
        #expect(!markdown.stdout.contains("[login](http://evil)"), "\(markdown.stdout)")
        #expect(markdown.stdout.contains(#"\[login\](http://evil) \| \*"#), "\(markdown.stdout)")
        #expect(!markdown.stdout.contains(escape), "\(markdown.stdout)")
        let joiners = markdown.stdout.split(separator: "\n").drop { !$0.hasPrefix("## Joiners") }.dropFirst().prefix { !$0.hasPrefix("## ") }
        let tableRows = joiners.filter { $0.hasPrefix("|") }
        #expect(tableRows.count == 5, "header, rule and three joiners: \(joiners)")
        let columns = { (row: Substring) in row.replacingOccurrences(of: #"\|"#, with: "").filter { $0 == "|" }.count }
        #expect(tableRows.allSatisfy { columns($0) == 4 }, "three columns in every row: \(tableRows)")

        // Terminal tables and lines.
        let outputs = [
            try PortcullisBinary.run(["audit", "access", "--data", history.data.path, "--to", git]),
            try PortcullisBinary.run(["device", "list", "--data", history.data.path]),
            try PortcullisBinary.run([
                "policy", "explain", "--data", history.data.path, "--policies", history.policies.path, "--user", names[2], "--to", git,
            ]),
            // The details are JSON, which writes the escape as \u001b; the table must not undo that.
            try PortcullisBinary.run(["audit", "log", "--data", history.data.path, "--action", "User.create"]),
        ]
        for (index, output) in outputs.enumerated() {
            #expect(!output.stdout.contains(escape) && !output.stderr.contains(escape), "\(output.stdout)\(output.stderr)")
            let shown = index == outputs.count - 1 ? #"\u001b[31mred"# : #"\u{1B}[31mred"#
            #expect(output.stdout.contains(shown), "\(output.stdout)")
        }
        #expect(history.server.stop() == 0)
    }

    // MARK: Helpers

    static func now() -> Int64 { Int64((Date().timeIntervalSince1970 * 1000).rounded(.down)) }

    static func format(_ milliseconds: Int64) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: Date(timeIntervalSince1970: Double(milliseconds) / 1000))
    }

    static func parse(_ text: String) -> Int64? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.date(from: text).map { Int64(($0.timeIntervalSince1970 * 1000).rounded()) }
    }

    static func text(_ url: String, token: String) async throws -> String {
        var request = URLRequest(url: try #require(URL(string: url)))
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        let (data, _) = try await URLSession.shared.data(for: request)
        return String(decoding: data, as: UTF8.self)
    }

    /// The sqlite3 command-line shell on the database file, as someone with access to it would run it.
    static func sqlite(_ database: String, _ sql: String) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["sqlite3", "-cmd", ".timeout 5000", database, sql]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: output, as: UTF8.self))
    }
}
