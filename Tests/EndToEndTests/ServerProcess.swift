import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The built `portcullis` binary, found next to the test bundle.
enum PortcullisBinary {
    static var url: URL {
        if let override = ProcessInfo.processInfo.environment["PORTCULLIS_BINARY"] {
            return URL(fileURLWithPath: override)
        }
        return URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("portcullis")
    }

    /// Runs a CLI command to completion and returns its exit status and output.
    static func run(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        let process = Process()
        process.executableURL = url
        process.arguments = arguments
        let stdout = Pipe()
        let stderr = Pipe()
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
        let output = stdout.fileHandleForReading.readDataToEndOfFile()
        let errors = stderr.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: output, as: UTF8.self), String(decoding: errors, as: UTF8.self))
    }
}

/// A temporary data folder, removed when the test ends.
final class DataFolder {
    let path: String

    init() {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("portcullis-e2e-\(UUID().uuidString)").path
    }

    deinit {
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// `portcullis serve` on a free loopback port, started and ended by this test only (by PID).
final class ServerProcess {
    let process = Process()
    private let stdoutPipe = Pipe()
    private let stderrPipe = Pipe()
    private(set) var baseURL = ""
    private(set) var standardOutput = ""
    /// Standard error so far, read as it comes so the server never blocks on a full pipe.
    private let errorOutput = LockedText()

    struct StartFailure: Error, CustomStringConvertible {
        let description: String
    }

    init(data: String, listen: String = "127.0.0.1:0", extraArguments: [String] = []) throws {
        // Through a wrapper that unblocks every signal first: test runner threads block SIGTERM, and a
        // child inherits that, which would make the server unstoppable.
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        // --dry-run: these suites test the controller, not the host's network (the gateway suite does that in namespaces).
        process.arguments =
            GatewayLab.unblockingSignals + [PortcullisBinary.url.path, "serve", "--data", data, "--listen", listen, "--dry-run"]
            + extraArguments
        process.standardOutput = stdoutPipe
        process.standardError = stderrPipe
        let errors = errorOutput
        stderrPipe.fileHandleForReading.readabilityHandler = { handle in
            let chunk = handle.availableData
            if chunk.isEmpty {
                handle.readabilityHandler = nil  // end of file: the server exited
            } else {
                errors.append(chunk)
            }
        }
        try process.run()
        try waitUntilListening()
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    /// The first token, when this start created one.
    var printedToken: String? {
        guard let range = standardOutput.range(of: #"pcl_[A-Za-z0-9_-]+"#, options: .regularExpression) else { return nil }
        return String(standardOutput[range])
    }

    private func waitUntilListening() throws {
        let handle = stdoutPipe.fileHandleForReading
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            let chunk = handle.availableData
            if chunk.isEmpty {
                guard process.isRunning else { break }
                continue
            }
            standardOutput += String(decoding: chunk, as: UTF8.self)
            if let range = standardOutput.range(of: #"https?://[^/\s]+:[0-9]+"#, options: .regularExpression),
                standardOutput.contains("\n")
            {
                baseURL = String(standardOutput[range])
                // The first-start banner follows the address in the same write.
                return
            }
        }
        throw StartFailure(description: "portcullis serve did not start: \(standardOutput) \(errorOutput.text)")
    }

    /// What the server wrote to standard error so far (its log).
    var standardError: String { errorOutput.text }

    /// The port the server listens on.
    var port: Int { Int(baseURL.split(separator: ":").last ?? "") ?? 0 }

    /// Waits until standard error holds `text`; false when `timeout` passes first.
    func waitForStandardError(containing text: String, timeout: Duration = .seconds(10)) async throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if standardError.contains(text) { return true }
            try await Task.sleep(for: .milliseconds(50))
        }
        return standardError.contains(text)
    }

    /// Ends the server with SIGTERM and waits; returns the exit status.
    @discardableResult
    func stop() -> Int32 {
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        return process.terminationStatus
    }

    /// Ends the server at once, as a crash or `kill -9` would.
    func kill9() {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// Sends a request and returns the status and the parsed JSON body (if any).
    func request(_ method: String, _ path: String, token: String?, body: String? = nil) async throws -> (status: Int, body: [String: Any]) {
        var request = URLRequest(url: URL(string: baseURL + path)!)
        request.httpMethod = method
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        if let body {
            request.httpBody = Data(body.utf8)
            request.setValue("application/scim+json", forHTTPHeaderField: "Content-Type")
        }
        let (data, response) = try await URLSession.shared.data(for: request)
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        let json = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
        return (status, json)
    }
}

/// Text appended from a pipe's reading thread and read from the test's.
final class LockedText: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()

    func append(_ chunk: Data) {
        lock.withLock { data.append(chunk) }
    }

    var text: String { lock.withLock { String(decoding: data, as: UTF8.self) } }
}
