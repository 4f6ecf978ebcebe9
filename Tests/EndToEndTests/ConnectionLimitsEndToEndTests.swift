import Foundation
import Testing

/// What the server does with clients that send too much or too little: an oversized body gets an
/// answer instead of a hung connection, and a silent connection is closed after the idle timeout.
@Suite(.serialized)
struct ConnectionLimitsEndToEndTests {
    /// Far above every route's limit (SCIM 1 MiB, admin API 64 KiB, enrollment form 16 KiB).
    static let oversized = 20_000_000

    /// A route that reads a body, the token it needs, and the status an oversized body gets there.
    struct Route: CustomTestStringConvertible, Sendable {
        let path: String
        let scope: String?
        let status: Int

        var testDescription: String { "\(path) \(scope.map { "with a \($0) token" } ?? "without a token")" }
    }

    static let routes = [
        Route(path: "/scim/v2/Users", scope: "scim", status: 413),
        Route(path: "/api/v1/users/nobody/devices", scope: "admin", status: 413),
        Route(path: "/enroll/no-such-link", scope: nil, status: 413),
        // Refused before the body is read: the body is still on its way when the answer is.
        Route(path: "/scim/v2/Users", scope: nil, status: 401),
    ]

    /// A server with a SCIM and an admin token, made with the CLI before it starts.
    static func startServer(_ data: DataFolder, extraArguments: [String] = []) throws -> (ServerProcess, [String: String]) {
        var tokens: [String: String] = [:]
        for scope in ["scim", "admin"] {
            let created = try PortcullisBinary.run(["token", "create", "--data", data.path, "--name", scope, "--scope", scope])
            tokens[scope] = created.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        return (try ServerProcess(data: data.path, extraArguments: extraArguments), tokens)
    }

    static func head(_ route: Route, tokens: [String: String], contentLength: Int) -> String {
        var head = "POST \(route.path) HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: \(contentLength)\r\n"
        if let scope = route.scope, let token = tokens[scope] { head += "Authorization: Bearer \(token)\r\n" }
        // What Python's urllib sends, and the case where the server used to stop reading and wait.
        head += "Connection: close\r\n\r\n"
        return head
    }

    /// A client that writes the whole oversized body before reading, as urllib does, reads the answer
    /// within seconds; the server used to stop reading, so the client blocked on its write for good.
    @Test(arguments: routes)
    func oversizedBodyWrittenAtOnceIsAnsweredNotHung(_ route: Route) throws {
        let data = DataFolder()
        let (server, tokens) = try Self.startServer(data)
        defer { server.stop() }
        let connection = try RawConnection(port: server.port, timeout: .seconds(5))
        let started = ContinuousClock.now
        var sent = Array(Self.head(route, tokens: tokens, contentLength: Self.oversized).utf8)
        sent += [UInt8](repeating: UInt8(ascii: "x"), count: Self.oversized)
        #expect(throws: Never.self) { try connection.send(sent) }
        let (response, error) = connection.receiveUntilClosed()
        #expect(error == nil, "reading the answer: \(String(describing: error))")
        #expect(response.hasPrefix("HTTP/1.1 \(route.status) "), "response: \(response.prefix(300))")
        #expect(response.lowercased().contains("connection: close"), "response: \(response.prefix(300))")
        #expect(ContinuousClock.now - started < .seconds(4))
    }

    /// A `Content-Length` above the limit is refused at once, before any of the body is sent; the
    /// server used to wait for the body it would then refuse.
    @Test(arguments: routes.filter { $0.status == 413 })
    func declaredOversizedBodyIsRefusedBeforeItIsSent(_ route: Route) throws {
        let data = DataFolder()
        let (server, tokens) = try Self.startServer(data)
        defer { server.stop() }
        let connection = try RawConnection(port: server.port, timeout: .seconds(3))
        try connection.send(Self.head(route, tokens: tokens, contentLength: Self.oversized))
        let response = try connection.receiveResponse()
        #expect(response.hasPrefix("HTTP/1.1 413 "), "response: \(response.prefix(300))")
    }

    @Test func idleConnectionsAreClosedAfterTheTimeoutAndBusyOnesAreNot() async throws {
        let data = DataFolder()
        let (server, tokens) = try Self.startServer(data, extraArguments: ["--idle-timeout", "1s"])
        defer { server.stop() }
        let silent = try RawConnection(port: server.port)
        let halfRequest = try RawConnection(port: server.port)
        try halfRequest.send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        // Headers and the start of a body the handler waits for.
        let halfBody = try RawConnection(port: server.port)
        try halfBody.send(
            "POST /scim/v2/Users HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(tokens["scim"] ?? "")\r\n"
                + "Content-Type: application/scim+json\r\nContent-Length: 100\r\n\r\n{\"userName\":")
        let busy = try RawConnection(port: server.port)

        // The busy connection asks something every 300 ms, well past the idle timeout in total.
        let started = ContinuousClock.now
        while ContinuousClock.now - started < .milliseconds(2500) {
            try busy.send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            let response = try busy.receiveResponse()
            #expect(response.hasPrefix("HTTP/1.1 200 "), "response: \(response)")
            try await Task.sleep(for: .milliseconds(300))
        }
        #expect(!busy.isClosedByServer(within: .milliseconds(100)))
        #expect(silent.isClosedByServer(within: .seconds(1)))
        #expect(halfRequest.isClosedByServer(within: .seconds(1)))
        #expect(halfBody.isClosedByServer(within: .seconds(1)))
    }

    @Test func idleTimeoutComesFromTheConfigFileToo() throws {
        let data = DataFolder()
        let folder = try TemporaryFolder()
        let config = folder.url.appendingPathComponent("portcullis.yaml")
        try "idle-timeout: 1s\n".write(to: config, atomically: true, encoding: .utf8)
        let (server, _) = try Self.startServer(data, extraArguments: ["--config", config.path])
        defer { server.stop() }
        let silent = try RawConnection(port: server.port)
        #expect(silent.isClosedByServer(within: .seconds(3)))
    }

    @Test(arguments: ["nonsense", "0s", "-1s"])
    func invalidIdleTimeoutIsAUsageError(_ value: String) throws {
        let data = DataFolder()
        let result = try PortcullisBinary.run(["serve", "--data", data.path, "--listen", "127.0.0.1:0", "--dry-run", "--idle-timeout", value])
        #expect(result.status == 64 || result.status == 2)
        #expect(result.stderr.contains("--idle-timeout"))
    }
}
