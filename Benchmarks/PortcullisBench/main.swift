import Foundation

// portcullis-bench: benchmarks that need the project's modules (make bench-policy, make bench-revocation,
// make bench-audit). Figures go to standard output and, with --docs, into docs/benchmarks.md between this
// benchmark's markers. Not a test: nothing here asserts a time.

let usage = """
    usage: portcullis-bench COMMAND [--docs] [options]

    commands:
      policy       compiling 100k users x 1k groups x 500 rules, and one user's recomputation, against a naive evaluator
                   (--users N --groups N --rules N --materialized-users N --naive-users N)
      revocation   revoking users with 10k peers on a wireguard-go interface, against wg syncconf (root)
                   (--peers N --deletions N --binary PATH --syncconf-runs N)
      audit        "who could reach X at T" over a year of access history, against a full scan; the audit record's
                   cost per SCIM write (--users N --intervals N --queries N --broad-queries N --naive-queries N
                   --writes N --tick-minutes N; --breakdown prints where one question's time goes)

    --docs writes the figures into docs/benchmarks.md between <!-- BEGIN bench-COMMAND --> and <!-- END bench-COMMAND -->.

    """

let arguments = Array(CommandLine.arguments.dropFirst())
guard let command = arguments.first, !["-h", "--help", "help"].contains(command) else {
    FileHandle.standardError.write(Data(usage.utf8))
    exit(arguments.isEmpty ? 2 : 0)
}
let options = BenchOptions(Array(arguments.dropFirst()))
switch command {
case "policy":
    await PolicyBenchmark(options: options).run()
case "revocation":
    await RevocationBenchmark(options: options).run()
case "audit":
    await AuditBenchmark(options: options).run()
default:
    FileHandle.standardError.write(Data("unknown benchmark '\(command)'\n\n\(usage)".utf8))
    exit(2)
}
