import ArgumentParser
import Audit
import Foundation
import PortcullisServer
import SCIM
import Store

/// `portcullis audit`: the tamper-evident audit log and the access history.
struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Read the audit log and the access history: who could reach what, and when.",
        discussion: "Times are RFC 3339, e.g. 2027-03-01T09:00:00Z or 2027-03-01T09:00:00.250+01:00, or 'now'.",
        subcommands: [Verify.self, Head.self, Log.self, Access.self, Report.self, Prune.self]
    )

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Recompute the audit log's hash chain; name the first record that does not match.",
            discussion: """
                Exits 0 when the chain is intact, 1 when a record was changed, removed or inserted. The chain alone \
                cannot show that the last records were deleted: give --expect-head with a head kept elsewhere \
                (see `portcullis audit head`), and verify also fails when the log no longer reaches that record \
                or the record was replaced. The log may have grown past it.
                """
        )

        @OptionGroup var dataOptions: DataOptions

        @Option(
            name: .customLong("expect-head"),
            help: ArgumentHelp("A head `audit head` printed earlier and kept outside the database.", valueName: "seq:hash"))
        var expectHead: String?

        func validate() throws {
            if let expectHead, AuditHead(expectHead) == nil {
                throw ValidationError(
                    "--expect-head must be SEQ:HASH as `portcullis audit head` prints it (a number, ':', 64 hexadecimal digits), "
                        + "not '\(TerminalText.safe(expectHead))'")
            }
        }

        func run() async throws {
            let store = try openStore(dataOptions)
            let head = expectHead.flatMap(AuditHead.init)
            switch try await store.verifyAudit(expectedHead: head) {
            case .intact(let records, let first, let last):
                let anchor = head.map { "; the anchor \($0.abbreviated) matches" } ?? ""
                if let first, let last {
                    print("audit log intact: \(records) records, \(first) to \(last)\(anchor)")
                } else {
                    print("audit log intact: no records\(anchor)")
                }
            case .broken(let seq, let reason, let checked):
                print("audit log BROKEN at record \(seq): \(reason) (\(checked) records before it verified)")
                throw ExitCode.failure
            case .headPruned(let seq, let chainStart, let checked):
                print(
                    "audit log intact from record \(chainStart) (\(checked) records), but the anchor cannot be checked: "
                        + "retention pruned record \(seq); keep a newer head")
                throw ExitCode.failure
            }
        }
    }

    struct Head: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the audit log's head, SEQ:HASH: the last record's number and hash.",
            discussion: """
                Keep it outside the database (a remote log, write-once storage) every so often, e.g. from cron; \
                `portcullis audit verify --expect-head SEQ:HASH` then shows records deleted from the end of the log, \
                which the chain alone cannot. With no records it prints the last pruned record's, or 0 and 64 zeros.
                """
        )

        @OptionGroup var dataOptions: DataOptions

        func run() async throws {
            print(try await openStore(dataOptions).auditHead())
        }
    }

    struct Log: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List audit records, oldest first.")

        @OptionGroup var dataOptions: DataOptions

        @Option(help: ArgumentHelp("Records at or after this time.", valueName: "time"))
        var since: String?

        @Option(help: ArgumentHelp("Records before this time.", valueName: "time"))
        var until: String?

        @Option(help: "Records about this user (userName or id), including group changes that name them.")
        var user: String?

        @Option(help: ArgumentHelp("One action (e.g. User.patch) or a family ending in '.' (e.g. device.).", valueName: "action"))
        var action: String?

        @Option(help: "Start after this sequence number (paging).")
        var after: Int64 = 0

        @Option(help: "At most this many records (`audit head` prints the last one).")
        var limit = 1000

        @Flag(help: "Print JSON lines (one record per line).")
        var json = false

        func validate() throws {
            guard (1...10_000).contains(limit) else { throw ValidationError("--limit must be from 1 to 10000, not \(limit)") }
        }

        func run() async throws {
            let store = try openStore(dataOptions)
            let userID = try await user.asyncMap { try await resolveUser($0, store: store) }
            let query = AuditQuery(
                since: try since.map(parseTime), until: try until.map(parseWindowEnd), userID: userID, action: action, afterSeq: after, limit: limit)
            let records = try await store.auditRecords(query)
            if json {
                for record in records { print(TerminalText.safeJSON(AuditDocuments.record(record).jsonText)) }
            } else {
                var rows = [["SEQ", "AT", "ACTOR", "ACTION", "TARGET", "DETAILS"]]
                for record in records {
                    rows.append([String(record.seq), SCIMDateTime.format(record.at), record.actor, record.action, record.target, record.details])
                }
                print(Table.render(rows), terminator: "")
            }
            // Without this a script reading the output would take the last record printed for the last one.
            if records.count == limit, let last = records.last { printError("more records follow: --after \(last.seq)") }
        }
    }

    struct Access: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Who could reach a destination at an instant, or what a user could reach over a window.",
            discussion: """
                portcullis audit access --to 10.30.0.5:5432/tcp --at 2027-03-01T09:00:00Z
                portcullis audit access --user ada@example.com --from 2027-03-01T00:00:00Z --until 2027-04-01T00:00:00Z
                Answers come from what the gateway had applied, as the reconciler recorded it.
                """
        )

        @OptionGroup var dataOptions: DataOptions

        @Option(help: ArgumentHelp("The destination: HOST, HOST:PORT/PROTO or HOST:icmp.", valueName: "host[:port/proto]"))
        var to: String?

        @Option(help: ArgumentHelp("The instant for --to (default now).", valueName: "time"))
        var at: String?

        @Option(help: "The user (userName or id) whose access to list.")
        var user: String?

        @Option(help: ArgumentHelp("Start of the window for --user.", valueName: "time"))
        var from: String?

        @Option(help: ArgumentHelp("End of the window for --user (default now).", valueName: "time"))
        var until: String?

        @Option(help: "Output: table, json or csv.")
        var format = "table"

        func validate() throws {
            guard (to == nil) != (user == nil) else { throw ValidationError("give either --to (with --at) or --user (with --from and --until)") }
            if let to, case .failure(let error) = AccessTarget.parse(to) { throw ValidationError("--to: \(error)") }
            if user != nil, from == nil { throw ValidationError("--user needs --from") }
            guard ["table", "json", "csv"].contains(format) else { throw ValidationError("--format must be table, json or csv") }
        }

        func run() async throws {
            let store = try openStore(dataOptions)
            let history = AccessHistory(store: store)
            let rows: [AccessRow]
            if let to, case .success(let target) = AccessTarget.parse(to) {
                rows = try await history.whoCouldReach(target, at: try parseTime(at ?? "now"))
            } else if let user, let from {
                let userID = try await resolveUser(user, store: store)
                rows = try await history.userAccess(userID: userID, from: try parseTime(from), until: try parseWindowEnd(until ?? "now"))
            } else {
                throw ExitCode.validationFailure
            }
            switch format {
            case "json": print(TerminalText.safeJSON(JSON.array(rows.map(AuditDocuments.row)).jsonText))
            case "csv": print(AuditDocuments.csv(rows), terminator: "")
            default:
                var table = [["USER", "DEVICE", "ADDRESS", "RULE", "EFFECT", "FROM", "UNTIL", "DESTINATIONS"]]
                for row in rows {
                    table.append([
                        row.userName, row.deviceID, row.address, row.rule, row.effect, SCIMDateTime.format(row.since),
                        row.until.map(SCIMDateTime.format) ?? "-", row.destinations.joined(separator: " "),
                    ])
                }
                print(Table.render(table), terminator: "")
                if rows.isEmpty { printError("nobody") }
            }
        }
    }

    struct Report: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Joiners, leavers (with the delay until the gateway revoked them), access changes per rule, drift repairs.")

        @OptionGroup var dataOptions: DataOptions

        @Option(help: ArgumentHelp("Start of the window.", valueName: "time"))
        var from: String

        @Option(help: ArgumentHelp("End of the window (default now).", valueName: "time"))
        var until: String = "now"

        @Option(help: "md, csv or json.")
        var format = "md"

        func validate() throws {
            guard ["md", "csv", "json"].contains(format) else { throw ValidationError("--format must be md, csv or json") }
        }

        func run() async throws {
            let store = try openStore(dataOptions)
            let report = try await AuditReport.build(store: store, from: try parseTime(from), until: try parseWindowEnd(until))
            switch format {
            case "json": print(TerminalText.safeJSON(AuditDocuments.report(report).jsonText))
            case "csv": print(AuditDocuments.reportCSV(report), terminator: "")
            default: print(AuditDocuments.reportMarkdown(report), terminator: "")
            }
        }
    }

    struct Prune: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete audit records and closed access intervals older than a retention period.",
            discussion: "The chain stays verifiable: where the kept part starts is recorded. `serve --audit-retention` does this daily."
        )

        @OptionGroup var dataOptions: DataOptions

        @Option(help: ArgumentHelp("Keep this much history, e.g. 400d.", valueName: "duration"))
        var keep: String

        func validate() throws {
            guard DurationText.milliseconds(keep) != nil else { throw ValidationError("--keep must be a duration such as 400d") }
        }

        func run() async throws {
            let store = try openStore(dataOptions)
            guard let keep = DurationText.milliseconds(keep) else { throw ExitCode.validationFailure }
            let cutoff = Int64((Date().timeIntervalSince1970 * 1000).rounded()) - keep
            let deleted = try await store.pruneAudit(before: cutoff)
            print("pruned \(deleted) audit records before \(SCIMDateTime.format(cutoff))")
        }
    }
}

/// An RFC 3339 time, or `now`, in milliseconds since 1970.
func parseTime(_ text: String) throws -> Int64 {
    if text.lowercased() == "now" { return Int64((Date().timeIntervalSince1970 * 1000).rounded()) }
    guard let milliseconds = SCIMDateTime.parse(text) else {
        throw ValidationError("'\(text)' is not a time; write e.g. 2027-03-01T09:00:00Z")
    }
    return milliseconds
}

/// The end of a window, which holds what happened before it: `now` ends after the present
/// millisecond, so that what was recorded in it is in.
func parseWindowEnd(_ text: String) throws -> Int64 {
    let time = try parseTime(text)
    return text.lowercased() == "now" ? time + 1 : time
}

/// The id of a user given by userName or id, deleted users included (through the audit log).
func resolveUser(_ name: String, store: Store) async throws -> String {
    if let entry = try await findUser(name, in: store) { return entry.user.id }
    return try await store.auditedUserID(userName: name) ?? name
}

extension Optional {
    func asyncMap<T>(_ transform: (Wrapped) async throws -> T) async rethrows -> T? {
        guard let self else { return nil }
        return try await transform(self)
    }
}
