import Foundation
import SCIM
import Testing
@testable import Store

/// Enrollment links in the store: their fingerprint for logs, and who may use them.
struct EnrollmentStoreTests {
    @Test func aLinksFingerprintIsTheStartOfItsStoredHash() async throws {
        // SHA-256("abc") is ba7816bf 8f01cfea ... (FIPS 180-2, appendix B.1).
        #expect(Store.enrollmentFingerprint(secret: "abc") == "ba7816bf")
        #expect(Store.enrollmentFingerprint(secret: "abd") != "ba7816bf")
        let temporary = try TemporaryStore()
        let user = try await temporary.createUser(userName: "ada@example.com")
        let (secret, enrollment) = try await temporary.store.createEnrollment(userID: user.id, ttl: 60_000)
        let stored = try temporary.store.database.readNow { connection in
            let statement = try connection.prepare("SELECT token_hash FROM enrollments WHERE id = ?")
            try statement.bind(.text(enrollment.id))
            _ = try statement.step()
            return statement.blob(0)
        }
        let hex = stored.map { String(format: "%02x", $0) }.joined()
        #expect(hex.hasPrefix(Store.enrollmentFingerprint(secret: secret)))
    }

    @Test func aLinkForAnInactiveUserIsRefusedAndNotUsedUp() async throws {
        let temporary = try TemporaryStore()
        let user = try await temporary.createUser(userName: "ada@example.com", active: false)
        let (secret, enrollment) = try await temporary.store.createEnrollment(userID: user.id, ttl: 60_000)
        await #expect(throws: EnrollmentError.userInactive) {
            try await temporary.store.consumeEnrollment(secret: secret, now: enrollment.created) { _ in
                Issue.record("a link for an inactive user must not create a device")
                throw EnrollmentError.userInactive
            }
        }
        #expect(try await temporary.store.enrollment(secret: secret)?.used == nil)
    }
}
