import Crypto
public import Foundation
public import Logging
public import ServiceLifecycle
public import Store

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Delivers queued webhook messages: POST with the JSON body, signed with HMAC-SHA256 in
/// `X-Portcullis-Signature: sha256=<hex>` over `<timestamp>.<delivery id>.<body>` (the timestamp in
/// `X-Portcullis-Timestamp`, the id in `X-Portcullis-Delivery`), so a receiver can refuse replays:
/// old timestamps, and ids it has seen. Retried with exponential backoff (1 s doubling, at most
/// 1 hour) under the same delivery id until the receiver answers 2xx. Messages are kept in the
/// database, so restarts lose none.
public final class WebhookSender: Service, Sendable {
    private let store: Store
    private let url: URL
    private let secret: [UInt8]
    private let logger: Logger

    public init(store: Store, url: URL, secret: [UInt8], logger: Logger) {
        self.store = store
        self.url = url
        self.secret = secret
        self.logger = logger
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown { [self] in
            while !Task.isCancelled {
                await deliverDue()
                try? await Task.sleep(for: .milliseconds(250))
            }
        }
    }

    /// Sends every message that is due once; returns how many were delivered.
    @discardableResult
    public func deliverDue() async -> Int {
        let now = Self.now()
        guard let due = try? await store.dueWebhooks(now: now) else { return 0 }
        var delivered = 0
        for message in due {
            do {
                try await send(message)
                try await store.webhookDelivered(id: message.id)
                delivered += 1
                logger.info("webhook delivered", metadata: ["event": "\(message.event)", "attempts": "\(message.attempts + 1)"])
            } catch {
                let delay = Self.backoff(attempts: message.attempts + 1)
                try? await store.webhookFailed(id: message.id, error: "\(error)", retryAt: Self.now() + delay)
                logger.warning(
                    "webhook delivery failed; will retry",
                    metadata: ["event": "\(message.event)", "attempts": "\(message.attempts + 1)", "retry_in_ms": "\(delay)", "error": "\(error)"])
            }
        }
        return delivered
    }

    /// 1 s, 2 s, 4 s, ... at most one hour.
    static func backoff(attempts: Int) -> Int64 {
        let exponent = Int64(min(max(attempts - 1, 0), 12))
        return min(Int64(1000) << exponent, 3_600_000)
    }

    /// The signature header value for delivery `deliveryID` of a body sent at `timestamp` (seconds since 1970).
    public static func signature(body: String, timestamp: Int64, deliveryID: String, secret: [UInt8]) -> String {
        let key = SymmetricKey(data: secret)
        let mac = HMAC<SHA256>.authenticationCode(for: Array("\(timestamp).\(deliveryID).\(body)".utf8), using: key)
        return "sha256=" + mac.map { String(format: "%02x", $0) }.joined()
    }

    private func send(_ message: WebhookDelivery) async throws {
        let timestamp = Self.now() / 1000
        var request = URLRequest(url: url)
        request.httpMethod = "POST"
        request.timeoutInterval = 10
        request.httpBody = Data(message.payload.utf8)
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.setValue(message.event, forHTTPHeaderField: "X-Portcullis-Event")
        request.setValue(message.id, forHTTPHeaderField: "X-Portcullis-Delivery")
        request.setValue(String(timestamp), forHTTPHeaderField: "X-Portcullis-Timestamp")
        request.setValue(Self.signature(body: message.payload, timestamp: timestamp, deliveryID: message.id, secret: secret), forHTTPHeaderField: "X-Portcullis-Signature")
        let (_, response) = try await URLSession.shared.data(for: request)
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        guard (200..<300).contains(status) else { throw WebhookError(status: status) }
    }

    static func now() -> Int64 {
        Int64((Date().timeIntervalSince1970 * 1000).rounded(.down))
    }

    struct WebhookError: Error, CustomStringConvertible {
        let status: Int
        var description: String { "the receiver answered \(status)" }
    }
}
