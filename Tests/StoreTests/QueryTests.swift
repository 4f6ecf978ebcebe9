import Foundation
import SCIM
import Testing
@testable import Store

struct QueryTests {
    static let baseURL = "https://vpn.example.com/scim/v2"

    private func seed(_ temporary: TemporaryStore, count: Int) async throws -> [Resource] {
        try await (0..<count).asyncMap { index in
            try await temporary.createUser(
                #"{"userName": "user\#(String(format: "%03d", index))@example.com", "externalId": "ext-\#(index % 3)", "title": "T\#(index % 2)"}"#)
        }
    }

    @Test func unfilteredPagesAreInCreationOrderAndCoverEveryUserOnce() async throws {
        let temporary = try TemporaryStore()
        let users = try await seed(temporary, count: 25)
        var seen: [String] = []
        var startIndex = 1
        while true {
            let page = try await temporary.store.list(.user, filter: nil, sorter: nil, startIndex: startIndex, count: 10, baseURL: Self.baseURL)
            #expect(page.totalResults == 25)
            if page.resources.isEmpty { break }
            seen += page.resources.map(\.id)
            startIndex += page.resources.count
        }
        #expect(seen == users.map(\.id))
    }

    @Test func countZeroGivesOnlyTheTotal() async throws {
        let temporary = try TemporaryStore()
        _ = try await seed(temporary, count: 4)
        let filter = try ResourceFilter(parsing: #"title eq "T0""#, for: .user)
        let page = try await temporary.store.list(.user, filter: filter, sorter: nil, startIndex: 1, count: 0, baseURL: Self.baseURL)
        #expect(page.totalResults == 2)
        #expect(page.resources.isEmpty)
    }

    @Test(arguments: [
        (#"userName eq "USER007@example.com""#, 1),
        (#"externalId eq "ext-1""#, 4),
        (#"externalId eq "EXT-1""#, 0),
        (#"title eq "T1" and externalId eq "ext-0""#, 2),
        (#"userName sw "user00""#, 10),
        (#"not (title eq "T1") or userName ew "011@example.com""#, 7),
    ])
    func filtersAreAnsweredCorrectlyWhetherIndexedOrNot(_ text: String, _ expected: Int) async throws {
        let temporary = try TemporaryStore()
        _ = try await seed(temporary, count: 12)
        let filter = try ResourceFilter(parsing: text, for: .user)
        let page = try await temporary.store.list(.user, filter: filter, sorter: nil, startIndex: 1, count: 100, baseURL: Self.baseURL)
        #expect(page.totalResults == expected)
        #expect(page.resources.allSatisfy { filter.matches($0.representation(baseURL: Self.baseURL)) })
    }

    @Test func sortingByUserNameDescendingPagesThroughInOrder() async throws {
        let temporary = try TemporaryStore()
        _ = try await seed(temporary, count: 9)
        let sorter = try ResourceSorter(sortBy: "userName", order: .descending, for: .user)
        let first = try await temporary.store.list(.user, filter: nil, sorter: sorter, startIndex: 1, count: 5, baseURL: Self.baseURL)
        let second = try await temporary.store.list(.user, filter: nil, sorter: sorter, startIndex: 6, count: 5, baseURL: Self.baseURL)
        let names = (first.resources + second.resources).compactMap { $0.attributes["userName"]?.stringValue }
        #expect(names == names.sorted(by: >))
        #expect(names.count == 9)
    }

    @Test func caseInsensitiveLookupsFindNonASCIINamesInAnyCase() async throws {
        let temporary = try TemporaryStore()
        let stored = "Ærø.İlkay.ŞAHİN@Example.com"
        let user = try await temporary.createUser(userName: stored)
        _ = try await temporary.createUser(userName: "aero.ilkay.sahin@example.com")
        let group = try await temporary.createGroup("Ærø Öffentlichkeit")
        for asked in [stored, stored.lowercased(), stored.uppercased()] {
            let filter = try ResourceFilter(parsing: #"userName eq "\#(asked)""#, for: .user)
            let page = try await temporary.store.list(.user, filter: filter, sorter: nil, startIndex: 1, count: 10, baseURL: Self.baseURL)
            #expect(page.resources.map(\.id) == [user.id], "\(asked)")
        }
        for asked in ["ærø öffentlichkeit", "ÆRØ ÖFFENTLICHKEIT"] {
            let filter = try ResourceFilter(parsing: #"displayName eq "\#(asked)""#, for: .group)
            let page = try await temporary.store.list(.group, filter: filter, sorter: nil, startIndex: 1, count: 10, baseURL: Self.baseURL)
            #expect(page.resources.map(\.id) == [group.id], "\(asked)")
        }
    }

    @Test func aUsersGroupsAreOrderedByFoldedNameWithOrWithoutNesting() async throws {
        let temporary = try TemporaryStore()
        let ada = try await temporary.createUser(userName: "ada@example.com")
        var groups: [String: Resource] = [:]
        for name in ["beta", "Ωmega", "Zeta", "Alpha", "zz-last", "Äpfel"] {
            groups[name] = try await temporary.createGroup(name, members: [ada])
        }
        let direct = try #require(try await temporary.store.resource(.user, id: ada.id)).groups
        // Byte order of the lowercased names: ASCII first, then "ä" (C3 A4), then "ω" (CF 89).
        #expect(direct.map(\.displayName) == ["Alpha", "beta", "Zeta", "zz-last", "Äpfel", "Ωmega"])
        #expect(direct.allSatisfy { $0.isDirect })

        let beta = try #require(groups["beta"])
        let outer = try await temporary.createGroup("Outer", members: [beta])
        let nested = try #require(try await temporary.store.resource(.user, id: ada.id)).groups
        #expect(nested.map(\.displayName) == ["Alpha", "beta", "Outer", "Zeta", "zz-last", "Äpfel", "Ωmega"])
        #expect(nested.filter { !$0.isDirect }.map(\.id) == [outer.id])
    }

    @Test func groupsAreFoundByMember() async throws {
        let temporary = try TemporaryStore()
        let ada = try await temporary.createUser(userName: "ada@example.com")
        let bob = try await temporary.createUser(userName: "bob@example.com")
        let withAda = try await temporary.createGroup("A", members: [ada])
        _ = try await temporary.createGroup("B", members: [bob])
        let filter = try ResourceFilter(parsing: #"members[value eq "\#(ada.id)"]"#, for: .group)
        let page = try await temporary.store.list(.group, filter: filter, sorter: nil, startIndex: 1, count: 10, baseURL: Self.baseURL)
        #expect(page.resources.map(\.id) == [withAda.id])
    }
}

/// `userNames(ids:)`, which names the users of an audit answer: by a pass over an index for many
/// ids, by lookups for a few, and from the attributes when the column is empty.
@Suite("User names for audit answers")
struct UserNameLookupTests {
    @Test("few ids are looked up, many are found in one pass; missing ids are left out", arguments: [1, 3, 9])
    func names(asked: Int) async throws {
        let temporary = try TemporaryStore()
        var users: [Resource] = []
        for index in 0..<9 { users.append(try await temporary.createUser(userName: "User\(index)@Example.com")) }
        let askedUsers = Array(users.prefix(asked))
        let ids = Set(askedUsers.map(\.id)).union(["no-such-user"])
        let (names, missing) = try await temporary.store.userNames(ids: ids)
        let expected = askedUsers.map { ($0.id, "User\(users.firstIndex(of: $0)!)@Example.com") }.sorted { $0.1 < $1.1 }
        #expect(names.map(\.id) == expected.map(\.0), "in userName order")
        #expect(names.map(\.userName) == expected.map(\.1))
        #expect(missing == ["no-such-user"])
    }

    @Test("the names come in byte order of the userNames, whatever the order of creation")
    func order() async throws {
        let temporary = try TemporaryStore()
        var users: [Resource] = []
        for name in ["zoe", "Adam", "bob", "alice", "Zed", "0day", "émile"] { users.append(try await temporary.createUser(userName: name)) }
        let names = try await temporary.store.userNames(ids: Set(users.map(\.id))).found
        #expect(names.map(\.userName) == ["0day", "Adam", "Zed", "alice", "bob", "zoe", "émile"])
    }

    @Test(
        "an empty userName column falls back to the attributes, as reading the resource would",
        arguments: [(JSON.string(""), Optional("")), (JSON.integer(7), nil)])
    func emptyColumn(userName: JSON, expected: String?) async throws {
        let temporary = try TemporaryStore()
        let named = try await temporary.createUser(userName: "ada")
        let unnamed = try await temporary.store.create(.user, attributes: ["userName": userName])
        let (found, missing) = try await temporary.store.userNames(ids: [named.id, unnamed.id])
        let names = Dictionary(uniqueKeysWithValues: found.map { ($0.id, $0.userName) })
        #expect(names[named.id] == "ada")
        #expect(names[unnamed.id] == expected, "a non-text userName gives no name")
        #expect(missing == (expected == nil ? [unnamed.id] : []), "a user without a name is listed as such")
    }
}

/// The set that finds a row's id by its bytes.
@Suite("Text key set")
struct TextKeySetTests {
    @Test("finds every key by its bytes and nothing else, across collisions of slots")
    func lookups() {
        let keys = (0..<500).map { "id-\($0)-\(String(repeating: "x", count: $0 % 7))" } + ["", "é", "a\u{0}b"]
        let set = TextKeySet(keys)
        for key in keys {
            let found = Array(key.utf8).withUnsafeBytes { set.index(of: $0) }
            #expect(found.map { set.keys[$0] } == key)
        }
        for other in ["id-1", "id-500-", "E\u{301}", "a"] {
            #expect(Array(other.utf8).withUnsafeBytes { set.index(of: $0) } == nil, "\(other)")
        }
    }
}
