import Subprocess
import SystemPackage

/// Runs a system tool (`ip`, `wg`, `nft`) to completion: its output, or an error that quotes its stderr.
enum Command {
    struct Output {
        let status: Int32
        let standardOutput: String
        let standardError: String
    }

    /// Runs `name` with `arguments`, optionally feeding `input` on stdin.
    static func run(_ name: String, _ arguments: [String], input: String? = nil) async throws -> Output {
        let result = try await Subprocess.run(
            .name(name), arguments: Arguments(arguments), input: .string(input ?? ""), output: .string(limit: 64 << 20),
            error: .string(limit: 1 << 20))
        let status: Int32
        switch result.terminationStatus {
        case .exited(let code): status = Int32(code)
        case .signaled(let signal): status = 128 + Int32(signal)
        }
        return Output(status: status, standardOutput: result.standardOutput ?? "", standardError: result.standardError ?? "")
    }

    /// Runs and fails unless the tool exits 0.
    @discardableResult
    static func check(_ name: String, _ arguments: [String], input: String? = nil) async throws -> String {
        let output = try await run(name, arguments, input: input)
        guard output.status == 0 else {
            let detail = output.standardError.isEmpty ? output.standardOutput : output.standardError
            throw WireGuardError("\(name) \(arguments.joined(separator: " ")) failed (\(output.status)): \(detail.trimmingSuffixWhitespace)")
        }
        return output.standardOutput
    }
}

extension String {
    var trimmingSuffixWhitespace: String {
        var text = self
        while let last = text.last, last.isWhitespace { text.removeLast() }
        return text
    }
}
