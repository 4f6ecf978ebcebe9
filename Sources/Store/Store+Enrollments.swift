import Foundation
import SCIM

/// A one-time enrollment link: its secret exists only in the URL given out; the store keeps its hash.
public struct Enrollment: Sendable, Hashable {
    public let id: String
    public let userID: String
    /// Milliseconds since 1970.
    public let created: Int64
    public let expires: Int64
    /// When it was used, if it was.
    public let used: Int64?
    /// The device it created.
    public let deviceID: String?
}

/// A webhook message waiting to be delivered (or retried).
public struct WebhookDelivery: Sendable, Hashable {
    public let id: String
    public let event: String
    /// The JSON body, exactly as it is signed and sent.
    public let payload: String
    public let created: Int64
    public let attempts: Int
    public let nextAttempt: Int64
}

/// Why an enrollment link cannot be used.
public enum EnrollmentError: Error, Sendable, Equatable {
    case unknown
    case used
    case expired
    /// The user it is for is deactivated: the link gives nothing while they are, and is not used up.
    case userInactive
}

// Enrollment links and the webhook outbox.

extension Store {
    /// Creates a link for `userID` valid `ttl` milliseconds; returns its secret (for the URL) once.
    public func createEnrollment(userID: String, ttl: Int64) async throws -> (secret: String, enrollment: Enrollment) {
        let secret = Self.newTokenSecret().replacingOccurrences(of: "pcl_", with: "")
        let hash = Self.hash(secret)
        let actor = AuditContext.current
        let enrollment = try await database.write { connection in
            guard try Self.exists("SELECT 1 FROM scim_users WHERE id = ?", userID, connection: connection) else {
                throw DeviceError.unknownUser(userID)
            }
            let now = Self.now()
            let enrollment = Enrollment(id: Self.newIdentifier(), userID: userID, created: now, expires: now + ttl, used: nil, deviceID: nil)
            try connection.prepare("INSERT INTO enrollments (id, token_hash, user_id, created, expires) VALUES (?, ?, ?, ?, ?)")
                .bind(.text(enrollment.id), .blob(hash), .text(userID), .integer(Int(now)), .integer(Int(enrollment.expires))).run()
            try Self.appendAudit(
                AuditEntry(action: "enrollment.create", target: "enrollment/" + enrollment.id, userID: userID, details: ["expires": .integer(Int(enrollment.expires))]),
                actor: actor, at: now, connection: connection)
            return enrollment
        }
        return (secret, enrollment)
    }

    /// A short name for the link whose secret is `secret`, for logs: the first 8 hex digits of the hash
    /// the store keeps. Lines of one link share it; it does not let anyone use the link.
    public static func enrollmentFingerprint(secret: String) -> String {
        hash(secret).prefix(4).map { byte in (byte < 16 ? "0" : "") + String(byte, radix: 16) }.joined()
    }

    /// The link whose secret is `secret`, used or not, or nil.
    public func enrollment(secret: String) async throws -> Enrollment? {
        let hash = Self.hash(secret)
        return try await database.read { connection in
            try Self.queryEnrollment("SELECT \(Self.enrollmentColumns) FROM enrollments WHERE token_hash = ?", .blob(hash), connection: connection)
        }
    }

    /// Uses the link: exactly one caller can, only before it expires, and only while its user is active.
    /// The link is claimed in one transaction, then `createDevice` runs; if it fails the claim is
    /// released, so a link is never spent without its device.
    public func consumeEnrollment(
        secret: String, now: Int64, createDevice: @escaping @Sendable (Enrollment) async throws -> Device
    ) async throws -> (Enrollment, Device) {
        let hash = Self.hash(secret)
        // Claim first (one transaction), then create the device; release the claim if that fails.
        let claimed = try await database.write { connection -> Enrollment in
            guard
                let enrollment = try Self.queryEnrollment(
                    "SELECT \(Self.enrollmentColumns) FROM enrollments WHERE token_hash = ?", .blob(hash), connection: connection)
            else { throw EnrollmentError.unknown }
            guard enrollment.used == nil else { throw EnrollmentError.used }
            guard enrollment.expires > now else { throw EnrollmentError.expired }
            guard try Self.exists("SELECT 1 FROM scim_users WHERE id = ? AND active = 1", enrollment.userID, connection: connection) else {
                throw EnrollmentError.userInactive
            }
            try connection.prepare("UPDATE enrollments SET used = ? WHERE id = ? AND used IS NULL").bind(.integer(Int(now)), .text(enrollment.id)).run()
            guard connection.changes == 1 else { throw EnrollmentError.used }
            return enrollment
        }
        do {
            let device = try await createDevice(claimed)
            let actor = AuditContext.current
            try await database.write { connection in
                try connection.prepare("UPDATE enrollments SET device_id = ? WHERE id = ?").bind(.text(device.id), .text(claimed.id)).run()
                try Self.appendAudit(
                    AuditEntry(action: "enrollment.use", target: "enrollment/" + claimed.id, userID: claimed.userID, details: ["device": .string(device.id)]),
                    actor: actor, at: now, connection: connection)
            }
            return (claimed, device)
        } catch {
            try? await database.write { connection in
                try connection.prepare("UPDATE enrollments SET used = NULL WHERE id = ?").bind(.text(claimed.id)).run()
            }
            throw error
        }
    }

    /// The links of one user, newest first.
    public func enrollments(ofUser userID: String) async throws -> [Enrollment] {
        try await database.read { connection in
            let statement = try connection.prepare("SELECT \(Self.enrollmentColumns) FROM enrollments WHERE user_id = ? ORDER BY created DESC")
            try statement.bind(.text(userID))
            var enrollments: [Enrollment] = []
            while try statement.step() { enrollments.append(Self.enrollment(row: statement)) }
            return enrollments
        }
    }

    // MARK: Webhook outbox

    /// Queues a webhook message; it is delivered (and retried) by the server's webhook sender.
    public func enqueueWebhook(event: String, payload: String) async throws {
        try await database.write { connection in
            let now = Self.now()
            try connection.prepare("INSERT INTO webhook_deliveries (id, event, payload, created, next_attempt) VALUES (?, ?, ?, ?, ?)")
                .bind(.text(Self.newIdentifier()), .text(event), .text(payload), .integer(Int(now)), .integer(Int(now))).run()
        }
    }

    /// Messages due at `now`, oldest first.
    public func dueWebhooks(now: Int64, limit: Int = 50) async throws -> [WebhookDelivery] {
        try await database.read { connection in
            let statement = try connection.prepare(
                "SELECT id, event, payload, created, attempts, next_attempt FROM webhook_deliveries WHERE next_attempt <= ? ORDER BY next_attempt, created LIMIT ?")
            try statement.bind(.integer(Int(now)), .integer(limit))
            var due: [WebhookDelivery] = []
            while try statement.step() {
                due.append(
                    WebhookDelivery(
                        id: statement.text(0), event: statement.text(1), payload: statement.text(2), created: Int64(statement.int(3)),
                        attempts: statement.int(4), nextAttempt: Int64(statement.int(5))))
            }
            return due
        }
    }

    /// The earliest time a message is due, if any is queued.
    public func nextWebhookAttempt() async throws -> Int64? {
        try await database.read { connection in
            let statement = try connection.prepare("SELECT min(next_attempt) FROM webhook_deliveries")
            guard try statement.step() else { return nil }
            return statement.optionalInt(0).map(Int64.init)
        }
    }

    /// Forgets a delivered message.
    public func webhookDelivered(id: String) async throws {
        try await database.write { connection in
            try connection.prepare("DELETE FROM webhook_deliveries WHERE id = ?").bind(.text(id)).run()
        }
    }

    /// Records a failed attempt and when to try again.
    public func webhookFailed(id: String, error: String, retryAt: Int64) async throws {
        try await database.write { connection in
            try connection.prepare("UPDATE webhook_deliveries SET attempts = attempts + 1, next_attempt = ?, last_error = ? WHERE id = ?")
                .bind(.integer(Int(retryAt)), .text(error), .text(id)).run()
        }
    }

    // MARK: Rows

    static let enrollmentColumns = "id, user_id, created, expires, used, device_id"

    static func queryEnrollment(_ sql: String, _ parameter: SQLiteValue, connection: SQLiteConnection) throws -> Enrollment? {
        let statement = try connection.prepare(sql)
        try statement.bind(parameter)
        guard try statement.step() else { return nil }
        return enrollment(row: statement)
    }

    static func enrollment(row: SQLiteStatement) -> Enrollment {
        Enrollment(
            id: row.text(0), userID: row.text(1), created: Int64(row.int(2)), expires: Int64(row.int(3)),
            used: row.optionalInt(4).map(Int64.init), deviceID: row.optionalText(5))
    }
}
