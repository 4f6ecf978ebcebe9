import Foundation
import Hummingbird
import SCIM
import Store
import Testing

/// `startIndex`/`count` (RFC 7644 §3.4.2.4) and `sortBy`/`sortOrder` (§3.4.2.3).
@Suite("Pagination and sorting")
struct PaginationTests {
    /// Creates `count` users named user1@example.com … and returns their ids in creation order.
    static func makeUsers(_ scim: SCIMTestClient, count: Int) async throws -> [String] {
        var ids: [String] = []
        for index in 1...count {
            ids.append(try #require(try await scim.createUser("user\(index)@example.com").field("id")?.stringValue))
        }
        return ids
    }

    @Test("startIndex and count page through all users once each, in a stable order")
    func pagesCoverEveryUserOnce() async throws {
        try await TestServer.run { scim in
            let created = try await Self.makeUsers(scim, count: 5)
            let everything = expectListResponse(try await scim.list("/Users", [("count", "10")]), totalResults: 5)
            #expect(Set(everything) == Set(created))
            var paged: [String] = []
            for startIndex in [1, 3, 5] {
                let page = try await scim.list("/Users", [("startIndex", String(startIndex)), ("count", "2")])
                paged += expectListResponse(page, totalResults: 5)
                #expect(page.json.field("startIndex") == .integer(startIndex))
                #expect(page.itemsPerPage == (startIndex == 5 ? 1 : 2))
            }
            #expect(paged == everything)
            // The same page twice is the same page.
            let again = try await scim.list("/Users", [("startIndex", "3"), ("count", "2")])
            #expect(again.resourceIDs == Array(everything[2..<4]))
        }
    }

    @Test("pages of a filtered list are stable too")
    func filteredPagesAreStable() async throws {
        try await TestServer.run { scim in
            _ = try await Self.makeUsers(scim, count: 6)
            try await scim.createUser("someone.else@example.org")
            let filter = ("filter", #"userName ew "@example.com""#)
            let everything = expectListResponse(try await scim.list("/Users", [filter]), totalResults: 6)
            var paged: [String] = []
            for startIndex in [1, 4] {
                paged += expectListResponse(
                    try await scim.list("/Users", [filter, ("startIndex", String(startIndex)), ("count", "3")]), totalResults: 6)
            }
            #expect(paged == everything)
        }
    }

    @Test("count=0 returns only totalResults; a negative count counts as 0 (RFC 7644 §3.4.2.4)", arguments: ["0", "-1", "-100"])
    func countZero(_ count: String) async throws {
        try await TestServer.run { scim in
            _ = try await Self.makeUsers(scim, count: 3)
            let response = try await scim.list("/Users", [("count", count)])
            expectListResponse(response, totalResults: 3)
            #expect(response.resources.isEmpty)
            #expect(response.itemsPerPage == 0)
        }
    }

    @Test("a startIndex below 1 counts as 1 (RFC 7644 §3.4.2.4)", arguments: ["0", "-5"])
    func startIndexBelowOne(_ startIndex: String) async throws {
        try await TestServer.run { scim in
            let created = try await Self.makeUsers(scim, count: 3)
            let response = try await scim.list("/Users", [("startIndex", startIndex), ("count", "2")])
            #expect(expectListResponse(response, totalResults: 3) == Array(created.prefix(2)))
            #expect(response.json.field("startIndex") == 1)
        }
    }

    @Test(
        "a startIndex past the end is an empty page with the full totalResults",
        arguments: [
            [("startIndex", "10")], [("startIndex", "9223372036854775807"), ("count", "9223372036854775807")],
            [("startIndex", "9223372036854775807"), ("filter", "userName pr")],
            [("startIndex", "9223372036854775807"), ("sortBy", "userName")],
        ])
    func startIndexPastTheEnd(_ parameters: [(String, String)]) async throws {
        try await TestServer.run { scim in
            _ = try await Self.makeUsers(scim, count: 3)
            let response = try await scim.list("/Users", parameters)
            expectListResponse(response, totalResults: 3)
            #expect(response.resources.isEmpty)
            #expect(response.json.field("startIndex")?.intValue == Int(parameters[0].1))
        }
    }

    @Test("a count that is not an integer is a 400", arguments: ["ten", "1.5"])
    func nonIntegerCount(_ count: String) async throws {
        try await TestServer.run { scim in
            expectSCIMError(try await scim.list("/Users", [("count", count)]), status: 400)
        }
    }

    @Test("a count above filter.maxResults is capped at it, on GET and on both .search endpoints")
    func countIsCapped() async throws {
        try await TestServer.run { scim in
            let config = try await scim.get("/ServiceProviderConfig")
            let maxResults = try #require(config.json.field("filter")?.field("maxResults")?.intValue)
            for index in 0...maxResults {
                _ = try await scim.store.create(.user, attributes: ["userName": .string("bulk\(index)@example.com")])
            }
            let listed = try await scim.list("/Users", [("count", String(maxResults * 5))])
            expectListResponse(listed, totalResults: maxResults + 1)
            #expect(listed.itemsPerPage == maxResults)
            let searched = try await scim.search("/Users", ["count": .integer(maxResults + 1)])
            expectListResponse(searched, totalResults: maxResults + 1)
            #expect(searched.itemsPerPage == maxResults)
            let rootSearched = try await scim.search("", ["count": .integer(maxResults * 5)])
            expectListResponse(rootSearched, totalResults: maxResults + 1)
            #expect(rootSearched.itemsPerPage == maxResults)
            // The last one is on the next page.
            let rest = try await scim.list("/Users", [("startIndex", String(maxResults + 1)), ("count", String(maxResults))])
            #expect(rest.itemsPerPage == 1)
        }
    }

    /// Created in the order charlie, alice, Bob; userName is not caseExact, so it sorts ignoring case.
    @Test(
        "sortBy=userName sorts ignoring case, ascending unless told otherwise (RFC 7644 §3.4.2.3)",
        arguments: [
            (nil, ["alice", "Bob", "charlie"]),
            ("ascending", ["alice", "Bob", "charlie"]),
            ("descending", ["charlie", "Bob", "alice"]),
        ] as [(String?, [String])])
    func sortByUserName(_ sortOrder: String?, _ expected: [String]) async throws {
        try await TestServer.run { scim in
            for name in ["charlie", "alice", "Bob"] {
                try await scim.createUser(name)
            }
            var parameters = [("sortBy", "userName")]
            if let sortOrder { parameters.append(("sortOrder", sortOrder)) }
            let response = try await scim.list("/Users", parameters)
            expectListResponse(response, totalResults: 3)
            #expect(response.resources.compactMap { $0.field("userName")?.stringValue } == expected)

            var search: JSONObject = ["sortBy": "userName"]
            if let sortOrder { search["sortOrder"] = .string(sortOrder) }
            let searched = try await scim.search("/Users", search)
            #expect(searched.resources.compactMap { $0.field("userName")?.stringValue } == expected)
        }
    }

    @Test("sorting applies before paging")
    func sortThenPage() async throws {
        try await TestServer.run { scim in
            for name in ["delta", "alpha", "charlie", "bravo"] {
                try await scim.createUser(name)
            }
            let page = try await scim.list("/Users", [("sortBy", "userName"), ("startIndex", "2"), ("count", "2")])
            expectListResponse(page, totalResults: 4)
            #expect(page.resources.compactMap { $0.field("userName")?.stringValue } == ["bravo", "charlie"])
            let descending = try await scim.list(
                "/Users", [("sortBy", "userName"), ("sortOrder", "descending"), ("startIndex", "1"), ("count", "1")])
            #expect(descending.resources.compactMap { $0.field("userName")?.stringValue } == ["delta"])
        }
    }

    @Test("sorting by a multi-valued attribute uses the primary value (RFC 7644 §3.4.2.3)")
    func sortByPrimaryEmail() async throws {
        try await TestServer.run { scim in
            try await scim.createUser(
                "one",
                ["emails": [["value": "a@example.com", "type": "home"], ["value": "z@example.com", "type": "work", "primary": true]]])
            try await scim.createUser("two", ["emails": [["value": "m@example.com", "type": "work", "primary": true]]])
            let response = try await scim.list("/Users", [("sortBy", "emails")])
            #expect(response.resources.compactMap { $0.field("userName")?.stringValue } == ["two", "one"])
        }
    }

    @Test("groups sort by displayName")
    func sortGroups() async throws {
        try await TestServer.run { scim in
            for name in ["Sales", "engineering", "Marketing"] {
                try await scim.createGroup(name)
            }
            let response = try await scim.list("/Groups", [("sortBy", "displayName"), ("sortOrder", "descending")])
            #expect(response.resources.compactMap { $0.field("displayName")?.stringValue } == ["Sales", "Marketing", "engineering"])
        }
    }

    @Test("POST /.search pages through users and groups together, each once")
    func rootSearchPagesAcrossKinds() async throws {
        try await TestServer.run { scim in
            let users = try await Self.makeUsers(scim, count: 3)
            var groups: [String] = []
            for name in ["Engineering", "Sales"] {
                groups.append(try #require(try await scim.createGroup(name).field("id")?.stringValue))
            }
            let everything = expectListResponse(try await scim.search("", [:]), totalResults: 5)
            #expect(Set(everything) == Set(users + groups))
            var paged: [String] = []
            for startIndex in [1, 3, 5] {
                let page = try await scim.search("", ["startIndex": .integer(startIndex), "count": 2])
                paged += expectListResponse(page, totalResults: 5)
            }
            #expect(paged == everything)
        }
    }

    /// Users named "b" and "d", groups "a" and "c": one order across both kinds.
    @Test(
        "a sorted POST /.search orders users and groups together, then pages",
        arguments: [
            ("ascending", 1, 10, ["a", "b", "c", "d"]),
            ("descending", 1, 10, ["d", "c", "b", "a"]),
            ("ascending", 2, 2, ["b", "c"]),
            ("descending", 4, 2, ["a"]),
        ])
    func rootSearchSortsAcrossKinds(_ order: String, _ startIndex: Int, _ count: Int, _ expected: [String]) async throws {
        try await TestServer.run { scim in
            try await scim.createUser("user-b", ["displayName": "b"])
            try await scim.createGroup("c")
            try await scim.createUser("user-d", ["displayName": "D"])
            try await scim.createGroup("a")
            let response = try await scim.search(
                "", ["sortBy": "displayName", "sortOrder": .string(order), "startIndex": .integer(startIndex), "count": .integer(count)])
            expectListResponse(response, totalResults: 4)
            #expect(response.resources.compactMap { $0.field("displayName")?.stringValue?.lowercased() } == expected)
        }
    }

    @Test("an invalid sortOrder is a 400")
    func invalidSortOrder() async throws {
        try await TestServer.run { scim in
            expectSCIMError(try await scim.list("/Users", [("sortBy", "userName"), ("sortOrder", "sideways")]), status: 400)
        }
    }
}
