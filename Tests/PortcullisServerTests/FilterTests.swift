import Foundation
import Hummingbird
import SCIM
import Testing

/// The `filter` parameter (RFC 7644 §3.4.2.2) on GET and `.search`, as the server receives it over HTTP.
@Suite("Filters")
struct FilterTests {
    /// Three users to filter: alice is active with a work email at example.com, bob has no `active`
    /// and a work email at example.org and a home one at example.com, carol is inactive with a home email only.
    static func makeUsers(_ scim: SCIMTestClient) async throws -> [String: String] {
        let alice = try await scim.createUser(
            "Alice@Example.com",
            [
                "externalId": "ext-1", "displayName": "Alice Liddell", "name": ["familyName": "Liddell"], "active": true,
                "emails": [["value": "alice@example.com", "type": "work"]],
            ])
        let bob = try await scim.createUser(
            "bob@example.org",
            [
                "externalId": "ext-2",
                "emails": [["value": "bob@example.org", "type": "work"], ["value": "bob@example.com", "type": "home"]],
            ])
        let carol = try await scim.createUser(
            "carol@example.com",
            ["externalId": "EXT-3", "active": false, "title": "Engineer", "emails": [["value": "carol@example.com", "type": "home"]]])
        var ids: [String: String] = [:]
        for (name, user) in [("alice", alice), ("bob", bob), ("carol", carol)] {
            ids[name] = user.field("id")?.stringValue
        }
        return ids
    }

    @Test(
        "filters select the users RFC 7644 §3.4.2.2 says they match",
        arguments: [
            (#"userName eq "alice@example.com""#, ["alice"]),
            (#"userName eq "ALICE@EXAMPLE.COM""#, ["alice"]),
            (#"USERNAME Eq "alice@example.com""#, ["alice"]),
            (#"urn:ietf:params:scim:schemas:core:2.0:User:userName eq "bob@example.org""#, ["bob"]),
            (#"userName ne "alice@example.com""#, ["bob", "carol"]),
            (#"externalId eq "ext-2""#, ["bob"]),
            (#"externalId eq "ext-3""#, []),
            (#"externalId eq "EXT-3""#, ["carol"]),
            (#"emails[type eq "work" and value co "@example.com"]"#, ["alice"]),
            (#"emails co "@example.com""#, ["alice", "bob", "carol"]),
            (#"emails.value ew ".org""#, ["bob"]),
            (#"not (userName eq "alice@example.com")"#, ["bob", "carol"]),
            (#"userName sw "a" or userName sw "B""#, ["alice", "bob"]),
            (#"active eq false"#, ["carol"]),
            (#"active eq true"#, ["alice"]),
            (#"not (active eq false) and emails[type eq "home"]"#, ["bob"]),
            (#"title pr"#, ["carol"]),
            (#"not (title pr) and not (externalId eq "ext-1")"#, ["bob"]),
            (#"userName eq "bob@example.org" or userName eq "carol@example.com" and active eq true"#, ["bob"]),
            (#"(userName eq "carol@example.com" or userName eq "bob@example.org") and active eq false"#, ["carol"]),
            (#"name.familyName eq "liddell""#, ["alice"]),
            (#"meta.resourceType eq "User""#, ["alice", "bob", "carol"]),
            (#"userName eq "nobody@example.com""#, []),
        ])
    func filterSelectsUsers(_ filter: String, _ expected: [String]) async throws {
        try await TestServer.run { scim in
            let ids = try await Self.makeUsers(scim)
            let response = try await scim.list("/Users", [("filter", filter)])
            let found = expectListResponse(response, totalResults: expected.count)
            #expect(Set(found) == Set(expected.compactMap { ids[$0] }), "filter: \(filter)")
        }
    }

    @Test("a filter matching nothing is a 200 ListResponse with totalResults 0")
    func noMatchIsAnEmptyList() async throws {
        try await TestServer.run { scim in
            _ = try await Self.makeUsers(scim)
            let response = try await scim.list("/Users", [("filter", #"userName eq "nobody@example.com""#)])
            expectListResponse(response, totalResults: 0)
            #expect(response.resources.isEmpty)
            #expect(response.itemsPerPage == 0)
        }
    }

    @Test("id eq selects one user")
    func filterByID() async throws {
        try await TestServer.run { scim in
            let ids = try await Self.makeUsers(scim)
            let bob = try #require(ids["bob"])
            let response = try await scim.list("/Users", [("filter", "id eq \"\(bob)\"")])
            #expect(expectListResponse(response, totalResults: 1) == [bob])
        }
    }

    @Test("meta.lastModified gt, ge and lt compare as dates")
    func filterByLastModified() async throws {
        try await TestServer.run { scim in
            let first = try await scim.createUser("first@example.com")
            try await Task.sleep(for: .milliseconds(20))
            let second = try await scim.createUser("second@example.com")
            let firstID = try #require(first.field("id")?.stringValue)
            let secondID = try #require(second.field("id")?.stringValue)
            let firstModified = try #require(first.field("meta")?.field("lastModified")?.stringValue)
            let secondModified = try #require(second.field("meta")?.field("lastModified")?.stringValue)
            #expect(firstModified != secondModified)

            let after = try await scim.list("/Users", [("filter", "meta.lastModified gt \"\(firstModified)\"")])
            #expect(expectListResponse(after, totalResults: 1) == [secondID])
            let from = try await scim.list("/Users", [("filter", "meta.lastModified ge \"\(firstModified)\"")])
            #expect(Set(expectListResponse(from, totalResults: 2)) == [firstID, secondID])
            let before = try await scim.list("/Users", [("filter", "meta.lastModified lt \"\(secondModified)\"")])
            #expect(expectListResponse(before, totalResults: 1) == [firstID])
            let longAgo = try await scim.list("/Users", [("filter", #"meta.lastModified gt "2011-05-13T04:42:34Z""#)])
            expectListResponse(longAgo, totalResults: 2)

            // A change moves lastModified past the filter's instant.
            _ = try await scim.patch("/Users/" + firstID, [operation("replace", path: "title", value: "Changed")])
            let changed = try await scim.list("/Users", [("filter", "meta.lastModified gt \"\(secondModified)\"")])
            #expect(expectListResponse(changed, totalResults: 1) == [firstID])
        }
    }

    /// Each malformed filter with the 1-based character position where it goes wrong.
    @Test(
        "a malformed filter is a 400 invalidFilter whose detail names the position",
        arguments: [
            (#"userName eq"#, 12),
            (#"userName xx "a""#, 10),
            (#"(userName eq "a""#, 17),
            (#"userName eq "a" and"#, 20),
            (#"userName eq "a" garbage"#, 17),
            (#"userName eq "unterminated"#, 13),
            (#"emails[type eq "work""#, 22),
            (#"not userName eq "a""#, 5),
            (#"nosuch eq "a""#, 1),
            (#"userName eq "a" and active gt true"#, 21),
        ])
    func malformedFilterIsInvalidFilter(_ filter: String, _ position: Int) async throws {
        try await TestServer.run { scim in
            let response = try await scim.list("/Users", [("filter", filter)])
            expectSCIMError(response, status: 400, scimType: "invalidFilter")
            #expect(response.detail.contains("position \(position)"), "detail: \(response.detail)")
        }
    }

    @Test("a malformed filter in a .search body is a 400 invalidFilter too")
    func malformedFilterInSearch() async throws {
        try await TestServer.run { scim in
            let response = try await scim.search("/Users", ["filter": "userName eq"])
            expectSCIMError(response, status: 400, scimType: "invalidFilter")
            #expect(response.detail.contains("position 12"), "detail: \(response.detail)")
        }
    }

    @Test(
        "spaces in the query may be sent as + or %20, and other characters percent-encoded",
        arguments: [
            "filter=userName+eq+%22alice%40example.com%22",
            "filter=userName%20eq%20%22alice@example.com%22",
            "filter=userName%20eq+%22Alice%40Example.com%22",
            "filter=userName+EQ+%22alice%40example.com%22",
        ])
    func spaceEncodings(_ query: String) async throws {
        try await TestServer.run { scim in
            let ids = try await Self.makeUsers(scim)
            let response = try await scim.get("/Users?" + query)
            #expect(expectListResponse(response, totalResults: 1) == [ids["alice"]])
        }
    }

    @Test("a literal + in a filter value must be sent as %2B; a bare + reads as a space")
    func plusInAValue() async throws {
        try await TestServer.run { scim in
            let plus = try #require(try await scim.createUser("a+b@example.com").field("id")?.stringValue)
            let encoded = try await scim.get("/Users?filter=userName+eq+%22a%2Bb%40example.com%22")
            #expect(expectListResponse(encoded, totalResults: 1) == [plus])
            let bare = try await scim.get("/Users?filter=userName+eq+%22a+b%40example.com%22")
            expectListResponse(bare, totalResults: 0)
        }
    }

    @Test("percent-encoded UTF-8 in a filter value is decoded")
    func utf8InAValue() async throws {
        try await TestServer.run { scim in
            let zoe = try #require(try await scim.createUser("zoë@example.com").field("id")?.stringValue)
            let response = try await scim.get("/Users?filter=userName%20eq%20%22ZO%C3%8B%40example.com%22")
            #expect(expectListResponse(response, totalResults: 1) == [zoe])
        }
    }

    @Test(
        "unknown query parameters are ignored (RFC 7644 §3.4.2: SHOULD ignore)",
        arguments: [
            "aadOptscim062020&filter=userName+eq+%22bob%40example.org%22", "filter=userName+eq+%22bob%40example.org%22&aadOptscim062020",
            "foo=bar&filter=userName%20eq%20%22bob@example.org%22&x=",
        ])
    func unknownParametersAreIgnored(_ query: String) async throws {
        try await TestServer.run { scim in
            let ids = try await Self.makeUsers(scim)
            let response = try await scim.get("/Users?" + query)
            #expect(expectListResponse(response, totalResults: 1) == [ids["bob"]])
        }
    }

    @Test("an unknown query parameter alone lists everything")
    func unknownParameterAlone() async throws {
        try await TestServer.run { scim in
            _ = try await Self.makeUsers(scim)
            expectListResponse(try await scim.get("/Users?aadOptscim062020"), totalResults: 3)
        }
    }

    @Test("POST /Users/.search filters like GET")
    func searchFilters() async throws {
        try await TestServer.run { scim in
            let ids = try await Self.makeUsers(scim)
            let response = try await scim.search("/Users", ["filter": #"emails[type eq "home"] and not (active eq false)"#])
            #expect(expectListResponse(response, totalResults: 1) == [ids["bob"]])
        }
    }

    @Test("groups filter by displayName ignoring case, externalId, and member")
    func groupFilters() async throws {
        try await TestServer.run { scim in
            let ids = try await Self.makeUsers(scim)
            let alice = try #require(ids["alice"])
            let engineering = try #require(
                try await scim.createGroup("Engineering", members: [alice], ["externalId": "g-1"]).field("id")?.stringValue)
            let sales = try #require(try await scim.createGroup("Sales").field("id")?.stringValue)
            let byName = try await scim.list("/Groups", [("filter", #"displayName eq "engineering""#)])
            #expect(expectListResponse(byName, totalResults: 1) == [engineering])
            let byExternalID = try await scim.list("/Groups", [("filter", #"externalId eq "g-1""#)])
            #expect(expectListResponse(byExternalID, totalResults: 1) == [engineering])
            let byMember = try await scim.list("/Groups", [("filter", "members[value eq \"\(alice)\"]")])
            #expect(expectListResponse(byMember, totalResults: 1) == [engineering])
            let byMemberValue = try await scim.list("/Groups", [("filter", "members.value eq \"\(alice)\"")])
            #expect(expectListResponse(byMemberValue, totalResults: 1) == [engineering])
            let without = try await scim.list("/Groups", [("filter", "not (members pr)")])
            #expect(expectListResponse(without, totalResults: 1) == [sales])
        }
    }

    @Test("POST /.search at the root searches users and groups; attributes only one type has match only that type")
    func rootSearch() async throws {
        try await TestServer.run { scim in
            let ids = try await Self.makeUsers(scim)
            let engineering = try #require(try await scim.createGroup("Engineering").field("id")?.stringValue)
            _ = try await scim.createGroup("Sales")
            let both = try await scim.search("", ["filter": #"displayName sw "Al" or displayName eq "engineering""#])
            #expect(Set(expectListResponse(both, totalResults: 2)) == [ids["alice"], engineering])
            let types = Set(both.resources.compactMap { $0.field("meta")?.field("resourceType")?.stringValue })
            #expect(types == ["User", "Group"])
            let usersOnly = try await scim.search("", ["filter": #"userName eq "bob@example.org""#])
            #expect(expectListResponse(usersOnly, totalResults: 1) == [ids["bob"]])
            let everything = try await scim.search("", [:])
            expectListResponse(everything, totalResults: 5)
        }
    }
}
