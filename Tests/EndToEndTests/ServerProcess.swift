import Foundation
import Synchronization
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
#if canImport(Glibc)
import Glibc
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
    let data: String
    private let stdoutPipe = Pipe()
    private let stderrPipe = Pipe()
    private let terminal: Pseudoterminal?
    private let log = OutputCollector()
    private(set) var baseURL = ""
    private(set) var standardOutput = ""

    struct StartFailure: Error, CustomStringConvertible {
        let description: String
    }

    /// Starts the server; with `onTerminal` its standard output is a terminal (as under `make run`),
    /// otherwise a pipe (as under systemd, which sends it to the journal).
    init(data: String, listen: String = "127.0.0.1:0", extraArguments: [String] = [], onTerminal: Bool = false) throws {
        self.data = data
        terminal = onTerminal ? try Pseudoterminal() : nil
        // Through a wrapper that unblocks every signal first: test runner threads block SIGTERM, and a
        // child inherits that, which would make the server unstoppable.
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        // --dry-run: these suites test the controller, not the host's network (the gateway suite does that in namespaces).
        process.arguments =
            GatewayLab.unblockingSignals + [PortcullisBinary.url.path, "serve", "--data", data, "--listen", listen, "--dry-run"]
            + extraArguments
        if let terminal = terminal?.secondary {
            process.standardOutput = terminal
        } else {
            process.standardOutput = stdoutPipe
        }
        process.standardError = stderrPipe
        try process.run()
        terminal?.closeSecondary()
        log.start(reading: stderrPipe.fileHandleForReading)
        try waitUntilListening()
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    /// The first token, when this start created one: the banner says so, and where it is.
    var firstToken: String? {
        FirstTokenFile.token(banner: standardOutput, data: data)
    }

    /// What the server logged (its standard error) so far; once it has stopped, all of it.
    var standardError: String {
        log.text(waitingForEnd: !process.isRunning)
    }

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

    private func waitUntilListening() throws {
        let descriptor = terminal?.primary ?? stdoutPipe.fileHandleForReading.fileDescriptor
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            guard let chunk = OutputCollector.read(descriptor, waitingMilliseconds: 100) else {
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
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        throw StartFailure(description: "portcullis serve did not start: \(standardOutput) \(log.text(waitingForEnd: true))")
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

/// Where a test finds the first token `serve` created: its banner names the file (standard output is
/// not a terminal in tests), and the file is in the data folder.
enum FirstTokenFile {
    static let fileName = "initial-token"

    /// The token, when `banner` says this start wrote one.
    static func token(banner: String, data: String) -> String? {
        let path = URL(fileURLWithPath: data).standardizedFileURL.path + "/" + fileName
        guard banner.contains("Created the first SCIM token"), banner.contains(path) else { return nil }
        return (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// Collects what a process writes to a pipe, on a thread of its own, so that the process never blocks
/// on a full pipe and the test can read it all after the process ended.
final class OutputCollector: Sendable {
    private let state = Mutex<(bytes: [UInt8], ended: Bool)>(([], false))

    func start(reading handle: FileHandle) {
        // The thread holds the handle, so its descriptor stays open until the thread has read to the end.
        Thread.detachNewThread { [self] in
            while let chunk = Self.read(handle.fileDescriptor, waitingMilliseconds: -1) {
                state.withLock { $0.bytes += chunk }
            }
            state.withLock { $0.ended = true }
        }
    }

    /// The text so far; with `waitingForEnd`, once the writer closed its end (at most 5 s later).
    func text(waitingForEnd: Bool) -> String {
        let deadline = Date().addingTimeInterval(5)
        while waitingForEnd, !state.withLock({ $0.ended }), Date() < deadline { usleep(10_000) }
        return state.withLock { String(decoding: $0.bytes, as: UTF8.self) }
    }

    /// What `descriptor` has, waiting at most `milliseconds` (-1: until there is something): empty when
    /// nothing came, nil at the end (a terminal whose other side closed reports an error instead).
    static func read(_ descriptor: Int32, waitingMilliseconds milliseconds: Int32) -> [UInt8]? {
        var request = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        let ready = poll(&request, 1, milliseconds)
        if ready == 0 || (ready < 0 && errno == EINTR) { return [] }
        var buffer = [UInt8](repeating: 0, count: 65536)
        let count = Glibc.read(descriptor, &buffer, buffer.count)
        if count < 0, errno == EINTR || errno == EAGAIN { return [] }
        return count > 0 ? Array(buffer[..<count]) : nil
    }
}

/// A pseudo-terminal, for a child whose standard output must be a terminal.
final class Pseudoterminal {
    /// The side the test reads.
    let primary: Int32
    /// The side the child writes, as its standard output.
    private(set) var secondary: FileHandle?

    init() throws {
        // Swift's Glibc module leaves out the X/Open pseudo-terminal functions; the C library has them.
        guard let openPT = Self.function("posix_openpt", as: (@convention(c) (Int32) -> Int32).self),
            let grantPT = Self.function("grantpt", as: (@convention(c) (Int32) -> Int32).self),
            let unlockPT = Self.function("unlockpt", as: (@convention(c) (Int32) -> Int32).self),
            let nameOfPT = Self.function("ptsname_r", as: (@convention(c) (Int32, UnsafeMutablePointer<CChar>, Int) -> Int32).self)
        else { throw ServerProcess.StartFailure(description: "the C library has no pseudo-terminal functions") }
        primary = openPT(O_RDWR | O_NOCTTY)
        var name = [CChar](repeating: 0, count: 128)
        guard primary >= 0, grantPT(primary) == 0, unlockPT(primary) == 0, nameOfPT(primary, &name, name.count) == 0 else {
            throw ServerProcess.StartFailure(description: "cannot open a pseudo-terminal: \(String(cString: strerror(errno)))")
        }
        let path = String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let descriptor = open(path, O_RDWR | O_NOCTTY)
        guard descriptor >= 0 else { throw ServerProcess.StartFailure(description: "cannot open \(path)") }
        secondary = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
    }

    /// Once the child has its copy: then reading ends when the child's side closes.
    func closeSecondary() {
        try? secondary?.close()
        secondary = nil
    }

    deinit {
        close(primary)
    }

    private static func function<Function>(_ name: String, as type: Function.Type) -> Function? {
        guard let symbol = dlsym(dlopen(nil, RTLD_NOW), name) else { return nil }
        return unsafeBitCast(symbol, to: type)
    }
}
