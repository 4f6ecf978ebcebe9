import Foundation
import Policy

/// A policy folder named on the command line, or a git revision of one (`policy diff --from HEAD`).
/// Files read from git are named `REVISION:path/in/repository.yaml`, so a location such as
/// `HEAD:policies/sre.yaml:8:5` says where the old rule was and `git show` opens it.
enum PolicySource {
    /// A reason the source cannot be read, in words an administrator acts on; never git's own output.
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// The policy files of `source`, as loaded (with their diagnostics).
    /// - Parameters:
    ///   - source: a folder, or a git revision of `folder`.
    ///   - folder: the folder whose history a revision refers to.
    /// - Returns: the loaded files, and a note for the reader if the folder did not exist at that revision.
    static func load(_ source: String, revisionOf folder: String) throws(Failure) -> (result: PolicyLoader.Result, note: String?) {
        if isFolder(source) {
            return (PolicyLoader.load(directory: source), nil)
        }
        let isFile = FileManager.default.fileExists(atPath: source)
        let repository: GitRepository
        do {
            repository = try GitRepository(containing: folder, asked: source)
        } catch {
            throw isFile ? Failure(description: "'\(source)' is a file, not a policy folder") : error
        }
        // A leading '-' would reach git as an option.
        guard !source.hasPrefix("-"), let commit = repository.commit(source) else {
            let history = repository.historyText
            if isFile || looksLikeAPath(source) || !looksLikeARevision(source) {
                throw Failure(description: "'\(source)' is neither a folder nor a git revision in \(repository.topLevel) (\(history))")
            }
            throw Failure(description: "no git revision '\(source)' in \(repository.topLevel) (\(history))")
        }
        let files = try repository.policyFiles(at: commit, revisionText: source)
        let note = files == nil ? "note: \(repository.folderText) did not exist at \(source); comparing with an empty policy" : nil
        return (PolicyLoader.parse(files: files ?? []), note)
    }

    static func isFolder(_ path: String) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
    }

    /// `./policies`, `/srv/policies`, `~/policies`: meant as a folder, however git would read it.
    private static func looksLikeAPath(_ text: String) -> Bool {
        text.hasPrefix(".") || text.hasPrefix("/") || text.hasPrefix("~")
    }

    /// `HEAD~2`, `main^`, `@{1}`: only a revision has these.
    private static func looksLikeARevision(_ text: String) -> Bool {
        text.contains("~") || text.contains("^") || text.contains("@") || text == "HEAD"
    }
}

/// The git repository that holds a policy folder, read through the `git` command.
private struct GitRepository {
    /// The repository's top folder.
    let topLevel: String
    /// The policy folder's path inside the repository, with a trailing '/', or "" for the top.
    let prefix: String

    /// The repository holding `folder`, for reading `asked` (the revision, for messages).
    init(containing folder: String, asked: String) throws(PolicySource.Failure) {
        let absolute = URL(fileURLWithPath: folder).standardizedFileURL.path
        let output: GitOutput
        do {
            output = try Self.git(["rev-parse", "--show-toplevel", "--show-prefix"], in: absolute)
        } catch {
            throw PolicySource.Failure(description: "'\(asked)' is not a folder, and git, which would read it as a revision, cannot run: \(error)")
        }
        guard output.succeeded else {
            let problem =
                output.errorText.contains("not a git repository")
                ? "not a git repository: \(absolute)" : "git cannot use \(absolute): \(output.plainError)"
            throw PolicySource.Failure(description: "'\(asked)' is not a folder, and cannot be a git revision either: \(problem)")
        }
        let lines = output.text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        topLevel = lines.first ?? absolute
        prefix = lines.count > 1 ? lines[1] : ""
    }

    /// `policies/`, or `the repository's top folder`.
    var folderText: String { prefix.isEmpty ? "the repository's top folder" : prefix }

    /// The commit `revision` names, or nil if it names none.
    func commit(_ revision: String) -> String? {
        guard let output = try? Self.git(["rev-parse", "--verify", "--quiet", "\(revision)^{commit}"], in: topLevel), output.succeeded else {
            return nil
        }
        let hash = output.text.trimmingCharacters(in: .whitespacesAndNewlines)
        return hash.isEmpty ? nil : hash
    }

    /// `the repository has 3 commits`, for an error about a revision it does not have.
    var historyText: String {
        let output = try? Self.git(["rev-list", "--count", "--all"], in: topLevel)
        let count = output.flatMap { $0.succeeded ? Int($0.text.trimmingCharacters(in: .whitespacesAndNewlines)) : nil }
        switch count {
        case nil: return "its history cannot be read"
        case 0?: return "the repository has no commits yet"
        case 1?: return "the repository has 1 commit"
        case let count?: return "the repository has \(count) commits"
        }
    }

    /// The policy files of the folder at `commit`, named `revisionText:path`, in name order as the
    /// folder loader reads them; nil if the folder did not exist then.
    func policyFiles(at commit: String, revisionText: String) throws(PolicySource.Failure) -> [(name: String, contents: String)]? {
        let tree = prefix.isEmpty ? "\(commit)^{tree}" : "\(commit):\(prefix.dropLast())"
        guard let listing = try? Self.git(["ls-tree", "-z", tree], in: topLevel), listing.succeeded else { return nil }
        var files: [(name: String, contents: String)] = []
        for entry in listing.text.split(separator: "\0") {
            // "<mode> <type> <object>\t<name>"; only regular files, as the folder loader reads.
            guard let tab = entry.firstIndex(of: "\t") else { continue }
            let fields = entry[..<tab].split(separator: " ")
            let name = String(entry[entry.index(after: tab)...])
            guard fields.count == 3, fields[0] == "100644" || fields[0] == "100755", !name.hasPrefix("."),
                name.hasSuffix(".yaml") || name.hasSuffix(".yml")
            else { continue }
            let label = "\(revisionText):\(prefix)\(name)"
            guard let blob = try? Self.git(["cat-file", "blob", String(fields[2])], in: topLevel), blob.succeeded else {
                throw PolicySource.Failure(description: "cannot read \(label) from git")
            }
            guard let contents = String(data: blob.data, encoding: .utf8) else {
                throw PolicySource.Failure(description: "\(label) is not UTF-8 text")
            }
            files.append((label, contents))
        }
        return files.sorted { $0.name < $1.name }
    }

    private struct GitOutput {
        let succeeded: Bool
        let data: Data
        let errorText: String

        var text: String { String(decoding: data, as: UTF8.self) }

        /// git's complaint without its `fatal:` or `error:` prefix, first line only.
        var plainError: String {
            var line = errorText.split(separator: "\n").first.map(String.init) ?? "git failed"
            for prefix in ["fatal: ", "error: "] where line.hasPrefix(prefix) { line.removeFirst(prefix.count) }
            return line
        }
    }

    private static func git(_ arguments: [String], in directory: String) throws -> GitOutput {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["git", "-C", directory] + arguments
        var environment = ProcessInfo.processInfo.environment
        // English messages, to recognise "not a git repository"; never a prompt for credentials.
        environment["LC_ALL"] = "C"
        environment["GIT_TERMINAL_PROMPT"] = "0"
        process.environment = environment
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        let errorData = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        if process.terminationStatus == 127 {
            throw PolicySource.Failure(description: "git is not installed")
        }
        return GitOutput(succeeded: process.terminationStatus == 0, data: data, errorText: String(decoding: errorData, as: UTF8.self))
    }
}
