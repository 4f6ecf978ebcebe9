import ArgumentParser
import Audit
import Foundation
import Policy
import PortcullisServer
import Reconciler
import SCIM
import Store

/// `portcullis policy`: check, test, explain and diff the policy files.
struct PolicyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policy",
        abstract: "Check, test, explain and compare network access policies (policies/*.yaml).",
        subcommands: [Check.self, Test.self, Explain.self, Diff.self]
    )

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Report every error in the policy files as file:line:column, with how to fix it.",
            discussion: "With --data, also warn about groups and users that the rules name but the database does not know (yet)."
        )

        @Argument(help: "The policy folder.")
        var directory: String = "./policies"

        @Option(help: ArgumentHelp("Data folder, to check group and user names against the database.", valueName: "dir"))
        var data: String?

        func run() async throws {
            let result = PolicyLoader.load(directory: directory)
            var diagnostics = result.diagnostics
            if let policy = result.policy, let data {
                diagnostics += try await unknownNames(CompiledPolicy(policy), store: openStore(directory: data))
            }
            for diagnostic in diagnostics { print(diagnostic) }
            guard let policy = result.policy else {
                printError("\(result.errors.count) error(s) in \(directory)")
                throw ExitCode.failure
            }
            let fileCount = policy.files.count
            print("\(directory): \(fileCount) file(s), \(policy.resources.count) resources, \(policy.rules.count) rules, \(policy.tests.count) tests: no errors")
        }

        /// Warnings for rule selectors naming groups or users the store does not have.
        private func unknownNames(_ policy: CompiledPolicy, store: Store) async throws -> [PolicyDiagnostic] {
            let directory = try await store.directory()
            let groupNames = Set(try await store.groupNames().map { $0.lowercased() })
            let userNames = Set(directory.compactMap { $0.user.attributes["userName"]?.stringValue?.lowercased() })
            var warnings: [PolicyDiagnostic] = []
            for rule in policy.policy.rules {
                for group in rule.selectors.groups where !groupNames.contains(group.lowercased()) {
                    warnings.append(
                        PolicyDiagnostic(
                            .warning, at: rule.location, "rule '\(rule.name)' names group '\(group)', which the identity provider has not pushed (yet)"))
                }
                for user in rule.selectors.users where !userNames.contains(user.lowercased()) {
                    warnings.append(PolicyDiagnostic(.warning, at: rule.location, "rule '\(rule.name)' names user '\(user)', who is not in the database"))
                }
            }
            return warnings
        }
    }

    struct Test: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run every test in the policy files; exit non-zero if one fails.")

        @Argument(help: "The policy folder.")
        var directory: String = "./policies"

        func run() throws {
            let policy = try loadOrFail(directory)
            let outcomes = PolicyTestRunner.run(policy, at: nowMilliseconds())
            for outcome in outcomes {
                print("\(outcome.passed ? "✔" : "✘") \(outcome.test.name)  (\(outcome.test.location))")
                for failure in outcome.failures { print("    \(failure)") }
            }
            let failed = outcomes.filter { !$0.passed }.count
            print("\(outcomes.count) test(s), \(failed) failed")
            if failed > 0 { throw ExitCode.failure }
        }
    }

    struct Explain: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Say whether a user may reach a destination, and which rules (file:line) decided it.",
            discussion: "Example: portcullis policy explain --data ./data --user ada@example.com --to 10.30.0.5:5432/tcp"
        )

        @OptionGroup var dataOptions: DataOptions

        @Option(help: ArgumentHelp("The policy folder.", valueName: "dir"))
        var policies: String = "./policies"

        @Option(help: "The user's userName.")
        var user: String

        @Option(help: ArgumentHelp("HOST:PORT/PROTO, HOST:PROTO/PORT or HOST:icmp; HOST is an address or a resource name.", valueName: "destination"))
        var to: String

        @Option(help: ArgumentHelp("The instant to decide at (default: now), e.g. 2027-01-31T00:00:00Z.", valueName: "time"))
        var at: String?

        func run() async throws {
            let policy = try loadOrFail(policies)
            let probe = try ExplainTarget(to, resources: policy.policy.resources)
            let now = try at.map(parseInstant) ?? nowMilliseconds()
            let store = try openStore(dataOptions)
            guard let entry = try await store.directory().first(where: { $0.user.attributes["userName"]?.stringValue?.lowercased() == user.lowercased() })
            else {
                printError("error: no user '\(TerminalText.safe(user))' in \(dataOptions.data)")
                throw ExitCode.failure
            }
            let subject = PolicySubject(user: entry.user, groupNames: entry.groupNames)
            var allAllowed = true
            for address in probe.addresses {
                let decision = PolicyExplainer.explain(
                    policy, subject: subject, address: address, networkProtocol: probe.networkProtocol, port: probe.port, at: now)
                allAllowed = allAllowed && decision.allowed
                // The name and the reason (which may repeat it) come from the identity provider: terminal-safe, line by line.
                let lines = "\(subject.userName) → \(address.description.split(separator: "/")[0]) \(probe.portText): \(decision)"
                for line in lines.split(separator: "\n", omittingEmptySubsequences: false) { print(TerminalText.safe(String(line))) }
            }
            if !allAllowed { throw ExitCode(2) }
        }
    }

    struct Diff: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show the rules that change, and the access each user and each group without active members gains and loses.",
            discussion: """
                Review a change before it reaches the folder the server watches: compare that folder with \
                the checkout under review, e.g. \
                portcullis policy diff --data ./data --from ./policies --to /tmp/policies-review. \
                --from may instead be a git revision of the --to folder: \
                portcullis policy diff --data ./data --from HEAD --to ./policies
                """
        )

        @OptionGroup var dataOptions: DataOptions

        @Option(help: ArgumentHelp("The policy folder before the change, or a git revision of --to.", valueName: "dir-or-revision"))
        var from: String

        @Option(help: ArgumentHelp("The policy folder after the change: the checkout under review.", valueName: "dir"))
        var to: String

        @Flag(help: "Print JSON for CI instead of text.")
        var json = false

        func run() async throws {
            guard PolicySource.isFolder(to) else {
                printError("error: '\(to)' is not a folder; give the policy folder after the change (the checkout under review)")
                throw ExitCode.failure
            }
            let old = try loadOld()
            let new = try loadOrFail(to)
            let store = try openStore(dataOptions)
            let subjects = try await store.directory().map { PolicySubject(user: $0.user, groupNames: $0.groupNames) }
            let report = PolicyDiffReport(from: old, to: new, subjects: subjects, knownGroups: try await store.groupNames(), at: nowMilliseconds())
            if json {
                print(TerminalText.safeJSON(report.json(from: from, to: to)))
            } else {
                for line in report.text.split(separator: "\n", omittingEmptySubsequences: false) { print(TerminalText.safe(String(line))) }
            }
        }

        /// The policy before the change, from a folder or a git revision; every problem in plain words.
        private func loadOld() throws -> CompiledPolicy {
            let loaded: (result: PolicyLoader.Result, note: String?)
            do {
                loaded = try PolicySource.load(from, revisionOf: to)
            } catch {
                printError("error: \(error)")
                throw ExitCode.failure
            }
            if let note = loaded.note { printError(note) }
            guard let policy = loaded.result.policy else {
                for diagnostic in loaded.result.diagnostics { printError(diagnostic.description) }
                printError("\(loaded.result.errors.count) error(s) in \(from), the policy before the change")
                throw ExitCode.failure
            }
            return CompiledPolicy(policy)
        }
    }
}

/// Loads and compiles a policy folder, or prints every error and fails.
func loadOrFail(_ directory: String) throws -> CompiledPolicy {
    let result = PolicyLoader.load(directory: directory)
    guard let policy = result.policy else {
        for diagnostic in result.diagnostics { printError(diagnostic.description) }
        printError("\(result.errors.count) error(s) in \(directory); fix them first (portcullis policy check \(directory))")
        throw ExitCode.failure
    }
    return CompiledPolicy(policy)
}

func nowMilliseconds() -> Int64 {
    Int64((Date().timeIntervalSince1970 * 1000).rounded(.down))
}

func parseInstant(_ text: String) throws -> Int64 {
    guard let date = ISO8601DateFormatter().date(from: text) else {
        throw ValidationError("'\(text)' is not a time; write e.g. 2027-01-31T00:00:00Z")
    }
    return Int64((date.timeIntervalSince1970 * 1000).rounded())
}

/// The destination of `policy explain --to`.
struct ExplainTarget {
    let addresses: [IPPrefix]
    let networkProtocol: NetworkProtocol
    let port: UInt16?
    let portText: String

    init(_ text: String, resources: [String: NetworkResource]) throws {
        let hostText: Substring
        let rest: Substring
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            hostText = text[text.index(after: text.startIndex)..<close]
            rest = text[text.index(after: close)...].drop { $0 == ":" }
        } else if let colon = text.firstIndex(of: ":"), text.filter({ $0 == ":" }).count == 1 {
            hostText = text[..<colon]
            rest = text[text.index(after: colon)...]
        } else {
            throw ValidationError("--to must be HOST:PORT/PROTO (e.g. 10.30.0.5:5432/tcp or [2001:db8::1]:443/tcp), not '\(text)'")
        }
        if let resource = resources[String(hostText)] {
            addresses = resource.hosts.map { IPPrefix(family: $0.family, address: $0.address, length: $0.family.bitCount) }
        } else if let address = try? IPPrefix.parse(String(hostText)), address.length == address.family.bitCount {
            addresses = [address]
        } else {
            throw ValidationError("'\(hostText)' is neither an IP address nor a resource the policies define")
        }
        let pieces = rest.lowercased().split(separator: "/")
        switch pieces.count {
        case 1 where pieces[0] == "icmp":
            (networkProtocol, port) = (.icmp, nil)
        case 2:
            let (protoText, portValue) = UInt16(pieces[0]) != nil ? (pieces[1], pieces[0]) : (pieces[0], pieces[1])
            guard let proto = NetworkProtocol(rawValue: String(protoText)), proto.hasPorts, let number = UInt16(portValue) else {
                throw ValidationError("'\(rest)' is not PORT/PROTO, e.g. 443/tcp or 53/udp")
            }
            (networkProtocol, port) = (proto, number)
        default:
            throw ValidationError("'\(rest)' is not PORT/PROTO, e.g. 443/tcp, 53/udp or icmp")
        }
        if let port {
            portText = "\(port)/\(networkProtocol.rawValue)"
        } else {
            portText = networkProtocol.rawValue
        }
    }
}
