import Foundation
import Testing
@testable import Store

struct TokenStoreTests {
    @Test func createdTokenAuthenticatesWithItsScope() async throws {
        let temporary = try TemporaryStore()
        let secret = try temporary.store.createToken(name: "okta", scope: .scim)
        #expect(secret.hasPrefix("pcl_"))
        #expect(secret.count == 47)  // "pcl_" + 256 bits in unpadded base64url
        let token = try await temporary.store.authenticate(secret)
        #expect(token?.name == "okta")
        #expect(token?.scope == .scim)
    }

    @Test func wrongOrTruncatedTokensDoNotAuthenticate() async throws {
        let temporary = try TemporaryStore()
        let secret = try temporary.store.createToken(name: "okta", scope: .scim)
        #expect(try await temporary.store.authenticate(String(secret.dropLast())) == nil)
        #expect(try await temporary.store.authenticate(secret + "x") == nil)
        #expect(try await temporary.store.authenticate("") == nil)
    }

    @Test func theDatabaseHoldsOnlyAHashOfTheSecret() async throws {
        let temporary = try TemporaryStore()
        let secret = try temporary.store.createToken(name: "okta", scope: .admin)
        let secretBytes = Data(secret.utf8)
        for suffix in ["", "-wal"] {
            if let contents = FileManager.default.contents(atPath: temporary.databasePath + suffix) {
                #expect(contents.range(of: secretBytes) == nil)
            }
        }
        let stored = try temporary.store.database.readNow { connection in
            let statement = try connection.prepare("SELECT hash FROM tokens WHERE name = 'okta'")
            _ = try statement.step()
            return statement.blob(0)
        }
        #expect(stored == Store.hash(secret))
        #expect(stored.count == 32)
    }

    @Test func revokedTokenStopsWorkingAndNamesAreUnique() async throws {
        let temporary = try TemporaryStore()
        let secret = try temporary.store.createToken(name: "okta", scope: .scim)
        #expect(throws: (any Error).self) { _ = try temporary.store.createToken(name: "okta", scope: .admin) }
        #expect(try temporary.store.revokeToken(name: "okta"))
        #expect(try await temporary.store.authenticate(secret) == nil)
        #expect(try temporary.store.revokeToken(name: "okta") == false)
        #expect(try temporary.store.tokens().isEmpty)
    }

    @Test func tokensChangedByAnotherProcessCountAtOnceBetweenOtherWrites() async throws {
        let temporary = try TemporaryStore()
        let first = try temporary.store.createToken(name: "okta", scope: .scim)
        #expect(try await temporary.store.authenticate(first)?.name == "okta")
        // Another writer (the CLI is another process with its own connections).
        let other = try Store(directory: temporary.directory)
        _ = try await temporary.createUser(userName: "ada@example.com")
        #expect(try await temporary.store.authenticate(first)?.scope == .scim)

        let second = try other.createToken(name: "entra", scope: .scim)
        #expect(try await temporary.store.authenticate(second)?.name == "entra")
        _ = try await temporary.createUser(userName: "bob@example.com")
        #expect(try other.revokeToken(name: "okta"))
        #expect(try await temporary.store.authenticate(first) == nil)
        #expect(try await temporary.store.authenticate(second)?.name == "entra")

        // An update counts too (no command does one today; the trigger is there for the day one does).
        try other.database.writeNow { connection in
            try connection.prepare("UPDATE tokens SET scope = 'admin' WHERE name = 'entra'").run()
        }
        #expect(try await temporary.store.authenticate(second)?.scope == .admin)
    }

    @Test func theFirstTokenIsMadeOnlyOnADatabaseThatNeverHadOne() async throws {
        let temporary = try TemporaryStore()
        var handedOver: [String] = []
        let first = try #require(try temporary.store.createFirstToken(name: "initial", scope: .scim) { handedOver.append($0) })
        #expect(handedOver == [first])
        #expect(try await temporary.store.authenticate(first)?.name == "initial")
        #expect(try await temporary.store.authenticate(first)?.scope == .scim)
        #expect(try temporary.store.createFirstToken(name: "initial", scope: .scim) { _ in Issue.record("a token exists") } == nil)

        // Every token revoked, as after an incident: none is made again, also not by another process.
        #expect(try temporary.store.revokeToken(name: "initial"))
        #expect(try temporary.store.tokens().isEmpty)
        #expect(try temporary.store.createFirstToken(name: "initial", scope: .scim) { _ in Issue.record("a token existed") } == nil)
        let reopened = try Store(directory: temporary.directory)
        #expect(try reopened.createFirstToken(name: "initial", scope: .scim) { _ in Issue.record("a token existed") } == nil)
        #expect(try reopened.tokens().isEmpty)
    }

    @Test func aTokenRevokedBeforeTheChangeCountExistedStillCounts() throws {
        let temporary = try TemporaryStore()
        _ = try temporary.store.createToken(name: "okta", scope: .scim)
        #expect(try temporary.store.revokeToken(name: "okta"))
        // As in a database whose tokens were all revoked before migration 6 added the count.
        try temporary.store.database.writeNow { connection in
            try connection.prepare("UPDATE token_changes SET count = 0").run()
        }
        #expect(try temporary.store.createFirstToken(name: "initial", scope: .scim) { _ in Issue.record("the audit log shows a token") } == nil)
    }

    @Test func aFirstTokenThatCannotBeHandedOverIsNotKept() async throws {
        struct Undeliverable: Error {}
        let temporary = try TemporaryStore()
        var refused: String?
        #expect(throws: Undeliverable.self) {
            _ = try temporary.store.createFirstToken(name: "initial", scope: .scim) { secret in
                refused = secret
                throw Undeliverable()
            }
        }
        #expect(try temporary.store.tokens().isEmpty)
        #expect(try await temporary.store.authenticate(try #require(refused)) == nil)
        let secret = try #require(try temporary.store.createFirstToken(name: "initial", scope: .scim) { _ in })
        #expect(try await temporary.store.authenticate(secret)?.name == "initial")
    }

    @Test func everyTokenIsDifferent() throws {
        let temporary = try TemporaryStore()
        let secrets = try (0..<20).map { try temporary.store.createToken(name: "t\($0)", scope: .scim) }
        #expect(Set(secrets).count == 20)
        #expect(try temporary.store.tokens().map(\.name).sorted() == (0..<20).map { "t\($0)" }.sorted())
    }

    @Test(arguments: [([UInt8]([1, 2, 3]), [UInt8]([1, 2, 3]), true), ([1, 2, 3], [1, 2, 4], false), ([1, 2], [1, 2, 3], false)])
    func constantTimeComparison(_ lhs: [UInt8], _ rhs: [UInt8], _ equal: Bool) {
        #expect(Store.constantTimeEquals(lhs, rhs) == equal)
    }
}
