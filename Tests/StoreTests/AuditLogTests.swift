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
