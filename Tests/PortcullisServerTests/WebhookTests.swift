import Crypto
import Foundation
import Hummingbird
import HTTPTypes
import HummingbirdTesting
import Logging
import PortcullisServer
import Reconciler
import SCIM
import Store
import Testing

/// Webhook messages: signed with HMAC-SHA256, retried with backoff until the receiver takes them, and
/// queued by automatic enrollment when the identity provider provisions an active user.
@Suite("Webhooks")
struct WebhookTests {
    static let secret = Array("test webhook secret".utf8)

    @Test func aDeliveryIsSignedOverTheTimestampTheDeliveryIDAndTheBody() async throws {
        try await WebhookReceiver.run { receiver in
            try await GatewayTestServer.run { server in
                let payload = #"{"event":"user.provisioned","user":{"id":"42"},"note":"naïve ✓"}"#
                try await server.store.enqueueWebhook(event: "user.provisioned", payload: payload)
                let queued = try #require(try await server.store.dueWebhooks(now: Reconciler.now()).first)
                let sender = WebhookSender(store: server.store, url: receiver.url, secret: Self.secret, logger: GatewayTestServer.logger)

                let before = Reconciler.now() / 1000
                #expect(await sender.deliverDue() == 1)
                let after = Reconciler.now() / 1000

                let requests = await receiver.requests
                let request = try #require(requests.first)
                #expect(requests.count == 1)
                #expect(request.method == .post)
                #expect(request.body == payload, "the body is sent exactly as queued and signed")
                #expect(request.header("Content-Type") == "application/json")
                #expect(request.header("X-Portcullis-Event") == "user.provisioned")
                #expect(request.header("X-Portcullis-Delivery") == queued.id)
                let timestamp = try #require(request.header("X-Portcullis-Timestamp").flatMap { Int64($0) })
                #expect((before...after).contains(timestamp))
                let signature = try #require(request.header("X-Portcullis-Signature"))
                #expect(signature == expectedSignature(body: request.body, timestamp: timestamp, delivery: queued.id, secret: Self.secret))
                #expect(signature != expectedSignature(body: request.body, timestamp: timestamp, delivery: queued.id, secret: Array("other".utf8)))
                #expect(signature != expectedSignature(body: request.body, timestamp: timestamp + 1, delivery: queued.id, secret: Self.secret))
                // A replayed body under another delivery id does not carry a valid signature.
                #expect(signature != expectedSignature(body: request.body, timestamp: timestamp, delivery: queued.id + "0", secret: Self.secret))

                #expect(try await server.store.nextWebhookAttempt() == nil, "a delivered message leaves the queue")
                #expect(await sender.deliverDue() == 0)
                #expect(await receiver.requests.count == 1)
            }
        }
    }

    /// docs/webhooks.md's receiver check, run on a real delivery: new once, then a duplicate; an
    /// altered body, another delivery id or a stale timestamp are invalid.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/python3"), "needs python3"))
    func theDocumentedReceiverCheckAcceptsADeliveryOnceAndRefusesReplays() async throws {
        let guide = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("docs/webhooks.md")
        let text = try String(contentsOf: guide, encoding: .utf8)
        let start = try #require(text.range(of: "```python\n"))
        let end = try #require(text.range(of: "```", range: start.upperBound..<text.endIndex))
        let function = String(text[start.upperBound..<end.lowerBound])

        try await WebhookReceiver.run { receiver in
            try await GatewayTestServer.run { server in
                try await server.store.enqueueWebhook(event: "user.provisioned", payload: #"{"event":"user.provisioned","n":"ü"}"#)
                let sender = WebhookSender(store: server.store, url: receiver.url, secret: Self.secret, logger: GatewayTestServer.logger)
                #expect(await sender.deliverDue() == 1)
                let request = try #require(await receiver.requests.first)
                let headers = ["X-Portcullis-Timestamp", "X-Portcullis-Delivery", "X-Portcullis-Signature"].map { name in
                    "\"\(name)\": \"\(request.header(name) ?? "")\""
                }.joined(separator: ", ")
                let script = function + """

                    import sys
                    headers = {\(headers)}
                    body = sys.stdin.buffer.read()
                    secret = b"\(String(decoding: Self.secret, as: UTF8.self))"
                    seen = set()
                    print(check_portcullis_webhook(headers, body, secret, seen))
                    print(check_portcullis_webhook(headers, body, secret, seen))
                    print(check_portcullis_webhook(headers, body + b" ", secret, set()))
                    print(check_portcullis_webhook(dict(headers, **{"X-Portcullis-Delivery": "other"}), body, secret, set()))
                    print(check_portcullis_webhook(headers, body, secret, set(), now=int(headers["X-Portcullis-Timestamp"]) + 301))
                    print(check_portcullis_webhook(headers, body, b"another secret of some length", set()))
                    """
                let process = Process()
                process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
                process.arguments = ["-c", script]
                let input = Pipe()
                let output = Pipe()
                process.standardInput = input
                process.standardOutput = output
                try process.run()
                input.fileHandleForWriting.write(Data(request.body.utf8))
                try input.fileHandleForWriting.close()
                let answers = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                process.waitUntilExit()
                #expect(process.terminationStatus == 0)
                #expect(answers.split(separator: "\n") == ["new", "duplicate", "invalid", "invalid", "invalid", "invalid"])
            }
        }
    }

    @Test func failedDeliveriesAreRetriedWithDoublingBackoff() async throws {
        try await WebhookReceiver.run(failing: 2) { receiver in
            try await GatewayTestServer.run { server in
                try await server.store.enqueueWebhook(event: "user.provisioned", payload: #"{"n":1}"#)
                let sender = WebhookSender(store: server.store, url: receiver.url, secret: Self.secret, logger: GatewayTestServer.logger)

                // First attempt: 500; the next one is due a second later.
                // The retry is due the backoff after the attempt failed, which is between these instants.
                var attemptedAt = Reconciler.now()
                #expect(await sender.deliverDue() == 0)
                var failedBy = Reconciler.now()
                var queued = try #require(try await server.store.dueWebhooks(now: .max).first)
                #expect(queued.attempts == 1)
                #expect(((attemptedAt + 1000)...(failedBy + 1000)).contains(queued.nextAttempt), "retry in \(queued.nextAttempt - attemptedAt) ms")
                #expect(try await server.store.nextWebhookAttempt() == queued.nextAttempt)
                #expect(try await server.store.dueWebhooks(now: queued.nextAttempt - 1).isEmpty)
                #expect(await sender.deliverDue() == 0)
                #expect(await receiver.requests.count == 1, "nothing is sent before the retry is due")

                // Second attempt: 500 again; the wait doubles.
                try await waitUntil(queued.nextAttempt)
                attemptedAt = Reconciler.now()
                #expect(await sender.deliverDue() == 0)
                failedBy = Reconciler.now()
                queued = try #require(try await server.store.dueWebhooks(now: .max).first)
                #expect(queued.attempts == 2)
                #expect(((attemptedAt + 2000)...(failedBy + 2000)).contains(queued.nextAttempt), "retry in \(queued.nextAttempt - attemptedAt) ms")

                // Third attempt: delivered.
                try await waitUntil(queued.nextAttempt)
                #expect(await sender.deliverDue() == 1)
                #expect(try await server.store.nextWebhookAttempt() == nil)
                let requests = await receiver.requests
                #expect(requests.map(\.status) == [500, 500, 200])
                #expect(Set(requests.compactMap { $0.header("X-Portcullis-Delivery") }) == [queued.id], "each retry is the same delivery")
                for request in requests {
                    let timestamp = try #require(request.header("X-Portcullis-Timestamp").flatMap { Int64($0) })
                    #expect(request.header("X-Portcullis-Signature") == expectedSignature(body: request.body, timestamp: timestamp, delivery: queued.id, secret: Self.secret))
                }
            }
        }
    }

    @Test func provisioningAnActiveUserAnnouncesAWorkingLink() async throws {
        try await WebhookReceiver.run { receiver in
            let settings = EnrollmentSettings(
                publicURL: "https://vpn.example.com/", automatic: true, webhookURL: receiver.url.absoluteString, webhookSecret: Self.secret)
            try await GatewayTestServer.run(enrollment: settings) { server in
                let user = try await server.createUser(
                    "ada@example.com", ["displayName": "Ada Lovelace", "emails": [["value": "ada@example.com", "primary": true]]])
                let queued = try await server.store.dueWebhooks(now: .max)
                let message = try #require(queued.first)
                #expect(queued.count == 1)
                #expect(message.event == "user.provisioned")
                let payload = try JSONParser.parse(message.payload)
                #expect(payload.field("event") == "user.provisioned")
                #expect(payload.field("user")?.field("id")?.stringValue == user)
                #expect(payload.field("user")?.field("userName") == "ada@example.com")
                #expect(payload.field("user")?.field("displayName") == "Ada Lovelace")
                #expect(payload.field("user")?.field("emails") == ["ada@example.com"])
                #expect(payload.field("routes") == nil)
                #expect(payload.field("sentAt")?.stringValue.flatMap(SCIMDateTime.parse) != nil)
                let url = try #require(payload.field("enrollment")?.field("url")?.stringValue)
                #expect(url.hasPrefix("https://vpn.example.com/enroll/"), "\(url)")
                let expires = try #require(payload.field("enrollment")?.field("expiresAt")?.stringValue.flatMap(SCIMDateTime.parse))
                #expect(abs(expires - (Reconciler.now() + settings.linkLifetime)) < 10_000)

                let page = try await server.anonymous(.get, pagePath(url))
                #expect(page.status == .ok)
                #expect(page.text.contains("Ada Lovelace"))
                let enrolled = try await server.anonymous(.post, pagePath(url), form: [("name", "laptop")])
                #expect(enrolled.status == .created, "\(enrolled.text)")

                let sender = WebhookSender(store: server.store, url: receiver.url, secret: Self.secret, logger: GatewayTestServer.logger)
                #expect(await sender.deliverDue() == 1)
                let request = try #require(await receiver.requests.first)
                #expect(request.body == message.payload)
                #expect(request.header("X-Portcullis-Event") == "user.provisioned")
            }
        }
    }

    @Test func inactiveUsersAndManualSettingsAnnounceNothing() async throws {
        let hook = "http://localhost:9/hook"
        try await GatewayTestServer.run(enrollment: EnrollmentSettings(automatic: true, webhookURL: hook)) { server in
            try await server.createUser("bob", ["active": false])
            #expect(try await server.store.dueWebhooks(now: .max).isEmpty)
            #expect(try await server.store.nextWebhookAttempt() == nil)
        }
        try await GatewayTestServer.run(enrollment: EnrollmentSettings(automatic: false, webhookURL: hook)) { server in
            let user = try await server.createUser("carol")
            #expect(try await server.store.dueWebhooks(now: .max).isEmpty)
            #expect(try await server.store.enrollments(ofUser: user).isEmpty)
        }
        try await GatewayTestServer.run(enrollment: EnrollmentSettings(automatic: true)) { server in
            let user = try await server.createUser("dave")
            #expect(try await server.store.dueWebhooks(now: .max).isEmpty)
            #expect(try await server.store.enrollments(ofUser: user).isEmpty)
        }
    }

    @Test func aNewGroupThatChangesRoutesAnnouncesThem() async throws {
        let settings = EnrollmentSettings(publicURL: "https://vpn.example.com", automatic: true, webhookURL: "http://localhost:9/hook")
        try await GatewayTestServer.run(enrollment: settings, allowedIPsMode: .user) { server in
            let user = try await server.createUser("ada")
            let provisioned = try await server.store.dueWebhooks(now: .max)
            #expect(provisioned.map(\.event) == ["user.provisioned"])
            for message in provisioned { try await server.store.webhookDelivered(id: message.id) }

            let group: JSON = ["schemas": [.string(URN.group)], "displayName": "Engineering", "members": [["value": .string(user)]]]
            let created = try await server.send(.post, "/scim/v2/Groups", body: group.jsonText, bearer: .token(server.scimToken))
            #expect(created.status == .created, "\(created.text)")
            let queued = try await server.store.dueWebhooks(now: .max)
            #expect(queued.map(\.event) == ["user.routes_changed"], "joining a group with access changes what the config must route")
            let payload = try JSONParser.parse(try #require(queued.first).payload)
            #expect(payload.field("routes") == ["10.20.1.10/32"])
            #expect(payload.field("user")?.field("id")?.stringValue == user)
        }
    }
}

/// HMAC-SHA256 over `<timestamp>.<body>`, as a receiver checks it.
private func expectedSignature(body: String, timestamp: Int64, delivery: String, secret: [UInt8]) -> String {
    let code = HMAC<SHA256>.authenticationCode(for: Data("\(timestamp).\(delivery).\(body)".utf8), using: SymmetricKey(data: secret))
    return "sha256=" + code.map { String(format: "%02x", $0) }.joined()
}

/// Sleeps until the clock of the store and the sender reaches `milliseconds`.
private func waitUntil(_ milliseconds: Int64) async throws {
    while Reconciler.now() < milliseconds {
        try await Task.sleep(for: .milliseconds(max(1, min(100, milliseconds - Reconciler.now()))))
    }
}

/// A webhook receiver on a loopback port: records every request and answers 500 to the first
/// `failing` ones, 200 after.
actor WebhookReceiver {
    struct Received: Sendable {
        let method: HTTPRequest.Method
        let headers: HTTPFields
        let body: String
        let status: Int

        func header(_ name: String) -> String? {
            HTTPField.Name(name).flatMap { headers[$0] }
        }
    }

    private(set) var requests: [Received] = []
    private var failuresLeft: Int
    nonisolated let url: URL

    private init(failing: Int, url: URL) {
        failuresLeft = failing
        self.url = url
    }

    func record(method: HTTPRequest.Method, headers: HTTPFields, body: String) -> HTTPResponse.Status {
        let status: HTTPResponse.Status = failuresLeft > 0 ? .internalServerError : .ok
        failuresLeft = max(0, failuresLeft - 1)
        requests.append(Received(method: method, headers: headers, body: body, status: status.code))
        return status
    }

    static func run(failing: Int = 0, _ body: @Sendable (WebhookReceiver) async throws -> Void) async throws {
        let box = ReceiverBox()
        let router = Router()
        router.post("hook") { request, _ -> Response in
            let bytes = try await request.body.collect(upTo: 1 << 20)
            guard let receiver = await box.receiver else { return Response(status: .serviceUnavailable) }
            let status = await receiver.record(method: request.method, headers: request.headers, body: String(buffer: bytes))
            return Response(status: status)
        }
        let app = Application(router: router, logger: GatewayTestServer.logger)
        try await app.test(.live) { client in
            let port = try #require(client.port)
            let receiver = WebhookReceiver(failing: failing, url: try #require(URL(string: "http://localhost:\(port)/hook")))
            await box.set(receiver)
            try await body(receiver)
        }
    }
}

/// Lets the receiver's route reach the receiver made once the port is known.
private actor ReceiverBox {
    var receiver: WebhookReceiver?

    func set(_ receiver: WebhookReceiver) {
        self.receiver = receiver
    }
}
