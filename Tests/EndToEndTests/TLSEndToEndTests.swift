import Foundation
import Testing

/// HTTPS served by `portcullis serve` itself: curl with a throwaway CA, a certificate swapped on SIGHUP
/// while the listener stays, files refused at start, and the warning when plain HTTP leaves the machine.
@Suite(.serialized)
struct TLSEndToEndTests {
    /// The pair the server is started with, in a folder of its own, and the CAs that sign its versions.
    final class Lab {
        let folder: TemporaryFolder
        let data = DataFolder()
        let certificate: String
        let key: String
        let token: String

        init() throws {
            folder = try TemporaryFolder()
            certificate = folder.url.appendingPathComponent("server.pem").path
            key = folder.url.appendingPathComponent("server-key.pem").path
            let created = try PortcullisBinary.run(["token", "create", "--data", data.path, "--name", "idp", "--scope", "scim"])
            token = created.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        }

        func authority(_ name: String) throws -> TestCertificateAuthority {
            try TestCertificateAuthority(name: name, in: folder.url)
        }

        /// `curl` trusting only `authority`, with the SCIM token.
        func curl(_ url: String, trusting authority: TestCertificateAuthority, _ arguments: [String] = []) throws -> Curl.Result {
            try Curl.run(["--cacert", authority.certificate, "-H", "Authorization: Bearer \(token)"] + arguments + [url])
        }
    }

    @Test func servesHTTPSAndSwapsTheCertificateOnHangupWithoutClosingTheListener() async throws {
        let lab = try Lab()
        let first = try lab.authority("first")
        let second = try lab.authority("second")
        try first.issueServerCertificate(certificate: lab.certificate, key: lab.key)
        let server = try ServerProcess(data: lab.data.path, extraArguments: ["--tls-cert", lab.certificate, "--tls-key", lab.key])
        defer { server.stop() }
        #expect(server.baseURL.hasPrefix("https://127.0.0.1:"))
        let users = server.baseURL + "/scim/v2/Users"

        let listed = try lab.curl(users, trusting: first)
        #expect(listed.status == 200, "\(listed)")
        let created = try lab.curl(
            users, trusting: first, ["-H", "Content-Type: application/scim+json", "--data", #"{"userName": "tls@example.com"}"#])
        #expect(created.status == 201, "\(created)")
        #expect(created.body.contains(#""location":"\#(users)/"#), "meta.location must be an https URL: \(created.body)")
        let plain = try Curl.run(["http://127.0.0.1:\(server.port)/healthz"])
        #expect(plain.exitCode != 0 && plain.status != 200, "plain HTTP to the HTTPS port: \(plain)")

        // A connection opened before the renewal keeps working after it.
        let open = try TLSClientConnection(port: server.port, trusting: first.certificate)
        defer { open.close() }
        #expect(try await open.get("/healthz", expectedResponses: 1))

        try second.issueServerCertificate(certificate: lab.certificate, key: lab.key)
        kill(server.process.processIdentifier, SIGHUP)
        #expect(try await server.waitForStandardError(containing: "TLS certificate reloaded"))
        let renewed = try lab.curl(users, trusting: second)
        #expect(renewed.status == 200, "\(renewed)")
        let stale = try lab.curl(users, trusting: first)
        #expect(stale.exitCode == 60, "a client trusting only the first CA must now refuse the certificate: \(stale)")
        #expect(try await open.get("/healthz", expectedResponses: 2))

        // A broken renewal is refused and logged; the certificate before it is still served.
        try "not a certificate\n".write(toFile: lab.certificate, atomically: true, encoding: .utf8)
        kill(server.process.processIdentifier, SIGHUP)
        #expect(try await server.waitForStandardError(containing: "TLS certificate not reloaded"))
        #expect(server.standardError.contains("\(lab.certificate) is not a PEM certificate"))
        let kept = try lab.curl(users, trusting: second)
        #expect(kept.status == 200, "\(kept)")
        #expect(server.process.isRunning)
    }

    enum BrokenFiles: String, CaseIterable, Sendable {
        case missingCertificate, certificateNotPEM, keyNotPEM, keyOfAnotherCertificate, keyNotGiven
    }

    @Test(arguments: BrokenFiles.allCases)
    func unusableCertificateFilesStopServeWithAClearMessage(_ broken: BrokenFiles) throws {
        let lab = try Lab()
        let authority = try lab.authority("only")
        try authority.issueServerCertificate(certificate: lab.certificate, key: lab.key)
        let other = lab.folder.url.appendingPathComponent("other.pem").path
        let otherKey = lab.folder.url.appendingPathComponent("other-key.pem").path
        try authority.issueServerCertificate(certificate: other, key: otherKey)
        let garbage = lab.folder.url.appendingPathComponent("garbage.pem").path
        try "-----BEGIN NONSENSE-----\nhello\n".write(toFile: garbage, atomically: true, encoding: .utf8)

        let (tlsArguments, message): ([String], String) =
            switch broken {
            case .missingCertificate: (["--tls-cert", lab.certificate + ".missing", "--tls-key", lab.key], "no such file")
            case .certificateNotPEM: (["--tls-cert", garbage, "--tls-key", lab.key], "\(garbage) is not a PEM certificate")
            case .keyNotPEM: (["--tls-cert", lab.certificate, "--tls-key", garbage], "\(garbage) is not an unencrypted PEM private key")
            case .keyOfAnotherCertificate: (["--tls-cert", lab.certificate, "--tls-key", otherKey], "does not belong to the certificate")
            case .keyNotGiven: (["--tls-cert", lab.certificate], "--tls-cert and --tls-key go together")
            }
        let result = try PortcullisBinary.run(["serve", "--data", lab.data.path, "--listen", "127.0.0.1:0", "--dry-run"] + tlsArguments)
        #expect(result.status != 0)
        #expect(result.stderr.contains(message), "stderr: \(result.stderr)")
        #expect(!result.stdout.contains("listening"))
    }

    /// Where the server listens, whether TLS is on (given in a config file), and whether it must warn.
    @Test(arguments: [("0.0.0.0:0", false, true), ("127.0.0.1:0", false, false), ("0.0.0.0:0", true, false)])
    func warnsWhenPlainHTTPListensBeyondLoopback(_ listen: String, _ tls: Bool, _ warns: Bool) async throws {
        let lab = try Lab()
        var arguments: [String] = []
        if tls {
            try lab.authority("only").issueServerCertificate(certificate: lab.certificate, key: lab.key)
            let config = lab.folder.url.appendingPathComponent("portcullis.yaml")
            try "tls-cert: \(lab.certificate)\ntls-key: \(lab.key)\n".write(to: config, atomically: true, encoding: .utf8)
            arguments = ["--config", config.path]
        }
        let server = try ServerProcess(data: lab.data.path, listen: listen, extraArguments: arguments)
        defer { server.stop() }
        #expect(server.baseURL.hasPrefix(tls ? "https://" : "http://"))
        // Logged before the server starts listening, so present once that line is.
        #expect(try await server.waitForStandardError(containing: "Server started and listening"))
        #expect(server.standardError.contains("without TLS") == warns, "stderr: \(server.standardError)")
    }
}

/// Runs `curl` and reports its exit code, the HTTP status (0 when there was no answer) and the body.
enum Curl {
    struct Result: CustomStringConvertible {
        let exitCode: Int32
        let status: Int
        let body: String
        let errors: String

        var description: String { "curl exit \(exitCode), status \(status), body \(body.prefix(300)), stderr \(errors)" }
    }

    static func run(_ arguments: [String]) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        process.arguments = ["--silent", "--show-error", "--max-time", "10", "--write-out", "\n%{http_code}"] + arguments
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let errorText = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        let status = Int(lines.last ?? "") ?? 0
        return Result(exitCode: process.terminationStatus, status: status, body: lines.dropLast().joined(separator: "\n"), errors: errorText)
    }
}

/// One TLS connection held open with `openssl s_client`, to send requests on it at different times.
final class TLSClientConnection {
    private let process = Process()
    private let input = Pipe()
    private let output = OutputCollector()

    init(port: Int, trusting authority: String) throws {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = ["s_client", "-connect", "127.0.0.1:\(port)", "-CAfile", authority, "-verify_return_error", "-quiet"]
        let stdout = Pipe()
        process.standardInput = input
        process.standardOutput = stdout
        process.standardError = FileHandle.nullDevice
        try process.run()
        output.start(reading: stdout.fileHandleForReading)
    }

    /// Sends a GET on this connection; true once `expectedResponses` answers in all have come back.
    func get(_ path: String, expectedResponses: Int) async throws -> Bool {
        input.fileHandleForWriting.write(Data("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".utf8))
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            if output.text(waitingForEnd: false).components(separatedBy: "HTTP/1.1 200 OK").count - 1 >= expectedResponses { return true }
            guard process.isRunning else { return false }
            try await Task.sleep(for: .milliseconds(50))
        }
        return false
    }

    func close() {
        guard process.isRunning else { return }
        // SIGKILL: the test runner's threads block SIGTERM, and the child inherits that.
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}
