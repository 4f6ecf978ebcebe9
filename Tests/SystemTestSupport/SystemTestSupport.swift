public import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

// What the suites that run system tools (`nft`, `wg`, `wireguard-go`, `ip`) share: finding and
// running a tool without hanging the test run, temporary folders, and network namespaces that each
// test creates and deletes.

/// What a finished subprocess said.
public struct ProcessResult: Sendable {
    public let status: Int32
    public let standardOutput: String
    public let standardError: String

    public var succeeded: Bool { status == 0 }
}

/// System tools, found on `PATH` (or in the usual sbin folders).
public enum Tools {
    public static var isRoot: Bool { getuid() == 0 }

    public static let ip = find("ip")

    /// The absolute path of a tool, or nil.
    public static func find(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        let folders = path.split(separator: ":").map(String.init) + ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"]
        return folders.map { $0 + "/" + name }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Runs `executable` to completion off the cooperative pool; stdout and stderr go through files so
    /// that large outputs cannot block the child.
    public static func run(
        _ executable: String, _ arguments: [String], input: String? = nil, environment: [String: String]? = nil, timeout: TimeInterval = 120
    ) async throws -> ProcessResult {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(with: Result { try runNow(executable, arguments, input: input, environment: environment, timeout: timeout) })
            }
        }
    }

    private static func runNow(
        _ executable: String, _ arguments: [String], input: String?, environment: [String: String]?, timeout: TimeInterval
    ) throws -> ProcessResult {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("portcullis-test-run-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        defer { try? FileManager.default.removeItem(at: folder) }
        let inputURL = folder.appendingPathComponent("stdin")
        let outputURL = folder.appendingPathComponent("stdout")
        let errorURL = folder.appendingPathComponent("stderr")
        try Data((input ?? "").utf8).write(to: inputURL)
        _ = FileManager.default.createFile(atPath: outputURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errorURL.path, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        }
        let inputHandle = try FileHandle(forReadingFrom: inputURL)
        let outputHandle = try FileHandle(forWritingTo: outputURL)
        let errorHandle = try FileHandle(forWritingTo: errorURL)
        defer {
            try? inputHandle.close()
            try? outputHandle.close()
            try? errorHandle.close()
        }
        process.standardInput = inputHandle
        process.standardOutput = outputHandle
        process.standardError = errorHandle
        try process.run()
        // Never hang a test run: a tool still running after `timeout` is killed (by its own pid).
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning, Date() < deadline { usleep(10_000) }
        let timedOut = process.isRunning
        if timedOut {
            kill(process.processIdentifier, SIGKILL)
            let grace = Date().addingTimeInterval(2)
            while process.isRunning, Date() < grace { usleep(10_000) }
        }
        return ProcessResult(
            status: timedOut || process.isRunning ? -1 : process.terminationStatus,
            standardOutput: String(decoding: try Data(contentsOf: outputURL), as: UTF8.self),
            standardError: (timedOut ? "killed after \(Int(timeout)) s\n" : "") + String(decoding: try Data(contentsOf: errorURL), as: UTF8.self))
    }
}

/// A fresh temporary folder (mode 0700) for one test, removed when `body` returns or throws.
public func withTemporaryDirectory<T>(_ body: (String) async throws -> T) async throws -> T {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("portcullis-test-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    defer { try? FileManager.default.removeItem(atPath: path) }
    return try await body(path)
}

/// A network namespace created for one test and deleted when `body` returns or throws, so that
/// what a test does to interfaces and nftables never touches the host.
public struct NetworkNamespace: Sendable {
    public let name: String

    /// `label` goes into the namespace's name (`gwt-LABEL-…`), to tell whose it is.
    public static func with<T>(label: String, _ body: (NetworkNamespace) async throws -> T) async throws -> T {
        let ip = try #require(Tools.ip, "the ip tool is missing")
        let namespace = NetworkNamespace(name: "gwt-\(label)-" + String(UUID().uuidString.prefix(8)).lowercased())
        let created = try await Tools.run(ip, ["netns", "add", namespace.name])
        try #require(created.succeeded, "ip netns add failed: \(created.standardError)")
        do {
            // Foundation's run loop wakes itself through 127.0.0.1: without loopback, a Foundation
            // process inside the namespace can miss its children's exit.
            let loopback = try await namespace.run(["ip", "link", "set", "lo", "up"])
            try #require(loopback.succeeded, "ip link set lo up failed: \(loopback.standardError)")
            let result = try await body(namespace)
            await namespace.delete()
            return result
        } catch {
            await namespace.delete()
            throw error
        }
    }

    /// Runs a command inside the namespace.
    public func run(_ arguments: [String], input: String? = nil, environment: [String: String]? = nil, timeout: TimeInterval = 120) async throws
        -> ProcessResult
    {
        let ip = try #require(Tools.ip, "the ip tool is missing")
        return try await Tools.run(ip, ["netns", "exec", name] + arguments, input: input, environment: environment, timeout: timeout)
    }

    private func delete() async {
        guard let ip = Tools.ip else { return }
        _ = try? await Tools.run(ip, ["netns", "delete", name])
    }
}
