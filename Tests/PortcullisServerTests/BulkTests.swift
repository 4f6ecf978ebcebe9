import Foundation
import Hummingbird
import SCIM
import Testing

/// `POST /Bulk` (RFC 7644 §3.7): bulkId references, failOnErrors, per-operation results, the limits
/// of §3.7.4, and that each operation stands on its own.
@Suite("Bulk")
struct BulkTests {
    static let bulkRequest = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
    static let bulkResponse = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"

    /// One operation of a BulkRequest.
    static func op(_ method: String, _ path: String, bulkId: String? = nil, version: String? = nil, data: JSON? = nil) -> JSON {
        var object: JSONObject = ["method": .string(method), "path": .string(path)]
        if let bulkId { object["bulkId"] = .string(bulkId) }
        if let version { object["version"] = .string(version) }
        if let data { object["data"] = data }
        return .object(object)
    }

    static func newUser(_ userName: String, _ attributes: JSONObject = [:]) -> JSON {
        var body: JSONObject = ["schemas": [.string(URN.user)], "userName": .string(userName)]
        for member in attributes { body[member.key] = member.value }
        return .object(body)
    }

    static func bulkBody(_ operations: [JSON], failOnErrors: Int? = nil) -> JSON {
        var body: JSONObject = ["schemas": [.string(bulkRequest)], "Operations": .array(operations)]
        if let failOnErrors { body["failOnErrors"] = .integer(failOnErrors) }
        return .object(body)
    }

    /// Sends a BulkRequest and checks the response is a 200 BulkResponse; returns its operations.
    static func bulk(
        _ scim: SCIMTestClient, _ operations: [JSON], failOnErrors: Int? = nil, sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> [JSON] {
        let response = try await scim.post("/Bulk", bulkBody(operations, failOnErrors: failOnErrors))
        #expect(response.status == .ok, "body: \(response.text)", sourceLocation: sourceLocation)
        #expect(response.mediaType == "application/scim+json", sourceLocation: sourceLocation)
        #expect(response.json.field("schemas")?.strings == [bulkResponse], sourceLocation: sourceLocation)
        return response.json.field("Operations")?.arrayValue ?? []
    }

    /// The statuses of a BulkResponse's operations (strings, as RFC 7644 §3.7.3 writes them).
    static func statuses(_ results: [JSON]) -> [String] {
        results.map { $0.field("status")?.stringValue ?? "<none>" }
    }

    /// The id at the end of an operation's location.
    static func id(_ result: JSON?) -> String? {
        result?.field("location")?.stringValue?.split(separator: "/").last.map(String.init)
    }

    /// Checks that a failed operation's `response` is the SCIM error of RFC 7644 §3.12 with this status.
    static func expectError(_ result: JSON?, status: Int, scimType: String? = nil, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(result?.field("status") == .string(String(status)), "result: \(result?.jsonText ?? "none")", sourceLocation: sourceLocation)
        let error = result?.field("response")
        #expect(error?.field("schemas")?.strings == [URN.error], "result: \(result?.jsonText ?? "none")", sourceLocation: sourceLocation)
        #expect(error?.field("status") == .string(String(status)), sourceLocation: sourceLocation)
        #expect(error?.field("detail")?.stringValue?.isEmpty == false, sourceLocation: sourceLocation)
        if let scimType {
            #expect(error?.field("scimType") == .string(scimType), "result: \(result?.jsonText ?? "none")", sourceLocation: sourceLocation)
        }
    }

    // MARK: bulkId

    @Test("a group created with members \"bulkId:…\" gets the users created earlier in the same request")
    func groupWithBulkIdMembers() async throws {
        try await TestServer.run { scim in
            let results = try await Self.bulk(
                scim,
                [
                    Self.op("POST", "/Users", bulkId: "u1", data: Self.newUser("alice@example.com", ["externalId": "alice"])),
                    Self.op("POST", "/Users", bulkId: "u2", data: Self.newUser("bob@example.com")),
                    Self.op(
                        "POST", "/Groups", bulkId: "g1",
                        data: [
                            "schemas": [.string(URN.group)], "displayName": "Tour Guides",
                            "members": [["type": "User", "value": "bulkId:u1"], ["type": "User", "value": "bulkId:u2"]],
                        ]),
                ])
            #expect(Self.statuses(results) == ["201", "201", "201"])
            #expect(results.map { $0.field("method") } == ["POST", "POST", "POST"])
            #expect(results.map { $0.field("bulkId") } == ["u1", "u2", "g1"])
            let alice = try #require(Self.id(results.item(0)))
            let bob = try #require(Self.id(results.item(1)))
            let group = try #require(Self.id(results.item(2)))
            #expect(results.item(0)?.field("location") == .string("\(scimBaseURL)/Users/\(alice)"))
            #expect(results.item(2)?.field("location") == .string("\(scimBaseURL)/Groups/\(group)"))
            // Success carries no response body, and the version is the resource's ETag.
            #expect(results.allSatisfy { $0.field("response") == nil })
            let stored = try await scim.get("/Groups/" + group)
            #expect(results.item(2)?.field("version")?.stringValue == stored.etag)
            #expect(GroupTests.memberIDs(stored.json) == [alice, bob])
            let aliceNow = try await scim.get("/Users/" + alice)
            #expect(aliceNow.json.field("externalId") == "alice")
            #expect(aliceNow.json.field("groups")?.item(0)?.field("value") == .string(group))
            #expect(aliceNow.json.field("groups")?.item(0)?.field("display") == "Tour Guides")
        }
    }

    @Test("bulkId references work in a later operation's path and in a PATCH path's value filter")
    func bulkIdInPathsAndFilters() async throws {
        try await TestServer.run { scim in
            let results = try await Self.bulk(
                scim,
                [
                    Self.op("POST", "/Users", bulkId: "u1", data: Self.newUser("alice@example.com")),
                    Self.op("POST", "/Users", bulkId: "u2", data: Self.newUser("bob@example.com")),
                    Self.op(
                        "POST", "/Groups", bulkId: "g1",
                        data: ["displayName": "Engineering", "members": [["value": "bulkId:u1"], ["value": "bulkId:u2"]]]),
                    Self.op("PATCH", "/Users/bulkId:u1", data: patchBody([operation("replace", path: "title", value: "Engineer")])),
                    Self.op(
                        "PATCH", "/Groups/bulkId:g1", data: patchBody([operation("remove", path: "members[value eq \"bulkId:u2\"]")])),
                    Self.op("PATCH", "/Users/bulkId:u2", data: patchBody([operation("add", path: "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", value: "bulkId:u1")])),
                ])
            #expect(Self.statuses(results) == ["201", "201", "201", "200", "200", "200"])
            let alice = try #require(Self.id(results.item(0)))
            let bob = try #require(Self.id(results.item(1)))
            let group = try #require(Self.id(results.item(2)))
            // The PATCH results locate the resolved resources.
            #expect(results.item(3)?.field("location") == .string("\(scimBaseURL)/Users/\(alice)"))
            #expect(results.item(4)?.field("location") == .string("\(scimBaseURL)/Groups/\(group)"))
            #expect(try await scim.get("/Users/" + alice).json.field("title") == "Engineer")
            let stored = try await scim.get("/Groups/" + group)
            #expect(GroupTests.memberIDs(stored.json) == [alice])
            #expect(results.item(4)?.field("version")?.stringValue == stored.etag)
            let bobNow = try await scim.get("/Users/" + bob).json
            #expect(bobNow.field("groups") == nil)
            #expect(bobNow.field(URN.enterpriseUser)?.field("manager")?.field("value") == .string(alice))
        }
    }

    @Test("a reference to a POST later in the request runs that POST first; results keep the request's order")
    func forwardReference() async throws {
        try await TestServer.run { scim in
            let results = try await Self.bulk(
                scim,
                [
                    Self.op("POST", "/Groups", bulkId: "g1", data: ["displayName": "Ops", "members": [["value": "bulkId:later"]]]),
                    Self.op("POST", "/Users", bulkId: "later", data: Self.newUser("carol@example.com")),
                ])
            #expect(Self.statuses(results) == ["201", "201"])
            #expect(results.map { $0.field("bulkId") } == ["g1", "later"])
            let group = try #require(Self.id(results.item(0)))
            let carol = try #require(Self.id(results.item(1)))
            #expect(GroupTests.memberIDs(try await scim.get("/Groups/" + group).json) == [carol])
        }
    }

    @Test("circular references fail with 409, and a reference to a failed POST is a 409 too")
    func circularAndFailedReferences() async throws {
        try await TestServer.run { scim in
            let results = try await Self.bulk(
                scim,
                [
                    Self.op(
                        "POST", "/Groups", bulkId: "a", data: ["displayName": "A", "members": [["value": "bulkId:b", "type": "Group"]]]),
                    Self.op(
                        "POST", "/Groups", bulkId: "b", data: ["displayName": "B", "members": [["value": "bulkId:a", "type": "Group"]]]),
                    Self.op("POST", "/Users", bulkId: "bad", data: ["userName": ""]),
                    Self.op("POST", "/Groups", bulkId: "c", data: ["displayName": "C", "members": [["value": "bulkId:bad"]]]),
                ])
            #expect(results.count == 4)
            Self.expectError(results.item(0), status: 409)
            Self.expectError(results.item(1), status: 409)
            Self.expectError(results.item(2), status: 400, scimType: "invalidValue")
            Self.expectError(results.item(3), status: 409)
            #expect(results.item(3)?.field("response")?.field("detail")?.stringValue?.contains("bulkId:bad") == true)
            // Failed POSTs have no location (RFC 7644 §3.7.3), and nothing was created.
            #expect(results.allSatisfy { $0.field("location") == nil })
            #expect(try await scim.get("/Groups").totalResults == 0)
            #expect(try await scim.get("/Users").totalResults == 0)
        }
    }

    @Test("a reference to a bulkId no POST declares is a 400 invalidValue; a reused bulkId is refused")
    func unknownAndDuplicateBulkIds() async throws {
        try await TestServer.run { scim in
            let results = try await Self.bulk(
                scim,
                [
                    Self.op("POST", "/Users", bulkId: "u1", data: Self.newUser("alice@example.com")),
                    Self.op("POST", "/Users", bulkId: "u1", data: Self.newUser("bob@example.com")),
                    Self.op("PATCH", "/Users/bulkId:nobody", data: patchBody([operation("replace", path: "title", value: "x")])),
                    Self.op("POST", "/Groups", data: ["displayName": "G", "members": [["value": "bulkId:nobody"]]]),
                ])
            #expect(results.item(0)?.field("status") == "201")
            Self.expectError(results.item(1), status: 400, scimType: "invalidValue")
            Self.expectError(results.item(2), status: 400, scimType: "invalidValue")
            // A failed operation on a resource still has a location: its path, as sent.
            #expect(results.item(2)?.field("location") == .string("\(scimBaseURL)/Users/bulkId:nobody"))
            Self.expectError(results.item(3), status: 400, scimType: "invalidValue")
            #expect(try await scim.get("/Users").totalResults == 1)
        }
    }

    // MARK: failOnErrors and per-operation results

    @Test("failOnErrors stops after that many failures; the operations before stay done", arguments: [1, 2])
    func failOnErrors(_ limit: Int) async throws {
        try await TestServer.run { scim in
            let operations = [
                Self.op("POST", "/Users", bulkId: "a", data: Self.newUser("a@example.com")),
                Self.op("POST", "/Users", bulkId: "b", data: ["userName": 42]),
                Self.op("POST", "/Users", bulkId: "c", data: Self.newUser("c@example.com")),
                Self.op("POST", "/Users", bulkId: "d", data: Self.newUser("A@example.com")),
                Self.op("POST", "/Users", bulkId: "e", data: Self.newUser("e@example.com")),
            ]
            let results = try await Self.bulk(scim, operations, failOnErrors: limit)
            if limit == 1 {
                #expect(Self.statuses(results) == ["201", "400"])
                #expect(try await scim.get("/Users").totalResults == 1)
            } else {
                #expect(Self.statuses(results) == ["201", "400", "201", "409"])
                Self.expectError(results.item(3), status: 409, scimType: "uniqueness")
                #expect(try await scim.get("/Users").totalResults == 2)
            }
            // Without failOnErrors every operation runs.
            let all = try await Self.bulk(
                scim, [Self.op("POST", "/Users", data: ["userName": 1]), Self.op("POST", "/Users", data: Self.newUser("z@example.com"))])
            #expect(Self.statuses(all) == ["400", "201"])
        }
    }

    @Test("mixed successes and failures: each operation gets the status, location and error of its single request")
    func mixedResults() async throws {
        try await TestServer.run { scim in
            let alice = try await scim.createUser("alice@example.com", ["title": "Engineer"])
            let aliceID = try #require(alice.field("id")?.stringValue)
            let bob = try await scim.createUser("bob@example.com")
            let bobID = try #require(bob.field("id")?.stringValue)
            let staleVersion = try #require(alice.field("meta")?.field("version")?.stringValue)
            _ = try await scim.patch("/Users/" + aliceID, [operation("replace", path: "title", value: "Manager")])
            let missing = "6a7f6cb4-0000-4000-8000-000000000000"
            let results = try await Self.bulk(
                scim,
                [
                    Self.op("POST", "/Users", bulkId: "new", data: Self.newUser("carol@example.com")),
                    Self.op("PUT", "/Users/" + missing, data: Self.newUser("ghost@example.com")),
                    Self.op("PATCH", "/Users/" + aliceID, version: staleVersion, data: patchBody([operation("replace", path: "title", value: "CEO")])),
                    Self.op("DELETE", "/Users/" + bobID),
                    Self.op("DELETE", "/Users/" + bobID),
                    Self.op("POST", "/Users", data: Self.newUser("ALICE@example.com")),
                    Self.op("GET", "/Users/" + aliceID),
                    Self.op("POST", "/Users/" + aliceID, data: Self.newUser("x@example.com")),
                    Self.op("DELETE", "/Devices/1"),
                    Self.op("PUT", "/Users/" + aliceID, data: Self.newUser("alice@example.com", ["title": "Director", "active": "False"])),
                    Self.op("patch", "/Users/" + aliceID, data: patchBody([operation("Replace", value: ["name.givenName": "Alice"])])),
                ])
            #expect(Self.statuses(results) == ["201", "404", "412", "204", "404", "409", "400", "405", "404", "200", "200"])
            #expect(results.map { $0.field("method")?.stringValue ?? "" }
                == ["POST", "PUT", "PATCH", "DELETE", "DELETE", "POST", "GET", "POST", "DELETE", "PUT", "PATCH"])
            Self.expectError(results.item(1), status: 404)
            #expect(results.item(1)?.field("location") == .string("\(scimBaseURL)/Users/\(missing)"))
            Self.expectError(results.item(2), status: 412)
            #expect(results.item(3)?.field("location") == .string("\(scimBaseURL)/Users/\(bobID)"))
            #expect(results.item(3)?.field("response") == nil)
            Self.expectError(results.item(4), status: 404)
            Self.expectError(results.item(5), status: 409, scimType: "uniqueness")
            #expect(results.item(5)?.field("location") == nil)
            Self.expectError(results.item(6), status: 400, scimType: "invalidSyntax")
            Self.expectError(results.item(7), status: 405)
            Self.expectError(results.item(8), status: 404)
            // What succeeded is stored; what failed changed nothing.
            let carol = try #require(Self.id(results.item(0)))
            #expect(try await scim.get("/Users/" + carol).status == .ok)
            expectSCIMError(try await scim.get("/Users/" + bobID), status: 404)
            let aliceNow = try await scim.get("/Users/" + aliceID)
            #expect(aliceNow.json.field("title") == "Director")
            #expect(aliceNow.json.field("active") == false)
            #expect(aliceNow.json.field("name")?.field("givenName") == "Alice")
            #expect(results.item(10)?.field("version")?.stringValue == aliceNow.etag)
            #expect(try await scim.get("/Users").totalResults == 2)
        }
    }

    @Test("an operation's version is its If-Match: the current one applies, a stale one is a 412")
    func versionIsIfMatch() async throws {
        try await TestServer.run { scim in
            let group = try await scim.createGroup("Engineering")
            let groupID = try #require(group.field("id")?.stringValue)
            let version = try #require(group.field("meta")?.field("version")?.stringValue)
            let rename = patchBody([operation("replace", path: "displayName", value: "Platform")])
            let results = try await Self.bulk(
                scim,
                [
                    Self.op("PATCH", "/Groups/" + groupID, version: version, data: rename),
                    Self.op("DELETE", "/Groups/" + groupID, version: version),
                ])
            #expect(Self.statuses(results) == ["200", "412"])
            let stored = try await scim.get("/Groups/" + groupID)
            #expect(stored.json.field("displayName") == "Platform")
            #expect(results.item(0)?.field("version")?.stringValue == stored.etag)
            #expect(results.item(0)?.field("version")?.stringValue != version)
        }
    }

    @Test("a failing operation does not undo the ones before it, and the ones after it still run")
    func failureDoesNotUndoEarlierOperations() async throws {
        try await TestServer.run { scim in
            let results = try await Self.bulk(
                scim,
                [
                    Self.op("POST", "/Users", bulkId: "u1", data: Self.newUser("alice@example.com")),
                    Self.op("POST", "/Groups", bulkId: "g1", data: ["displayName": "Engineering", "members": [["value": "bulkId:u1"]]]),
                    // Adding a member that does not exist fails the whole PATCH, and only it.
                    Self.op(
                        "PATCH", "/Groups/bulkId:g1",
                        data: patchBody([
                            operation("replace", path: "displayName", value: "Renamed"),
                            operation("add", path: "members", value: [["value": "00000000-0000-4000-8000-000000000000"]]),
                        ])),
                    Self.op("POST", "/Users", bulkId: "u2", data: Self.newUser("bob@example.com")),
                ])
            #expect(Self.statuses(results) == ["201", "201", "400", "201"])
            let group = try await scim.get("/Groups/" + (Self.id(results.item(1)) ?? ""))
            #expect(group.json.field("displayName") == "Engineering")
            #expect(GroupTests.memberIDs(group.json) == [Self.id(results.item(0)) ?? ""])
            #expect(try await scim.get("/Users").totalResults == 2)
        }
    }

    @Test("many independent POSTs give the same outcome as one by one: the first of two equal userNames wins")
    func manyPOSTsInOrder() async throws {
        try await TestServer.run { scim in
            var operations = (0..<150).map { Self.op("POST", "/Users", bulkId: "u\($0)", data: Self.newUser("user\($0)@example.com")) }
            operations[120] = Self.op("POST", "/Users", bulkId: "u120", data: Self.newUser("USER7@example.com"))
            operations[121] = Self.op("POST", "/Groups", bulkId: "g", data: ["displayName": "All", "members": [["value": "bulkId:u149"]]])
            let results = try await Self.bulk(scim, operations)
            #expect(results.count == 150)
            #expect(results.map { $0.field("bulkId")?.stringValue } == (0..<150).map { $0 == 121 ? "g" : "u\($0)" })
            for (index, result) in results.enumerated() where index != 120 {
                #expect(result.field("status") == "201", "operation \(index): \(result.jsonText)")
            }
            Self.expectError(results.item(120), status: 409, scimType: "uniqueness")
            #expect(try await scim.get("/Users").totalResults == 148)
            let seven = try await scim.list("/Users", [("filter", "userName eq \"user7@example.com\"")])
            #expect(seven.resourceIDs == [Self.id(results.item(7)) ?? ""])
            let group = try await scim.get("/Groups/" + (Self.id(results.item(121)) ?? ""))
            #expect(GroupTests.memberIDs(group.json) == [Self.id(results.item(149)) ?? ""])
        }
    }

    // MARK: Limits and the request as a whole

    @Test("more than maxOperations (1000) operations is a 413 and runs none")
    func tooManyOperations() async throws {
        try await TestServer.run { scim in
            let operations = (0...1000).map { Self.op("POST", "/Users", data: Self.newUser("u\($0)@example.com")) }
            let response = try await scim.post("/Bulk", Self.bulkBody(operations))
            expectSCIMError(response, status: 413)
            #expect(response.detail.contains("1000"), "detail: \(response.detail)")
            #expect(try await scim.get("/Users").totalResults == 0)
        }
    }

    @Test("exactly maxOperations operations are accepted, each answered")
    func maximumOperations() async throws {
        try await TestServer.run { scim in
            let operations = (0..<1000).map { Self.op("DELETE", "/Users/missing-\($0)") }
            let results = try await Self.bulk(scim, operations)
            #expect(results.count == 1000)
            #expect(Set(Self.statuses(results)) == ["404"])
        }
    }

    @Test("a body over maxPayloadSize (1 MiB) is a 413 and runs none")
    func oversizedBody() async throws {
        try await TestServer.run { scim in
            let padding = String(repeating: "x", count: 1_048_576)
            let body = Self.bulkBody([Self.op("POST", "/Users", data: Self.newUser("big@example.com", ["displayName": .string(padding)]))])
            let response = try await scim.post("/Bulk", body)
            expectSCIMError(response, status: 413)
            #expect(try await scim.get("/Users").totalResults == 0)
        }
    }

    @Test(
        "a malformed bulk request is a 400",
        arguments: [
            ("[]", "invalidSyntax"),
            (#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkRequest"]}"#, "invalidSyntax"),
            (#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[]}"#, "invalidSyntax"),
            (#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],"failOnErrors":"x","Operations":[]}"#, "invalidValue"),
            (#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],"failOnErrors":0,"Operations":[]}"#, "invalidValue"),
        ])
    func malformedRequest(_ body: String, _ scimType: String) async throws {
        try await TestServer.run { scim in
            expectSCIMError(try await scim.send(.post, "/Bulk", body: body), status: 400, scimType: scimType)
        }
    }

    @Test("an empty Operations array answers an empty BulkResponse; application/json is accepted")
    func emptyRequest() async throws {
        try await TestServer.run { scim in
            let response = try await scim.send(.post, "/Bulk", body: Self.bulkBody([]).jsonText, contentType: "application/json")
            #expect(response.status == .ok)
            #expect(response.json == ["schemas": [.string(Self.bulkResponse)], "Operations": []])
        }
    }

    @Test("GET, PUT, PATCH and DELETE on /Bulk are 405 with Allow: POST", arguments: [HTTPRequest.Method.get, .put, .patch, .delete])
    func methodNotAllowed(_ method: HTTPRequest.Method) async throws {
        try await TestServer.run { scim in
            let response = try await scim.send(method, "/Bulk", body: method == .get || method == .delete ? nil : "{}")
            expectSCIMError(response, status: 405)
            #expect(response.headers[.allow] == "POST")
        }
    }

    @Test("/Bulk needs the SCIM token like every endpoint")
    func needsToken() async throws {
        try await TestServer.run { scim in
            let response = try await scim.send(.post, "/Bulk", body: Self.bulkBody([]).jsonText, credentials: .none)
            expectSCIMError(response, status: 401)
        }
    }

    @Test("ServiceProviderConfig advertises bulk with the limits it enforces")
    func advertised() async throws {
        try await TestServer.run { scim in
            let bulk = try await scim.get("/ServiceProviderConfig").json.field("bulk")
            #expect(bulk?.field("supported") == true)
            #expect(bulk?.field("maxOperations") == 1000)
            #expect(bulk?.field("maxPayloadSize") == 1_048_576)
        }
    }
}

extension Array where Element == JSON {
    /// Element `index`, or nil.
    fileprivate func item(_ index: Int) -> JSON? {
        indices.contains(index) ? self[index] : nil
    }
}
