import Foundation
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The files in `deploy/` do what `deploy/README.md` says: the systemd unit is valid, hardened and
/// fails closed; the nginx example forwards exactly the public paths to a real server.
@Suite(.serialized)
struct DeployTests {
    static let deploy = NewcomerPathTests.repository.appendingPathComponent("deploy")

    static func tool(_ name: String) -> String? {
        ["/usr/bin/", "/usr/sbin/", "/bin/", "/sbin/"].map { $0 + name }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// The unit with its binary pointed at the built one, since `systemd-analyze verify` checks that
    /// every command exists.
    static func unitCopy(in folder: URL) throws -> URL {
        let unit = try String(contentsOf: deploy.appendingPathComponent("portcullis.service"), encoding: .utf8)
        let copy = folder.appendingPathComponent("portcullis.service")
        try unit.replacingOccurrences(of: "/usr/local/bin/portcullis", with: PortcullisBinary.url.path)
            .write(to: copy, atomically: true, encoding: .utf8)
        return copy
    }

    static func temporaryFolder() throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("portcullis-deploy-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return folder
    }

    /// The values of `Key=` lines in the unit's [Service] section.
    static func serviceSettings(_ key: String) throws -> [String] {
        let unit = try String(contentsOf: deploy.appendingPathComponent("portcullis.service"), encoding: .utf8)
        return unit.split(separator: "\n").compactMap { line -> String? in
            guard line.hasPrefix(key + "=") else { return nil }
            return String(line.dropFirst(key.count + 1))
        }
    }

    @Test(.enabled(if: tool("systemd-analyze") != nil, "needs systemd-analyze (Debian package systemd)"))
    func systemdAcceptsTheUnit() throws {
        let folder = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let unit = try Self.unitCopy(in: folder)
        let result = try NewcomerPathTests.run(["systemd-analyze", "verify", unit.path])
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.isEmpty, "no warning either: \(result.output)")
    }

    /// The webhook drop-in passes the secret as a credential named as `serve` expects it.
    @Test(.enabled(if: tool("systemd-analyze") != nil, "needs systemd-analyze (Debian package systemd)"))
    func systemdAcceptsTheWebhookDropIn() throws {
        let folder = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let unit = try Self.unitCopy(in: folder)
        let dropIns = folder.appendingPathComponent("portcullis.service.d")
        try FileManager.default.createDirectory(at: dropIns, withIntermediateDirectories: true)
        let dropIn = try String(contentsOf: Self.deploy.appendingPathComponent("portcullis.service.d/webhook.conf"), encoding: .utf8)
        try dropIn.write(to: dropIns.appendingPathComponent("webhook.conf"), atomically: true, encoding: .utf8)
        #expect(dropIn.contains("\nLoadCredential=webhook-secret:/etc/portcullis/webhook-secret\n"))
        let result = try NewcomerPathTests.run(["systemd-analyze", "verify", unit.path])
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.isEmpty, "no warning either: \(result.output)")
    }

    @Test(.enabled(if: tool("systemd-analyze") != nil, "needs systemd-analyze (Debian package systemd)"))
    func theUnitIsHardened() throws {
        let folder = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let unit = try Self.unitCopy(in: folder)
        let result = try NewcomerPathTests.run(["systemd-analyze", "security", "--offline=true", "--no-pager", unit.path])
        let lines = result.output.split(separator: "\n").map(String.init)
        for setting in [
            "SystemCallFilter=~@clock", "SystemCallFilter=~@mount", "SystemCallFilter=~@reboot", "SystemCallFilter=~@swap",
            "SystemCallFilter=~@module", "SystemCallFilter=~@raw-io", "SystemCallFilter=~@debug", "SystemCallFilter=~@obsolete",
            "ProtectClock=", "ProtectKernelLogs=", "ProtectKernelModules=", "ProtectHostname=", "ProtectProc=", "ProcSubset=",
            "RestrictRealtime=", "NoNewPrivileges=", "ProtectSystem=", "ProtectHome=", "PrivateTmp=",
            "CapabilityBoundingSet=~CAP_SYS_ADMIN", "CapabilityBoundingSet=~CAP_NET_(BIND_SERVICE|BROADCAST|RAW)",
        ] {
            let line = lines.first { $0.contains(" " + setting) }
            #expect(line?.hasPrefix("✓") == true, "\(setting): \(line ?? "not listed")")
        }
        let overall = lines.first { $0.contains("Overall exposure level") }
        let score = overall.flatMap { line in line.split(separator: ":").last?.split(separator: " ").first.flatMap { Double($0) } }
        #expect(score.map { $0 <= 2.5 } == true, "exposure \(overall ?? result.output)")
    }

    /// `ExecStopPost=` removes the interface `portcullis.yaml` names, so a stopped or crashed server
    /// leaves no tunnel behind. Run for real on an interface of that name in a namespace of its own.
    @Test(.enabled(if: getuid() == 0, "needs root: it creates a network namespace and an interface"))
    func stoppingTheServiceRemovesTheInterface() throws {
        let commands = try Self.serviceSettings("ExecStopPost")
        #expect(commands.count == 1)
        let command = try #require(commands.first)
        let config = try String(contentsOf: Self.deploy.appendingPathComponent("portcullis.yaml"), encoding: .utf8)
        let interfaceLine = try #require(config.split(separator: "\n").first { $0.hasPrefix("interface:") })
        let interface = try #require(interfaceLine.split(separator: ":")[1].split(separator: "#").first?.trimmingCharacters(in: .whitespaces))
        #expect(command.hasSuffix("link delete dev \(interface)"), "the unit removes the interface the config names: \(command)")

        let namespace = "pcdeploy" + String(UInt32.random(in: 0..<0xFFFFFF), radix: 36)
        _ = try NewcomerPathTests.run(["ip", "netns", "add", namespace])
        defer { _ = try? NewcomerPathTests.run(["ip", "netns", "del", namespace]) }
        let created = try NewcomerPathTests.run(["ip", "-n", namespace, "tuntap", "add", "dev", interface, "mode", "tun"])
        #expect(created.status == 0, "\(created.output)")
        #expect(try NewcomerPathTests.run(["ip", "-n", namespace, "link", "show", "dev", interface]).status == 0)

        // systemd's "-" prefix only means a failure is ignored; the rest is the command line.
        let arguments = command.drop { $0 == "-" }.split(separator: " ").map(String.init)
        let stopped = try NewcomerPathTests.run(["ip", "netns", "exec", namespace] + arguments)
        #expect(stopped.status == 0, "\(stopped.output)")
        #expect(try NewcomerPathTests.run(["ip", "-n", namespace, "link", "show", "dev", interface]).status != 0, "the interface is gone")
    }
}

/// nginx configured from `deploy/nginx.conf` in front of a real `portcullis serve`.
@Suite(
    .serialized,
    .enabled(if: DeployTests.tool("nginx") != nil && DeployTests.tool("openssl") != nil, "needs nginx and openssl (Debian packages nginx-light, openssl)"),
    .enabled(if: getuid() == 0, "needs root: nginx's master process switches its workers to an unprivileged user"))
struct ReverseProxyExampleTests {
    final class Proxy {
        let folder: URL
        let process = Process()
        let port: Int

        init(upstreamPort: Int) throws {
            folder = try DeployTests.temporaryFolder()
            port = try Self.freePort()
            let certificate = folder.appendingPathComponent("proxy.pem").path
            let key = folder.appendingPathComponent("proxy.key").path
            let made = try NewcomerPathTests.run([
                "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
                "-subj", "/CN=localhost", "-keyout", key, "-out", certificate,
            ])
            guard made.status == 0 else { throw ServerProcess.StartFailure(description: "openssl: \(made.output)") }
            // The example as shipped, with only its addresses and certificate paths replaced.
            let example = try String(contentsOf: DeployTests.deploy.appendingPathComponent("nginx.conf"), encoding: .utf8)
            let server = example
                .replacingOccurrences(of: "listen 443 ssl;", with: "listen 127.0.0.1:\(port) ssl;")
                .replacingOccurrences(of: "listen [::]:443 ssl;\n", with: "")
                .replacingOccurrences(of: "/etc/ssl/certs/vpn.example.com.pem", with: certificate)
                .replacingOccurrences(of: "/etc/ssl/private/vpn.example.com.key", with: key)
                .replacingOccurrences(of: "http://127.0.0.1:8080", with: "http://127.0.0.1:\(upstreamPort)")
            let temporary = folder.path
            let main = """
                worker_processes 1;
                pid \(temporary)/nginx.pid;
                error_log \(temporary)/error.log;
                events { worker_connections 64; }
                http {
                    access_log off;
                    client_body_temp_path \(temporary)/body;
                    proxy_temp_path \(temporary)/proxy;
                    fastcgi_temp_path \(temporary)/fastcgi;
                    uwsgi_temp_path \(temporary)/uwsgi;
                    scgi_temp_path \(temporary)/scgi;
                \(server)
                }
                """
            let configuration = folder.appendingPathComponent("nginx.conf")
            try main.write(to: configuration, atomically: true, encoding: .utf8)
            // The workers run as nobody and must read nothing here but what the master opened.
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: temporary)
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = GatewayLab.unblockingSignals + ["nginx", "-p", temporary, "-c", configuration.path, "-g", "daemon off;"]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            let deadline = Date().addingTimeInterval(10)
            while Date() < deadline, !Self.accepts(port: port) { usleep(50_000) }
            guard Self.accepts(port: port) else {
                let log = (try? String(contentsOfFile: temporary + "/error.log", encoding: .utf8)) ?? ""
                throw ServerProcess.StartFailure(description: "nginx did not start: \(log)")
            }
        }

        deinit {
            if process.isRunning {
                kill(process.processIdentifier, SIGTERM)
                process.waitUntilExit()
            }
            try? FileManager.default.removeItem(at: folder)
        }

        /// Status and body of a request through the proxy (curl, so the path goes out exactly as written).
        func get(_ path: String, token: String? = nil) throws -> (status: Int, body: String) {
            var arguments = ["curl", "-sk", "--path-as-is", "-o", "-", "-w", "\n%{http_code}", "--max-time", "10"]
            if let token { arguments += ["-H", "Authorization: Bearer \(token)"] }
            let result = try NewcomerPathTests.run(arguments + ["https://127.0.0.1:\(port)" + path])
            var lines = result.output.split(separator: "\n", omittingEmptySubsequences: false)
            let status = Int(lines.popLast() ?? "") ?? 0
            return (status, lines.joined(separator: "\n"))
        }

        static func freePort() throws -> Int {
            let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            defer { close(descriptor) }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let bound = withUnsafeMutablePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) == 0 && getsockname(descriptor, $0, &length) == 0 }
            }
            guard bound else { throw ServerProcess.StartFailure(description: "no free port") }
            return Int(UInt16(bigEndian: address.sin_port))
        }

        static func accepts(port: Int) -> Bool {
            let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            defer { close(descriptor) }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = UInt16(port).bigEndian
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            return withUnsafePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
            }
        }
    }

    @Test func forwardsExactlyScimAndEnrollment() async throws {
        let data = DataFolder()
        let created = try PortcullisBinary.run(["token", "create", "--data", data.path, "--name", "idp", "--scope", "scim"])
        let token = try #require(created.stdout.split(separator: "\n").first.map(String.init))
        let admin = try PortcullisBinary.run(["token", "create", "--data", data.path, "--name", "ops", "--scope", "admin"])
        let adminToken = try #require(admin.stdout.split(separator: "\n").first.map(String.init))
        let server = try ServerProcess(data: data.path)
        defer { server.stop() }
        let upstream = try #require(Int(server.baseURL.split(separator: ":").last ?? ""))
        let proxy = try Proxy(upstreamPort: upstream)

        // SCIM goes through, with URLs that say https (the proxy passes X-Forwarded-Proto).
        let users = try proxy.get("/scim/v2/Users", token: token)
        #expect(users.status == 200, "\(users.body)")
        let created201 = try NewcomerPathTests.run([
            "curl", "-sk", "-H", "Authorization: Bearer \(token)", "-H", "Content-Type: application/scim+json",
            "-d", #"{"userName": "proxy@example.com"}"#, "https://127.0.0.1:\(proxy.port)/scim/v2/Users",
        ])
        #expect(created201.output.contains(#""location":"https://127.0.0.1:\#(proxy.port)/scim/v2/Users/"#), "\(created201.output)")
        #expect(try proxy.get("/scim/v2/ServiceProviderConfig", token: token).status == 200)
        #expect(try proxy.get("/scim/v2/Users").status == 401, "Portcullis itself answers: the token is still needed")

        // Enrollment links reach Portcullis's page (an unknown link is its own answer, not nginx's).
        let enrollment = try proxy.get("/enroll/not-a-link")
        #expect(enrollment.status == 404)
        #expect(enrollment.body.contains("This enrollment link does not exist"), "\(enrollment.body)")

        // The admin API, metrics and health stay internal, with a valid admin token too, and however
        // the path is spelled.
        for path in [
            "/api/v1/users", "/metrics", "/healthz", "/readyz", "/", "/scim/v2/../api/v1/users", "/scim/v2/%2e%2e/api/v1/users",
            "/enroll/../metrics", "/scim/v2x/Users", "/api/v1/audit",
        ] {
            let answer = try proxy.get(path, token: adminToken)
            #expect(answer.status == 404 || answer.status == 400, "\(path) answered \(answer.status): \(answer.body)")
            #expect(!answer.body.contains("portcullis_"), "\(path) leaked metrics")
            #expect(!answer.body.contains("\"Resources\""), "\(path) leaked users")
        }
        // Directly, the same admin request works: it was the proxy that kept it out.
        #expect(try await server.request("GET", "/api/v1/users", token: adminToken).status == 200)
    }
}
