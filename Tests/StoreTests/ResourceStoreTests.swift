import Foundation
import SCIM
import Testing
@testable import Store

struct ResourceStoreTests {
    @Test func createdUserGetsAUUIDAndVersionOneAndReadsBack() async throws {
        let temporary = try TemporaryStore()
        let user = try await temporary.createUser(#"{"userName": "ada@example.com", "externalId": "okta-1", "name": {"givenName": "Ada"}}"#)
        #expect(UUID(uuidString: user.id) != nil)
        #expect(user.version == 1)
        #expect(user.created == user.lastModified)
        let read = try await temporary.store.resource(.user, id: user.id)
        #expect(read == user)
        #expect(read?.attributes["name"] == ["givenName": "Ada"])
    }

    @Test(arguments: ["ADA@example.com", "ada@EXAMPLE.COM", "ada@example.com"])
    func userNameIsUniqueIgnoringCase(_ second: String) async throws {
        let temporary = try TemporaryStore()
        _ = try await temporary.createUser(userName: "ada@example.com")
        await #expect(throws: SCIMError.uniqueness("userName '\(second)' is already taken")) {
            _ = try await temporary.createUser(userName: second)
        }
        #expect(try await temporary.store.count(.user) == 1)
    }

    @Test func renamingOntoATakenUserNameFailsAndChangesNothing() async throws {
        let temporary = try TemporaryStore()
        _ = try await temporary.createUser(userName: "first@example.com")
        let second = try await temporary.createUser(userName: "second@example.com")
        await #expect(throws: SCIMError.self) {
            _ = try await temporary.store.replace(.user, id: second.id, attributes: ["userName": "FIRST@example.com"])
        }
        let unchanged = try await temporary.store.resource(.user, id: second.id)
        #expect(unchanged?.attributes["userName"] == "second@example.com")
        #expect(unchanged?.version == 1)
    }

    @Test func replaceMovesTheVersionAndKeepsIdAndCreated() async throws {
        let temporary = try TemporaryStore()
        let user = try await temporary.createUser(userName: "ada@example.com")
        let replaced = try await temporary.store.replace(.user, id: user.id, attributes: ["userName": "ada@example.com", "title": "Engineer"])
        #expect(replaced.id == user.id)
        #expect(replaced.created == user.created)
        #expect(replaced.version == 2)
        #expect(replaced.lastModified >= user.lastModified)
        #expect(replaced.attributes["active"] == nil)
        #expect(replaced.attributes["title"] == "Engineer")
    }

    @Test func aModificationThatChangesNothingKeepsTheVersion() async throws {
        let temporary = try TemporaryStore()
        let user = try await temporary.createUser(userName: "ada@example.com")
        let same = try await temporary.store.modify(.user, id: user.id) { $0.attributes }
        #expect(same.version == 1)
        #expect(same.lastModified == user.lastModified)
    }

    @Test func staleIfMatchIsRefusedWith412AndWildcardPasses() async throws {
        let temporary = try TemporaryStore()
        let user = try await temporary.createUser(userName: "ada@example.com")
        let updated = try await temporary.store.replace(
            .user, id: user.id, attributes: ["userName": "ada@example.com", "title": "A"], ifMatch: user.etag)
        await #expect(throws: SCIMError.self) {
            _ = try await temporary.store.replace(.user, id: user.id, attributes: ["userName": "ada@example.com"], ifMatch: user.etag)
        }
        do {
            try await temporary.store.delete(.user, id: user.id, ifMatch: #"W/"1""#)
            Issue.record("a stale If-Match must not delete")
        } catch let error as SCIMError {
            #expect(error.status == 412)
        }
        try await temporary.store.delete(.user, id: updated.id, ifMatch: "*")
        #expect(try await temporary.store.resource(.user, id: user.id) == nil)
    }

    @Test func operationsOnAMissingResourceAre404() async throws {
        let temporary = try TemporaryStore()
        await #expect(throws: SCIMError.notFound("User nope not found")) {
            try await temporary.store.delete(.user, id: "nope")
        }
        await #expect(throws: SCIMError.notFound("Group nope not found")) {
            _ = try await temporary.store.modify(.group, id: "nope") { $0.attributes }
        }
    }

    @Test func activeColumnFollowsTheActiveAttributeAndDefaultsToTrue() async throws {
        let temporary = try TemporaryStore()
        let active = try await temporary.createUser(#"{"userName": "a@example.com"}"#)
        let inactive = try await temporary.createUser(userName: "b@example.com", active: false)
        let values = try temporary.store.database.readNow { connection in
            let statement = try connection.prepare("SELECT id, active FROM scim_users")
            var values: [String: Int] = [:]
            while try statement.step() { values[statement.text(0)] = statement.int(1) }
            return values
        }
        #expect(values[active.id] == 1)
        #expect(values[inactive.id] == 0)
    }

    @Test func concurrentCreatesAllCommit() async throws {
        let temporary = try TemporaryStore()
        let store = temporary.store
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<50 {
                group.addTask {
                    _ = try await store.create(.user, attributes: ["userName": .string("user\(index)@example.com")])
                }
            }
            try await group.waitForAll()
        }
        #expect(try await store.count(.user) == 50)
    }
}

struct IdentifierTests {
    @Test func identifiersAreVersion7UUIDsInLowercase() {
        let identifiers = (0..<1000).map { _ in Store.newIdentifier() }
        #expect(Set(identifiers).count == 1000)
        for identifier in identifiers {
            #expect(identifier.range(of: "^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$", options: .regularExpression) != nil)
            #expect(UUID(uuidString: identifier) != nil)
        }
    }

    @Test(arguments: [Int64(0), 1, 1_798_761_600_000, 0xFFFF_FFFF_FFFF])
    func theFirst48BitsAreTheMillisecond(milliseconds: Int64) throws {
        let identifier = Store.newIdentifier(at: milliseconds)
        let hex = identifier.replacingOccurrences(of: "-", with: "")
        #expect(try #require(UInt64(hex.prefix(12), radix: 16)) == UInt64(milliseconds))
    }

    @Test func laterIdentifiersSortAfterEarlierOnes() {
        let identifiers = (Int64(1_798_761_600_000)..<1_798_761_600_200).map { Store.newIdentifier(at: $0) }
        #expect(identifiers == identifiers.sorted())
    }

    @Test func aCreatedResourcesIdCarriesItsCreationTime() async throws {
        let temporary = try TemporaryStore()
        let user = try await temporary.createUser(#"{"userName": "ada@example.com"}"#)
        let hex = user.id.replacingOccurrences(of: "-", with: "")
        #expect(UInt64(hex.prefix(12), radix: 16) == UInt64(user.created))
    }
}
