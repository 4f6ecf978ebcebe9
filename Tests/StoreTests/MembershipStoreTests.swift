import SCIM
import Testing
@testable import Store

struct MembershipStoreTests {
    @Test func groupMembersGetTheirTypeAndUsersSeeDirectAndIndirectGroups() async throws {
        let temporary = try TemporaryStore()
        let ada = try await temporary.createUser(userName: "ada@example.com")
        let engineering = try await temporary.createGroup("Engineering", members: [ada])
        let everyone = try await temporary.createGroup("Everyone", members: [engineering])

        let members = try #require(try await temporary.store.resource(.group, id: everyone.id)?.attributes["members"])
        #expect(members == [["value": .string(engineering.id), "type": "Group"]])

        let groups = try #require(try await temporary.store.resource(.user, id: ada.id)).groups
        #expect(Set(groups.map(\.displayName)) == ["Engineering", "Everyone"])
        #expect(groups.first { $0.id == engineering.id }?.isDirect == true)
        #expect(groups.first { $0.id == everyone.id }?.isDirect == false)
    }

    @Test func unknownMemberIsInvalidValueAndNothingIsCreated() async throws {
        let temporary = try TemporaryStore()
        await #expect(throws: SCIMError.invalidValue("Member 'ghost' is neither a User nor a Group")) {
            _ = try await temporary.store.create(.group, attributes: ["displayName": "G", "members": [["value": "ghost"]]])
        }
        #expect(try await temporary.store.count(.group) == 0)
    }

    @Test func memberTypeMustMatchTheResource() async throws {
        let temporary = try TemporaryStore()
        let ada = try await temporary.createUser(userName: "ada@example.com")
        await #expect(throws: SCIMError.self) {
            _ = try await temporary.store.create(.group, attributes: ["displayName": "G", "members": [["value": .string(ada.id), "type": "Group"]]])
        }
    }

    @Test func aGroupCannotContainItself() async throws {
        let temporary = try TemporaryStore()
        let group = try await temporary.createGroup("Loop")
        await #expect(throws: SCIMError.invalidValue("A group cannot be a member of itself")) {
            _ = try await temporary.store.modify(.group, id: group.id) { current in
                var attributes = current.attributes
                attributes["members"] = [["value": .string(group.id)]]
                return attributes
            }
        }
    }

    @Test func nestedGroupCyclesDoNotLoopForever() async throws {
        let temporary = try TemporaryStore()
        let ada = try await temporary.createUser(userName: "ada@example.com")
        let first = try await temporary.createGroup("First", members: [ada])
        let second = try await temporary.createGroup("Second", members: [first])
        _ = try await temporary.store.modify(.group, id: first.id) { current in
            var attributes = current.attributes
            attributes["members"] = [["value": .string(ada.id)], ["value": .string(second.id)]]
            return attributes
        }
        let groups = try #require(try await temporary.store.resource(.user, id: ada.id)).groups
        #expect(groups.count == 2)
    }

    @Test func deletingAUserRemovesItsMembershipsAndMovesTheGroupVersion() async throws {
        let temporary = try TemporaryStore()
        let ada = try await temporary.createUser(userName: "ada@example.com")
        let bob = try await temporary.createUser(userName: "bob@example.com")
        let group = try await temporary.createGroup("Engineering", members: [ada, bob])
        try await temporary.store.delete(.user, id: ada.id)
        let after = try #require(try await temporary.store.resource(.group, id: group.id))
        #expect(after.attributes["members"] == [["value": .string(bob.id), "type": "User"]])
        #expect(after.version == group.version + 1)
    }

    @Test func deletingAGroupRemovesItFromItsParents() async throws {
        let temporary = try TemporaryStore()
        let child = try await temporary.createGroup("Child")
        let parent = try await temporary.createGroup("Parent", members: [child])
        try await temporary.store.delete(.group, id: child.id)
        let after = try #require(try await temporary.store.resource(.group, id: parent.id))
        #expect(after.attributes["members"] == nil)
    }

    @Test func groupDisplayNameIsUniqueIgnoringCase() async throws {
        let temporary = try TemporaryStore()
        _ = try await temporary.createGroup("Engineering")
        await #expect(throws: SCIMError.uniqueness("A group named 'ENGINEERING' already exists")) {
            _ = try await temporary.createGroup("ENGINEERING")
        }
    }

    @Test func replacingMembersWritesOnlyTheDifference() async throws {
        let temporary = try TemporaryStore()
        let users = try await (0..<3).asyncMap { try await temporary.createUser(userName: "u\($0)@example.com") }
        let group = try await temporary.createGroup("G", members: [users[0], users[1]])
        let updated = try await temporary.store.modify(.group, id: group.id) { current in
            var attributes = current.attributes
            attributes["members"] = [["value": .string(users[1].id)], ["value": .string(users[2].id)]]
            return attributes
        }
        let ids = Set(updated.attributes["members"]?.arrayValue?.compactMap { $0.objectValue?["value"]?.stringValue } ?? [])
        #expect(ids == [users[1].id, users[2].id])
        #expect(try await temporary.store.resource(.user, id: users[0].id)?.groups.isEmpty == true)
    }
}

extension Sequence {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var results: [T] = []
        for element in self { results.append(try await transform(element)) }
        return results
    }
}
