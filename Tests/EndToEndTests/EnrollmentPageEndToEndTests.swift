import Foundation
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The enrollment page as a user meets it: a real browser (headless Chromium) opens the one-time link
/// of a running `portcullis serve`, submits the form, and renders the config with its QR code; the
/// QR code read back from the rendered pixels must be exactly the config the page shows.
@Suite(
    .serialized,
    .enabled(
        if: BrowserTools.missing.isEmpty || BrowserTools.inCI,
        "needs \(BrowserTools.missing.joined(separator: ", ")) installed (in CI, with CI=true, their absence fails instead)"))
struct EnrollmentPageEndToEndTests {
    static let policy = """
        resources:
          internal: { hosts: [10.40.0.0/24] }
        rules:
          - name: engineers-reach-internal
            groups: [Engineering]
            allow: [{ to: internal }]
        """

    @Test func browserEnrollsOnceAndTheRenderedQRCodeIsTheConfig() async throws {
        try #require(BrowserTools.missing.isEmpty, "CI must have \(BrowserTools.missing.joined(separator: ", ")) installed")
        let data = DataFolder()
        let workspace = try TemporaryFolder()
        let policies = workspace.url.appendingPathComponent("policies")
        try FileManager.default.createDirectory(at: policies, withIntermediateDirectories: true)
        try Self.policy.write(to: policies.appendingPathComponent("lab.yaml"), atomically: true, encoding: .utf8)
        let server = try ServerProcess(
            data: data.path, extraArguments: ["--policies", policies.path, "--pool", "10.100.0.0/24", "--endpoint", "vpn.example.com:51820"])
        let token = try #require(server.firstToken)

        // A user whose display name needs escaping, in the group the policy lets through.
        let user = try await server.request(
            "POST", "/scim/v2/Users", token: token, body: #"{"userName": "ada@example.com", "displayName": "Ada <b>Lovelace</b> & Co"}"#)
        #expect(user.status == 201)
        let userID = try #require(user.body["id"] as? String)
        let group = try await server.request(
            "POST", "/scim/v2/Groups", token: token, body: #"{"displayName": "Engineering", "members": [{"value": "\#(userID)"}]}"#)
        #expect(group.status == 201)

        // A link from the CLI, at the server's address.
        let created = try PortcullisBinary.run([
            "enroll", "create", "--data", data.path, "--user", "ada@example.com", "--ttl", "1h", "--public-url", server.baseURL,
        ])
        #expect(created.status == 0, "\(created.stderr)")
        let link = created.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(link.hasPrefix(server.baseURL + "/enroll/"))

        // The form, as the browser builds it: whom it is for (as text, not markup), and the fields.
        let browser = try HeadlessBrowser(folder: workspace.url)
        let form = try browser.dumpDOM(of: link)
        #expect(form.contains("<title>Set up your VPN · Portcullis</title>"))
        #expect(form.contains("<strong>Ada &lt;b&gt;Lovelace&lt;/b&gt; &amp; Co</strong>"), "the display name is shown escaped")
        #expect(form.contains(#"<form method="post">"#))
        #expect(form.contains(#"<input id="name" name="name""#))
        #expect(form.contains(#"<input id="publicKey" name="publicKey""#))

        // Submitting it: a harness page posts the same fields to the link (our pages have no script; this one
        // only stands in for the user's click), and the browser renders the answer.
        let harness = workspace.url.appendingPathComponent("submit.html")
        try """
            <!doctype html>
            <html><body>
            <form method="post" action="\(link)"><input name="name" value="laptop 1"><input name="publicKey" value=""></form>
            <script>document.forms[0].submit()</script>
            </body></html>
            """.write(to: harness, atomically: true, encoding: .utf8)
        let screenshot = workspace.url.appendingPathComponent("enrolled.png")
        let page = try browser.dumpDOM(of: harness.absoluteString, screenshot: screenshot)
        #expect(page.contains("<title>Your VPN configuration · Portcullis</title>"), "\(page)")
        let config = try #require(Self.preformattedConfig(in: page), "the page shows the config in <pre id=\"config\">")
        #expect(config.hasPrefix("[Interface]\nPrivateKey = "))
        #expect(config.contains("\nEndpoint = vpn.example.com:51820\n"))
        #expect(config.contains("\nAllowedIPs = 10.40.0.0/24\n"))
        #expect(Self.downloadedConfig(in: page) == config, "the download link holds the same config")

        // The QR code as rendered on screen, and as the inline SVG drawn on its own: both are the config.
        let fromScreen = try BrowserTools.decodeQRCodes(in: screenshot)
        #expect(fromScreen == [config], "the QR code in the screenshot decodes to the config shown on the page")
        let svg = try #require(Self.inlineSVG(in: page), "the page has an inline SVG QR code")
        let svgFile = workspace.url.appendingPathComponent("qr.svg")
        let rasterized = workspace.url.appendingPathComponent("qr.png")
        try svg.write(to: svgFile, atomically: true, encoding: .utf8)
        try BrowserTools.run("rsvg-convert", ["--background-color", "white", "--output", rasterized.path, svgFile.path])
        #expect(try BrowserTools.decodeQRCodes(in: rasterized) == [config], "the inline SVG decodes to the config")

        // The link worked once: a second visit, or a second submission, gets nothing.
        let again = try await Self.fetch(link)
        #expect(again.status == 410)
        #expect(again.text.contains("Link already used"))
        #expect(!again.text.contains("PrivateKey"))
        let resubmitted = try await Self.fetch(link, form: "name=laptop+2")
        #expect(resubmitted.status == 410)
        #expect(resubmitted.text.contains("already used"))
        #expect(try browser.dumpDOM(of: link).contains("<title>Link already used · Portcullis</title>"))

        // A link made over the admin API points at the address the API was reached at, and opens the form.
        let admin = try PortcullisBinary.run(["token", "create", "--data", data.path, "--name", "ops", "--scope", "admin"])
        let adminToken = admin.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let viaAPI = try await server.request("POST", "/api/v1/users/\(userID)/enrollments", token: adminToken, body: #"{"ttl": "30m"}"#)
        #expect(viaAPI.status == 201)
        let apiLink = try #require(viaAPI.body["url"] as? String)
        #expect(apiLink.hasPrefix(server.baseURL + "/enroll/"))
        let opened = try await Self.fetch(apiLink)
        #expect(opened.status == 200)
        #expect(opened.text.contains(#"<form method="post">"#))
        #expect(try await Self.fetch(server.baseURL + "/enroll/not-a-link").status == 404)

        #expect(server.stop() == 0)
    }

    // MARK: Reading the page

    /// The text of `<pre id="config">`, unescaped.
    static func preformattedConfig(in page: String) -> String? {
        guard let range = page.range(of: #"<pre id="config">[^<]*</pre>"#, options: .regularExpression) else { return nil }
        let element = page[range]
        return unescapeHTML(String(element.dropFirst(#"<pre id="config">"#.count).dropLast("</pre>".count)))
    }

    /// The config behind the download link (a base64 `data:` URI).
    static func downloadedConfig(in page: String) -> String? {
        let prefix = "data:text/plain;charset=utf-8;base64,"
        guard let range = page.range(of: prefix + "[A-Za-z0-9+/=]+", options: .regularExpression) else { return nil }
        return Data(base64Encoded: String(page[range].dropFirst(prefix.count))).map { String(decoding: $0, as: UTF8.self) }
    }

    static func inlineSVG(in page: String) -> String? {
        guard let start = page.range(of: "<svg"), let end = page.range(of: "</svg>", range: start.upperBound..<page.endIndex) else { return nil }
        return String(page[start.lowerBound..<end.upperBound])
    }

    static func unescapeHTML(_ text: String) -> String {
        text.replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
            .replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&#39;", with: "'")
            .replacingOccurrences(of: "&nbsp;", with: "\u{A0}").replacingOccurrences(of: "&amp;", with: "&")
    }

    /// A GET, or a form POST when `form` is given; the status and the body as text.
    static func fetch(_ address: String, form: String? = nil) async throws -> (status: Int, text: String) {
        var request = URLRequest(url: try #require(URL(string: address)))
        if let form {
            request.httpMethod = "POST"
            request.httpBody = Data(form.utf8)
            request.setValue("application/x-www-form-urlencoded", forHTTPHeaderField: "Content-Type")
        }
        let (data, response) = try await URLSession.shared.data(for: request)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
    }
}

/// The browser and image tools this suite drives.
enum BrowserTools {
    static let inCI = ProcessInfo.processInfo.environment["CI"] == "true"

    static var browser: String? {
        ["chromium", "chromium-browser", "google-chrome"].first { executable($0) != nil }
    }

    static var missing: [String] {
        (browser == nil ? ["chromium"] : []) + ["zbarimg", "rsvg-convert"].filter { executable($0) == nil }
    }

    static func executable(_ name: String) -> String? {
        ["/usr/bin/", "/usr/local/bin/", "/bin/", "/snap/bin/"].map { $0 + name }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// The texts of the QR codes zbarimg finds in an image, byte for byte.
    static func decodeQRCodes(in image: URL) throws -> [String] {
        // -Sbinary: the symbol's bytes as they are, without charset guessing; --raw: no "QR-Code:" prefix.
        let output = try run("zbarimg", ["--quiet", "--raw", "-Sbinary", "--nodbus", image.path])
        return [output]
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// Runs a tool to completion; its standard output, or an error with its standard error.
    @discardableResult
    static func run(_ tool: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [tool] + arguments
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        let errorData = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw Failure(description: "\(tool) exited with \(process.terminationStatus): \(String(decoding: errorData, as: UTF8.self))")
        }
        return String(decoding: data, as: UTF8.self)
    }
}

/// Headless Chromium with a profile (and home) of its own in the test's temporary folder.
struct HeadlessBrowser {
    let folder: URL
    let executable: String

    init(folder: URL) throws {
        guard let browser = BrowserTools.browser.flatMap(BrowserTools.executable) else {
            throw BrowserTools.Failure(description: "chromium is not installed")
        }
        self.folder = folder
        self.executable = browser
    }

    /// Loads `address` (following a form the page submits) and returns the DOM as the browser serializes
    /// it; with `screenshot`, also saves a PNG of the rendered page, from the same single load.
    func dumpDOM(of address: String, screenshot: URL? = nil) throws -> String {
        let profile = folder.appendingPathComponent("chromium-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: profile, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: profile) }
        var arguments = [
            // As root Chromium refuses to start without --no-sandbox; the pages loaded are our own.
            "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--hide-scrollbars", "--user-data-dir=\(profile.path)",
            "--window-size=800,1400", "--dump-dom",
        ]
        if let screenshot { arguments.append("--screenshot=\(screenshot.path)") }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        // Through the wrapper that unblocks signals, so that the timeout below can end it with SIGTERM.
        process.arguments = GatewayLab.unblockingSignals + [executable] + arguments + [address]
        var environment = ProcessInfo.processInfo.environment
        environment["HOME"] = profile.path
        environment["XDG_CONFIG_HOME"] = profile.path
        environment["XDG_CACHE_HOME"] = profile.path
        process.environment = environment
        let output = Pipe()
        let log = profile.appendingPathComponent("stderr.log")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        process.standardOutput = output
        process.standardError = try FileHandle(forWritingTo: log)
        try process.run()
        // A hung browser is ended by its PID after a minute, and only while it has not exited yet.
        let running = RunningFlag(pid: process.processIdentifier)
        DispatchQueue.global().asyncAfter(deadline: .now() + 60) { running.signal(SIGTERM) }
        DispatchQueue.global().asyncAfter(deadline: .now() + 65) { running.signal(SIGKILL) }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        running.exited()
        guard process.terminationStatus == 0 else {
            let errors = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            throw BrowserTools.Failure(
                description: "chromium exited with \(process.terminationStatus): \(errors.split(separator: "\n").suffix(10).joined(separator: "\n"))")
        }
        return String(decoding: data, as: UTF8.self)
    }
}

/// A child's PID that may be signalled until the child is known to have exited (and its PID may be reused).
final class RunningFlag: @unchecked Sendable {
    private let lock = NSLock()
    private let pid: pid_t
    private var isRunning = true

    init(pid: pid_t) {
        self.pid = pid
    }

    func signal(_ signal: Int32) {
        lock.withLock {
            if isRunning { _ = kill(pid, signal) }
        }
    }

    func exited() {
        lock.withLock { isRunning = false }
    }
}

/// A temporary folder, removed when the value goes.
final class TemporaryFolder {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("portcullis-e2e-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(at: url)
    }
}
