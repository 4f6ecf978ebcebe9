import Foundation
import Testing

/// How `serve` takes its webhook settings: https only unless told otherwise, and the signing secret
/// from a file or from systemd's credentials folder.
@Suite(.serialized)
struct WebhookSettingsEndToEndTests {
    /// Starts `serve` and reports whether it came up (then stops it by PID) or what it said when it refused.
    static func start(_ arguments: [String], environment: [String: String] = [:]) throws -> (started: Bool, errors: String) {
        let data = DataFolder()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments =
            GatewayLab.unblockingSignals + [PortcullisBinary.url.path, "serve", "--data", data.path, "--listen", "127.0.0.1:0", "--dry-run"] + arguments
        var merged = ProcessInfo.processInfo.environment
        merged["CREDENTIALS_DIRECTORY"] = nil
        merged.merge(environment) { _, new in new }
        process.environment = merged
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        var text = ""
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline, !text.contains("listening on") {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            text += String(decoding: chunk, as: UTF8.self)
        }
        let started = text.contains("listening on")
        if process.isRunning { kill(process.processIdentifier, SIGTERM) }
        process.waitUntilExit()
        return (started, String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self))
    }

    static func secretFile(in folder: String, name: String = "secret") throws -> String {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let path = folder + "/" + name
        try "a webhook secret of enough bytes\n".write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func plainHTTPIsRefusedUnlessAllowed() throws {
        let folder = DataFolder()
        let secret = try Self.secretFile(in: folder.path)
        let refused = try Self.start(["--webhook-url", "http://127.0.0.1:9/hook", "--webhook-secret-file", secret])
        #expect(!refused.started)
        #expect(refused.errors.contains("--webhook-url must be https://"), "\(refused.errors)")
        let allowed = try Self.start(["--webhook-url", "http://127.0.0.1:9/hook", "--webhook-secret-file", secret, "--webhook-allow-http"])
        #expect(allowed.started, "\(allowed.errors)")
        let secure = try Self.start(["--webhook-url", "https://hooks.example.com/portcullis", "--webhook-secret-file", secret])
        #expect(secure.started, "\(secure.errors)")
    }

    @Test func theSecretComesFromSystemdsCredentialsFolder() throws {
        let credentials = DataFolder()
        _ = try Self.secretFile(in: credentials.path, name: "webhook-secret")
        let started = try Self.start(["--webhook-url", "https://hooks.example.com/portcullis"], environment: ["CREDENTIALS_DIRECTORY": credentials.path])
        #expect(started.started, "\(started.errors)")
        let empty = DataFolder()
        try FileManager.default.createDirectory(atPath: empty.path, withIntermediateDirectories: true)
        let missing = try Self.start(["--webhook-url", "https://hooks.example.com/portcullis"], environment: ["CREDENTIALS_DIRECTORY": empty.path])
        #expect(!missing.started)
        #expect(missing.errors.contains("LoadCredential=webhook-secret:FILE"), "\(missing.errors)")
    }
}
