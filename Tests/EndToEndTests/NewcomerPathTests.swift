import Foundation
import Testing

/// The path a newcomer walks on a fresh Debian machine: `scripts/system-packages.sh` (called by
/// `make run` and `make test`) and `.ci/run`. The package tools are stand-ins on `PATH` that record
/// their calls, so the script's decisions are checked without installing anything.
@Suite(.serialized)
struct NewcomerPathTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// A folder of stand-in commands: `dpkg-query` reporting every package as `installed` or not,
    /// `apt-get` appending its arguments to `calls.log`, and `id -u` printing `uid`.
    final class StandIns {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("portcullis-standins-\(UUID().uuidString)")
        var log: URL { folder.appendingPathComponent("calls.log") }

        init(installed: Bool, uid: Int) throws {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            let status = installed ? "install ok installed" : "unknown ok not-installed"
            try write("dpkg-query", "printf '%s' '\(status)'")
            try write("apt-get", "echo \"apt-get $*\" >> '\(log.path)'")
            try write("id", "echo \(uid)")
        }

        deinit {
            try? FileManager.default.removeItem(at: folder)
        }

        private func write(_ name: String, _ body: String) throws {
            let path = folder.appendingPathComponent(name).path
            try ("#!/bin/sh\n" + body + "\n").write(toFile: path, atomically: true, encoding: .utf8)
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path)
        }

        var calls: [String] {
            ((try? String(contentsOf: log, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
        }
    }

    static func run(_ command: [String], path: String? = nil, environment extra: [String: String] = [:]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = command
        process.currentDirectoryURL = repository
        var environment = ProcessInfo.processInfo.environment
        if let path { environment["PATH"] = path + ":" + (environment["PATH"] ?? "/usr/bin:/bin") }
        environment.merge(extra) { _, new in new }
        process.environment = environment
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    @Test(arguments: ["run", "test", "bench"])
    func asRootItUpdatesThePackageListsOnceBeforeInstallingWhatIsMissing(purpose: String) throws {
        let standIns = try StandIns(installed: false, uid: 0)
        let result = try Self.run(["bash", "scripts/system-packages.sh", purpose], path: standIns.folder.path)
        #expect(result.status == 0, "\(result.output)")
        let calls = standIns.calls
        #expect(calls.count == 2, "\(calls)")
        #expect(calls.first == "apt-get update", "a fresh Debian has no package lists: update them first")
        #expect(calls.last?.hasPrefix("apt-get install -y --no-install-recommends ") == true)
        #expect(calls.last?.contains("wireguard-tools") == true)
    }

    @Test func whenNothingIsMissingItChangesNothing() throws {
        let standIns = try StandIns(installed: true, uid: 0)
        let result = try Self.run(["bash", "scripts/system-packages.sh", "test"], path: standIns.folder.path)
        #expect(result.status == 0)
        #expect(standIns.calls.isEmpty, "no apt-get at all, not even an update")
    }

    @Test func withoutRootItPrintsTheCommandsAndFails() throws {
        let standIns = try StandIns(installed: false, uid: 1000)
        let result = try Self.run(["bash", "scripts/system-packages.sh", "run"], path: standIns.folder.path)
        #expect(result.status == 1)
        #expect(standIns.calls.isEmpty)
        #expect(result.output.contains("sudo apt-get update && sudo apt-get install -y --no-install-recommends libsqlite3-dev"))
    }

    @Test func ciWalksTheNewcomersPath() throws {
        let script = try String(contentsOf: Self.repository.appendingPathComponent(".ci/run"), encoding: .utf8)
        let commands = script.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty && !$0.hasPrefix("#") }
        #expect(!commands.contains { $0.contains("apt-get") }, "CI installs nothing on its own: make test does, as for a newcomer")
        #expect(commands.last == "make test")
        let readme = try String(contentsOf: Self.repository.appendingPathComponent("README.md"), encoding: .utf8)
        #expect(readme.contains("make test"), "the README's test command is the one CI runs")
    }

    @Test func makeRunAnnouncesTheLongFirstBuild() throws {
        let standIns = try StandIns(installed: true, uid: 0)
        // SWIFT=false stops at the build step, after the announcement; no build, no server.
        let result = try Self.run(
            ["make", "--no-print-directory", "run", "SWIFT=false", "RELEASE_BINARY=/nonexistent/portcullis"], path: standIns.folder.path)
        #expect(result.status != 0)
        #expect(result.output.contains("the first build takes several minutes"), "\(result.output)")
    }
}
