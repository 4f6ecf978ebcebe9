import Foundation

/// Reads every `*.yaml` (and `*.yml`) file of a policy folder, in name order, into one `PolicySet`.
public enum PolicyLoader {
    /// The result of loading a folder: the policy if there were no errors, and every diagnostic.
    public struct Result: Sendable {
        public let policy: PolicySet?
        public let diagnostics: [PolicyDiagnostic]

        public var errors: [PolicyDiagnostic] { diagnostics.filter { $0.severity == .error } }
        public var warnings: [PolicyDiagnostic] { diagnostics.filter { $0.severity == .warning } }
    }

    /// Loads the folder at `directory`. File locations in diagnostics are `directory/name`.
    public static func load(directory: String) -> Result {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory)
                .filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }
                .filter { !$0.hasPrefix(".") }
                .sorted()
        } catch {
            let location = SourceLocation(file: directory, line: 1, column: 1)
            return Result(policy: nil, diagnostics: [PolicyDiagnostic(.error, at: location, "cannot read the policy folder: \(error.localizedDescription)")])
        }
        var files: [(name: String, contents: String)] = []
        var diagnostics: [PolicyDiagnostic] = []
        for name in names {
            let path = directory.hasSuffix("/") ? directory + name : directory + "/" + name
            guard let data = FileManager.default.contents(atPath: path) else {
                diagnostics.append(PolicyDiagnostic(.error, at: SourceLocation(file: path, line: 1, column: 1), "cannot read the file"))
                continue
            }
            guard let text = String(data: data, encoding: .utf8) else {
                diagnostics.append(PolicyDiagnostic(.error, at: SourceLocation(file: path, line: 1, column: 1), "the file is not UTF-8 text"))
                continue
            }
            files.append((path, text))
        }
        let parsed = parse(files: files)
        return Result(policy: parsed.policy, diagnostics: diagnostics + parsed.diagnostics)
    }

    /// Parses policy files given as (name, contents) pairs.
    public static func parse(files: [(name: String, contents: String)]) -> Result {
        var parser = PolicyParser()
        for file in files {
            parser.parse(file: file.name, contents: file.contents)
        }
        return parser.finish(files: files)
    }
}
