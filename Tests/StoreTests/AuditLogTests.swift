import Foundation
import SCIM
import Testing
@testable import Store

/// The audit log: one hash-chained record per change, in the change's own transaction, refused
/// UPDATE and DELETE, pruned only by retention with an anchor that keeps the chain verifiable.
struct AuditLogTests {
    @Test func scimWritesAreRecordedWithTheActorAndTheAttributesThatChanged() async throws {
        let temporary = try TemporaryStore()
        let user = try await AuditContext.$actor.withValue("token:okta") {
            try await temporary.createUser(#"{"userName": "ada", "password": "hunter2", "title": "Engineer"}"#)
        }
        _ = try await AuditContext.$actor.withValue("token:entra") {
            try await temporary.store.modify(.user, id: user.id) { current in
                var attributes = current.attributes
                attributes["title"] = "Manager"
                attributes["active"] = false
                return attributes
            }
        }
        try await temporary.store.delete(.user, id: user.id)

        let records = try await temporary.store.auditRecords(AuditQuery(userID: user.id))
        #expect(records.map(\.action) == ["User.create", "User.patch", "User.delete"])
        #expect(records.map(\.actor) == ["token:okta", "token:entra", "system"])
        #expect(records.allSatisfy { $0.target == "User/" + user.id && $0.userID == user.id })
        #expect(!records.contains { $0.details.contains("hunter2") || $0.details.contains("password") }, "never a password")

        let patch = try JSONParser.parse(records[1].details)
        #expect(patch.field("changes")?.field("title")?.field("before") == "Engineer")
        #expect(patch.field("changes")?.field("title")?.field("after") == "Manager")
        #expect(patch.field("changes")?.field("active")?.field("after") == false)
        #expect(patch.field("changes")?.field("userName") == nil, "unchanged attributes are left out")
        let deletion = try JSONParser.parse(records[2].details)
        #expect(deletion.field("changes")?.field("userName")?.field("before") == "ada")
        #expect(try await temporary.store.verifyAudit() == .intact(records: 3, firstSeq: 1, lastSeq: 3))
    }

    @Test func groupRecordsNameTheMembersAddedAndRemoved() async throws {
        let temporary = try TemporaryStore()
        let ada = try await temporary.createUser(userName: "ada")
        let bob = try await temporary.createUser(userName: "bob")
        let group = try await temporary.createGroup("Engineering", members: [ada])
        _ = try await temporary.store.modify(.group, id: group.id) { current in
            var attributes = current.attributes
            attributes["members"] = [["value": .string(bob.id)]]
            return attributes
        }
        let records = try await temporary.store.auditRecords(AuditQuery(action: "Group."))
        #expect(records.map(\.action) == ["Group.create", "Group.patch"])
        let change = try JSONParser.parse(records[1].details).field("changes")?.field("members")
        #expect(change?.field("added") == [.string(bob.id)])
        #expect(change?.field("removed") == [.string(ada.id)])
        let adasRecords = try await temporary.store.auditRecords(AuditQuery(userID: ada.id)).map(\.action)
        #expect(adasRecords == ["User.create", "Group.create", "Group.patch"], "a user's history includes the groups that named them")
    }

    @Test func theRecordIsWrittenInTheChangesOwnTransaction() async throws {
        let temporary = try TemporaryStore()
        // Make every audit append fail: the change it records must not happen either.
        try temporary.store.database.writeNow { connection in
            try connection.execute("CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_log BEGIN SELECT RAISE(ABORT, 'no audit'); END")
        }
        await #expect(throws: (any Error).self) { _ = try await temporary.createUser(userName: "ada") }
        #expect(try await temporary.store.directory().isEmpty, "no user without its audit record")
        #expect(throws: (any Error).self) { _ = try temporary.store.createToken(name: "okta", scope: .scim) }
        #expect(try temporary.store.tokens().isEmpty, "no token without its audit record")

        try temporary.store.database.writeNow { connection in try connection.execute("DROP TRIGGER refuse_audit") }
        _ = try await temporary.createUser(userName: "ada")
        #expect(try await temporary.store.directory().count == 1)
        #expect(try await temporary.store.auditRecords(AuditQuery()).map(\.seq) == [1], "the failed attempts left no gap in the chain")
    }

    @Test func theTableRefusesUpdateAndDelete() async throws {
        let temporary = try TemporaryStore()
        _ = try await temporary.createUser(userName: "ada")
        for sql in ["UPDATE audit_log SET actor = 'someone else'", "DELETE FROM audit_log"] {
            let error = #expect(throws: StoreError.self) {
                try temporary.store.database.writeNow { connection in try connection.execute(sql) }
            }
            #expect("\(error.map { "\($0)" } ?? "")".contains("append-only"), "\(sql)")
        }
        #expect(try await temporary.store.auditRecords(AuditQuery()).first?.actor == "system")
        #expect(try await temporary.store.verifyAudit() == .intact(records: 1, firstSeq: 1, lastSeq: 1))
    }

    @Test func verifyNamesTheFirstRecordThatWasChanged() async throws {
        let temporary = try TemporaryStore()
        for name in ["ada", "bob", "carol", "dave"] { _ = try await temporary.createUser(userName: name) }
        #expect(try await temporary.store.verifyAudit() == .intact(records: 4, firstSeq: 1, lastSeq: 4))
        // Someone with the database file drops the guard and edits record 2, then record 4.
        try temporary.store.database.writeNow { connection in
            try connection.execute("DROP TRIGGER audit_log_no_update")
            try connection.execute("UPDATE audit_log SET details = replace(details, 'bob', 'eve') WHERE seq = 2")
            try connection.execute("UPDATE audit_log SET actor = 'token:other' WHERE seq = 4")
        }
        guard case .broken(let seq, let reason, let checked) = try await temporary.store.verifyAudit() else {
            Issue.record("an edited chain verified as intact")
            return
        }
        #expect(seq == 2)
        #expect(checked == 1)
        #expect(reason.contains("changed"))
    }

    @Test func verifyNamesARemovedRecordAndARewrittenLink() async throws {
        let temporary = try TemporaryStore()
        for name in ["ada", "bob", "carol"] { _ = try await temporary.createUser(userName: name) }
        try temporary.store.database.writeNow { connection in
            try connection.execute("DROP TRIGGER audit_log_no_delete")
            try connection.execute("DELETE FROM audit_log WHERE seq = 2")
        }
        guard case .broken(let seq, let reason, _) = try await temporary.store.verifyAudit() else {
            Issue.record("a chain with a hole verified as intact")
            return
        }
        #expect(seq == 3)
        #expect(reason.contains("2") && reason.contains("missing"), "\(reason)")
    }

    @Test func pruningKeepsTheRestVerifiableAndTheChainGoesOn() async throws {
        let temporary = try TemporaryStore()
        for name in ["ada", "bob", "carol"] { _ = try await temporary.createUser(userName: name) }
        try await Task.sleep(for: .milliseconds(5))
        let cutoff = Store.now()
        try await Task.sleep(for: .milliseconds(5))
        for name in ["dave", "erin"] { _ = try await temporary.createUser(userName: name) }

        #expect(try await temporary.store.pruneAudit(before: cutoff) == 3)
        #expect(try await temporary.store.auditRecords(AuditQuery()).map(\.seq) == [4, 5])
        #expect(try await temporary.store.verifyAudit() == .intact(records: 2, firstSeq: 4, lastSeq: 5))

        _ = try await temporary.createUser(userName: "frank")
        #expect(try await temporary.store.verifyAudit() == .intact(records: 3, firstSeq: 4, lastSeq: 6))
        // The guard is back after pruning: a plain DELETE is still refused.
        #expect(throws: StoreError.self) {
            try temporary.store.database.writeNow { connection in try connection.execute("DELETE FROM audit_log WHERE seq = 4") }
        }

        // Pruning everything leaves an anchor the next record links to.
        #expect(try await temporary.store.pruneAudit(before: Store.now() + 1) == 3)
        #expect(try await temporary.store.verifyAudit() == .intact(records: 0, firstSeq: nil, lastSeq: nil))
        _ = try await temporary.createUser(userName: "grace")
        #expect(try await temporary.store.verifyAudit() == .intact(records: 1, firstSeq: 7, lastSeq: 7))
    }

    @Test func theHeadIsTheLastRecordOrTheOneTheNextLinksTo() async throws {
        let temporary = try TemporaryStore()
        #expect(try await temporary.store.auditHead() == AuditHead(seq: 0, hash: Store.genesisHash), "an empty log's head is the genesis")
        for name in ["ada", "bob"] { _ = try await temporary.createUser(userName: name) }
        let records = try await temporary.store.auditRecords(AuditQuery())
        #expect(try await temporary.store.auditHead() == AuditHead(seq: 2, hash: records[1].hash))

        #expect(try await temporary.store.pruneAudit(before: Store.now() + 1) == 2)
        #expect(try await temporary.store.auditHead() == AuditHead(seq: 2, hash: records[1].hash), "pruning everything keeps the head")
        _ = try await temporary.createUser(userName: "carol")
        let carol = try #require(try await temporary.store.auditRecords(AuditQuery()).last)
        #expect(carol.seq == 3 && carol.previousHash == records[1].hash, "the next record links to the head")
        #expect(try await temporary.store.auditHead() == AuditHead(seq: 3, hash: carol.hash))
    }

    /// Someone with the file drops the guard and deletes the last records: nothing after them links
    /// to them, so the chain verifies; a head kept elsewhere shows what is gone.
    @Test func anExpectedHeadShowsRecordsDeletedFromTheEnd() async throws {
        let temporary = try TemporaryStore()
        for name in ["ada", "bob", "carol", "dave", "erin", "frank"] { _ = try await temporary.createUser(userName: name) }
        let head = try await temporary.store.auditHead()
        #expect(head.seq == 6)
        let fourth = try #require(try await temporary.store.auditRecords(AuditQuery(afterSeq: 3, limit: 1)).first)
        #expect(try await temporary.store.verifyAudit(expectedHead: head) == .intact(records: 6, firstSeq: 1, lastSeq: 6))

        try temporary.store.database.writeNow { connection in
            try connection.execute("DROP TRIGGER audit_log_no_delete")
            try connection.execute("DELETE FROM audit_log WHERE seq >= 4")
        }
        #expect(try await temporary.store.verifyAudit() == .intact(records: 3, firstSeq: 1, lastSeq: 3), "the chain alone cannot see it")
        let expected = "records 4-6 are missing: the log ends at 3, the anchor expects 6:\(head.hash.prefix(16))…"
        #expect(try await temporary.store.verifyAudit(expectedHead: head) == .broken(seq: 4, reason: expected, checked: 3))
        let single = try await temporary.store.verifyAudit(expectedHead: AuditHead(seq: fourth.seq, hash: fourth.hash))
        #expect(single == .broken(seq: 4, reason: "record 4 is missing: the log ends at 3, the anchor expects \(AuditHead(seq: 4, hash: fourth.hash).abbreviated)", checked: 3))

        try temporary.store.database.writeNow { connection in try connection.execute("DELETE FROM audit_log") }
        guard case .broken(1, let reason, 0) = try await temporary.store.verifyAudit(expectedHead: head) else {
            Issue.record("an emptied log matched the head")
            return
        }
        #expect(reason.hasPrefix("records 1-6 are missing: the log is empty"), "\(reason)")
    }

    /// The last records deleted and new ones written over the gap (here by the store itself, as a
    /// restarted server would), or the last record rewritten with its hash recomputed: the chain
    /// verifies and reaches the head's number, but not with the head's hash.
    @Test func anExpectedHeadShowsAReplacedEnd() async throws {
        let temporary = try TemporaryStore()
        for name in ["ada", "bob", "carol", "dave"] { _ = try await temporary.createUser(userName: name) }
        let head = try await temporary.store.auditHead()
        try temporary.store.database.writeNow { connection in
            try connection.execute("DROP TRIGGER audit_log_no_delete")
            try connection.execute("DELETE FROM audit_log WHERE seq = 4")
        }
        _ = try await temporary.createUser(userName: "mallory")
        #expect(try await temporary.store.verifyAudit() == .intact(records: 4, firstSeq: 1, lastSeq: 4))
        guard case .broken(let seq, let reason, let checked) = try await temporary.store.verifyAudit(expectedHead: head) else {
            Issue.record("a replaced head record matched the head")
            return
        }
        #expect(seq == 4 && checked == 3)
        #expect(reason.contains("the anchor expects \(head.abbreviated)") && reason.contains("replaced"), "\(reason)")

        // The new record 4 rewritten, with the hash anyone with the code can compute.
        let newHead = try await temporary.store.auditHead()
        let record = try #require(try await temporary.store.auditRecords(AuditQuery(afterSeq: 3)).first)
        let actor = "token:okta"
        let hash = AuditRecord.computeHash(
            previous: record.previousHash, seq: record.seq, at: record.at, actor: actor, action: record.action, target: record.target,
            userID: record.userID, details: record.details)
        try temporary.store.database.writeNow { connection in
            try connection.execute("DROP TRIGGER audit_log_no_update")
            try connection.prepare("UPDATE audit_log SET actor = ?, hash = ? WHERE seq = 4").bind(.text(actor), .text(hash)).run()
        }
        #expect(try await temporary.store.verifyAudit() == .intact(records: 4, firstSeq: 1, lastSeq: 4))
        guard case .broken(4, let rewritten, 3) = try await temporary.store.verifyAudit(expectedHead: newHead) else {
            Issue.record("a rewritten head record matched the head")
            return
        }
        #expect(rewritten == "its hash is \(hash.prefix(16))…, the anchor expects \(newHead.abbreviated) (the record was replaced)")
    }

    @Test func aLogThatGrewPastTheExpectedHeadVerifiesThroughIt() async throws {
        let temporary = try TemporaryStore()
        for name in ["ada", "bob"] { _ = try await temporary.createUser(userName: name) }
        let head = try await temporary.store.auditHead()
        for name in ["carol", "dave", "erin"] { _ = try await temporary.createUser(userName: name) }
        #expect(try await temporary.store.verifyAudit(expectedHead: head) == .intact(records: 5, firstSeq: 1, lastSeq: 5))
        let wrong = AuditHead(seq: 2, hash: String(repeating: "ab", count: 32))
        guard case .broken(2, let reason, 1) = try await temporary.store.verifyAudit(expectedHead: wrong) else {
            Issue.record("a head with another hash matched")
            return
        }
        #expect(reason.contains("the anchor expects \(wrong.abbreviated)"), "\(reason)")
    }

    /// Retention deletes the start of the log: an expected head at or after where the kept chain
    /// starts still checks, one before it cannot be compared (and says so), and a deleted tail fails.
    @Test func anExpectedHeadWorksWithRetentionPruning() async throws {
        let temporary = try TemporaryStore()
        var heads: [AuditHead] = []
        for name in ["ada", "bob", "carol"] {
            _ = try await temporary.createUser(userName: name)
            heads.append(try await temporary.store.auditHead())
        }
        try await Task.sleep(for: .milliseconds(5))
        let cutoff = Store.now()
        try await Task.sleep(for: .milliseconds(5))
        for name in ["dave", "erin"] { _ = try await temporary.createUser(userName: name) }
        let head = try await temporary.store.auditHead()
        #expect(try await temporary.store.pruneAudit(before: cutoff) == 3)

        #expect(try await temporary.store.verifyAudit(expectedHead: head) == .intact(records: 2, firstSeq: 4, lastSeq: 5))
        #expect(
            try await temporary.store.verifyAudit(expectedHead: heads[2]) == .intact(records: 2, firstSeq: 4, lastSeq: 5),
            "the kept chain links to the last pruned record's hash")
        #expect(try await temporary.store.verifyAudit(expectedHead: heads[1]) == .headPruned(seq: 2, chainStart: 4, checked: 2))
        let forged = AuditHead(seq: 3, hash: String(repeating: "0", count: 64))
        guard case .broken(3, let reason, 2) = try await temporary.store.verifyAudit(expectedHead: forged) else {
            Issue.record("a head the kept chain does not link to matched")
            return
        }
        #expect(reason.contains("the anchor expects \(forged.abbreviated)"), "\(reason)")

        try temporary.store.database.writeNow { connection in
            try connection.execute("DROP TRIGGER audit_log_no_delete")
            try connection.execute("DELETE FROM audit_log WHERE seq = 5")
        }
        let missing = "record 5 is missing: the log ends at 4, the anchor expects \(head.abbreviated)"
        #expect(try await temporary.store.verifyAudit(expectedHead: head) == .broken(seq: 5, reason: missing, checked: 1))
    }

    @Test(arguments: [
        ("7:" + String(repeating: "a", count: 64), "7:" + String(repeating: "a", count: 64)),
        (" 12:" + String(repeating: "AB", count: 32) + "\n", "12:" + String(repeating: "ab", count: 32)),
        ("0:" + String(repeating: "0", count: 64), "0:" + String(repeating: "0", count: 64)),
        ("12", nil), ("12:", nil), (":" + String(repeating: "a", count: 64), nil), ("-1:" + String(repeating: "a", count: 64), nil),
        ("+1:" + String(repeating: "a", count: 64), nil), ("1:" + String(repeating: "a", count: 63), nil),
        ("1:" + String(repeating: "g", count: 64), nil), ("1:" + String(repeating: "a", count: 64) + ":2", nil),
        ("99999999999999999999:" + String(repeating: "a", count: 64), nil), ("١:" + String(repeating: "a", count: 64), nil),
    ] as [(String, String?)])
    func headsAreParsedAsAuditHeadPrintsThem(_ text: String, _ parsed: String?) {
        #expect(AuditHead(text)?.description == parsed)
    }

    @Test func queriesFilterByTimeActionAndPage() async throws {
        let temporary = try TemporaryStore()
        _ = try await temporary.createUser(userName: "ada")
        try await Task.sleep(for: .milliseconds(5))
        let middle = Store.now()
        try await Task.sleep(for: .milliseconds(5))
        _ = try temporary.store.createToken(name: "okta", scope: .scim)
        _ = try await temporary.createUser(userName: "bob")
        _ = try temporary.store.revokeToken(name: "okta")

        #expect(try await temporary.store.auditRecords(AuditQuery(until: middle)).map(\.action) == ["User.create"])
        #expect(try await temporary.store.auditRecords(AuditQuery(since: middle)).map(\.action) == ["token.create", "User.create", "token.revoke"])
        #expect(try await temporary.store.auditRecords(AuditQuery(action: "token.")).map(\.target) == ["token/okta", "token/okta"])
        #expect(try await temporary.store.auditRecords(AuditQuery(action: "token")).isEmpty, "an action without a dot is matched exactly")
        let first = try await temporary.store.auditRecords(AuditQuery(limit: 2))
        let second = try await temporary.store.auditRecords(AuditQuery(afterSeq: try #require(first.last).seq, limit: 2))
        #expect(first.map(\.seq) == [1, 2])
        #expect(second.map(\.seq) == [3, 4])
    }

    @Test func theRequestTimeIsKeptForTheRevocationDelay() async throws {
        let temporary = try TemporaryStore()
        let received = Store.now() - 3
        _ = try await AuditContext.$requestReceived.withValue(received) { try await temporary.createUser(userName: "ada") }
        let record = try #require(try await temporary.store.auditRecords(AuditQuery()).first)
        #expect(try JSONParser.parse(record.details).field("requestReceivedAt") == .integer(Int(received)))
        #expect(record.at >= received)
    }
}
