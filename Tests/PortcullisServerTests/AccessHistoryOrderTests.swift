import Audit
import Foundation
import SCIM
import Store
import Testing

/// The order of a "who could reach X at T" answer: by userName (deleted users by their last recorded
/// one, unknown users by id), then device, then rule; whatever the order the intervals were recorded in.
@Suite("Access history: answer order")
struct AccessHistoryOrderTests {
    @Test("rows sort by userName, then device, then rule, deleted users merged in by their last name")
    func order() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("portcullis-order-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try Store(directory: directory)
        var ids: [String: String] = [:]
        for name in ["zoe", "Adam", "bob", "émile", "carl", "dora"] {
            ids[name] = try await store.create(.user, attributes: ResourceNormalizer(.user).normalize(["userName": .string(name)])).id
        }
        let grants: JSON = [["prefix": "10.30.0.0/24", "protocol": "tcp", "ports": "5432"]]
        let rules = [
            AccessRuleVersion(version: "v-db", name: "db", verdict: "accept", grants: grants),
            AccessRuleVersion(version: "v-admins", name: "admins", verdict: "accept", grants: grants),
        ]
        // Recorded in an order that is none of the answer's.
        let memberships = [
            ("zoe", "d9", "v-db"), ("bob", "d2", "v-db"), ("émile", "d5", "v-db"), ("bob", "d1", "v-db"), ("Adam", "d3", "v-db"),
            ("bob", "d1", "v-admins"), ("carl", "d4", "v-db"), ("dora", "d6", "v-db"),
        ].enumerated().map { index, entry in
            AccessMembership(userID: ids[entry.0]!, deviceID: entry.1, address: "10.100.0.\(index + 2)/32", ruleVersion: entry.2)
        }
        let start = Int64(Date().timeIntervalSince1970 * 1000) - 60_000
        try await store.recordGatewayChange(rules: rules, opened: memberships, closed: [], closedAt: start, openedAt: start, audit: nil)
        // Carl leaves the directory: his rows keep his name from the audit log.
        try await store.delete(.user, id: ids["carl"]!)

        let rows = try await AccessHistory(store: store).whoCouldReach(
            try AccessTarget.parse("10.30.0.7:5432/tcp").get(), at: start + 1000)
        #expect(rows.map { "\($0.userName) \($0.deviceID) \($0.rule)" } == [
            "Adam d3 db", "bob d1 admins", "bob d1 db", "bob d2 db", "carl d4 db", "dora d6 db", "zoe d9 db", "émile d5 db",
        ])
        #expect(rows.first { $0.userName == "carl" }?.userID == ids["carl"])
    }

    @Test("a user whose userName is not text is named by id, not by someone else's name")
    func unnamedUser() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("portcullis-order-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try Store(directory: directory)
        let ada = try await store.create(.user, attributes: ResourceNormalizer(.user).normalize(["userName": "ada"]))
        let unnamed = try await store.create(.user, attributes: ["userName": .integer(7)])
        let rules = [AccessRuleVersion(version: "v-db", name: "db", verdict: "accept", grants: [["prefix": "10.30.0.0/24", "protocol": "tcp"]])]
        let start = Int64(Date().timeIntervalSince1970 * 1000) - 60_000
        try await store.recordGatewayChange(
            rules: rules,
            opened: [
                AccessMembership(userID: ada.id, deviceID: "d1", address: "10.100.0.2/32", ruleVersion: "v-db"),
                AccessMembership(userID: unnamed.id, deviceID: "d2", address: "10.100.0.3/32", ruleVersion: "v-db"),
            ], closed: [], closedAt: start, openedAt: start, audit: nil)
        let rows = try await AccessHistory(store: store).whoCouldReach(try AccessTarget.parse("10.30.0.7:5432/tcp").get(), at: start + 1000)
        #expect(Set(rows.map { "\($0.userID) \($0.userName)" }) == ["\(ada.id) ada", "\(unnamed.id) \(unnamed.id)"])
    }
}
