import ArgumentParser
import Foundation

/// A policy folder given as a folder, or as a git revision of a folder (for `policy diff --from`).
struct PolicySource {
    let path: String
    private let temporary: Bool

    func cleanUp() {
        if temporary { try? FileManager.default.removeItem(atPath: path) }
    }

    /// `source` itself if it is a folder; otherwise `folder` as it was at git revision `source`,
    /// written to a temporary folder.
    static func materialize(_ source: String, relativeTo folder: String) throws -> PolicySource {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: source, isDirectory: &isDirectory), isDirectory.boolValue {
            return PolicySource(path: source, temporary: false)
        }
        let folderURL = URL(fileURLWithPath: folder).standardizedFileURL
        let topLevel = try git(["rev-parse", "--show-toplevel"], in: folderURL.path).trimmingCharacters(in: .whitespacesAndNewlines)
        let prefix = String(folderURL.path.dropFirst(URL(fileURLWithPath: topLevel).standardizedFileURL.path.count)).drop { $0 == "/" }
        let names = try git(["ls-tree", "--name-only", source, prefix.isEmpty ? "." : prefix + "/"], in: topLevel)
            .split(separator: "\n").map(String.init)
            .filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }
        let target = FileManager.default.temporaryDirectory.appendingPathComponent("portcullis-policy-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: target, withIntermediateDirectories: true)
        for name in names {
            let contents = try git(["show", "\(source):\(name)"], in: topLevel)
            try contents.write(to: target.appendingPathComponent((name as NSString).lastPathComponent), atomically: true, encoding: .utf8)
        }
        return PolicySource(path: target.path, temporary: true)
    }

    private static func git(_ arguments: [String], in directory: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["git", "-C", directory] + arguments
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        let errorData = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let message = String(decoding: errorData, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            throw ValidationError("'\(arguments.dropFirst().first ?? "")' is neither a policy folder nor a git revision of \(directory): \(message)")
        }
        return String(decoding: data, as: UTF8.self)
    }
}
