import Crypto
import Foundation
public import SCIM

/// Who acts, for the audit log. The server sets it per request (the token's name), the CLI for its
/// commands; the store reads it when it records a change.
public enum AuditContext {
    /// E.g. `token:okta`, `cli:root`, `reconciler`, `policy`.
    @TaskLocal public static var actor = "system"
    /// When the request that causes the change arrived (milliseconds since 1970), if one did: the
    /// report measures the delay from it to the revocation on the gateway.
    @TaskLocal public static var requestReceived: Int64?

    /// Both values, read where the caller runs: the store's writes run their closures on its own
    /// threads, where task-local values are not set.
    public struct Current: Sendable {
        public let actor: String
        public let requestReceived: Int64?
    }

    public static var current: Current { Current(actor: actor, requestReceived: requestReceived) }
}

/// One change, as the caller describes it; the store adds who, when and the chain.
public struct AuditEntry: Sendable, Hashable {
    /// E.g. `User.patch`, `device.revoke`, `policy.reload`, `gateway.apply`.
    public var action: String
    /// What it acted on, e.g. `User/2819c223-...` or `device/...`.
    public var target: String
    /// The user concerned, if one is.
    public var userID: String?
    /// What changed, without secrets.
    public var details: JSONObject

    public init(action: String, target: String, userID: String? = nil, details: JSONObject = [:]) {
        self.action = action
        self.target = target
        self.userID = userID
        self.details = details
    }
}

/// A record of the audit log as stored.
public struct AuditRecord: Sendable, Hashable {
    public let seq: Int64
    /// Milliseconds since 1970.
    public let at: Int64
    public let actor: String
    public let action: String
    public let target: String
    public let userID: String?
    /// The details as the JSON text that was hashed.
    public let details: String
    public let previousHash: String
    public let hash: String

    /// The hash this record must carry, given its fields and the previous record's hash.
    static func computeHash(
        previous: String, seq: Int64, at: Int64, actor: String, action: String, target: String, userID: String?, details: String
    ) -> String {
        // Every field length-prefixed, so no two different records hash the same bytes.
        var text = previous + "\n" + String(seq) + "\n" + String(at) + "\n"
        for field in [actor, action, target, userID ?? "\u{0}", details] {
            text += String(field.utf8.count) + ":" + field + "\n"
        }
        let digits = Array("0123456789abcdef".utf8)
        var hex: [UInt8] = []
        hex.reserveCapacity(64)
        for byte in SHA256.hash(data: Array(text.utf8)) {
            hex.append(digits[Int(byte >> 4)])
            hex.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: hex, as: UTF8.self)
    }

    var expectedHash: String {
        Self.computeHash(previous: previousHash, seq: seq, at: at, actor: actor, action: action, target: target, userID: userID, details: details)
    }
}

/// Which audit records to list.
public struct AuditQuery: Sendable, Hashable {
    /// Milliseconds since 1970, inclusive.
    public var since: Int64?
    /// Milliseconds since 1970, exclusive.
    public var until: Int64?
    /// Records about this user: theirs, and group changes naming them.
    public var userID: String?
    /// An action, or a prefix of one ending in `.` (e.g. `User.`).
    public var action: String?
    /// Records after this sequence number (paging).
    public var afterSeq: Int64 = 0
    public var limit = 100

    public init(since: Int64? = nil, until: Int64? = nil, userID: String? = nil, action: String? = nil, afterSeq: Int64 = 0, limit: Int = 100) {
        self.since = since
        self.until = until
        self.userID = userID
        self.action = action
        self.afterSeq = afterSeq
        self.limit = limit
    }
}

/// The end of the audit log's chain, `SEQ:HASH`: the last record's number and hash (with no records,
/// those of the last one pruned, or `0` and the genesis hash). Kept outside the database, it lets
/// `verify` see what the chain alone cannot: records deleted from the end, or the end rewritten.
public struct AuditHead: Sendable, Hashable, LosslessStringConvertible {
    public let seq: Int64
    /// 64 lowercase hexadecimal digits.
    public let hash: String

    public init(seq: Int64, hash: String) {
        self.seq = seq
        self.hash = hash
    }

    /// Parses `SEQ:HASH` as `description` writes it (surrounding white space ignored, hexadecimal
    /// digits in either case); nil for anything else.
    public init?(_ description: String) {
        let parts = description.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, parts[0].utf8.allSatisfy({ (0x30...0x39).contains($0) }), let seq = Int64(parts[0]) else {
            return nil
        }
        let hash = parts[1].lowercased()
        guard hash.utf8.count == 64, hash.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }) else { return nil }
        self.init(seq: seq, hash: hash)
    }

    public var description: String { "\(seq):\(hash)" }

    /// `SEQ:` and the hash's first 16 digits, for messages.
    public var abbreviated: String { "\(seq):\(hash.prefix(16))…" }
}

/// What `audit verify` found.
public enum AuditVerification: Sendable, Hashable {
    /// Every record matches its hash and links to the one before (and, when a head was expected,
    /// the chain holds it).
    case intact(records: Int, firstSeq: Int64?, lastSeq: Int64?)
    /// The first record that does not match, or the first one missing from the end, and how.
    case broken(seq: Int64, reason: String, checked: Int)
    /// The kept chain verifies, but the expected head's record was pruned by retention (the kept
    /// chain starts at `chainStart`), so it cannot be compared: keep a newer head.
    case headPruned(seq: Int64, chainStart: Int64, checked: Int)
}

// The audit log: one record per change, written in the change's own transaction, each carrying the
// SHA-256 of the one before. SQLite triggers refuse UPDATE and DELETE; only retention pruning
// deletes, and it records where the kept chain starts.

extension Store {
    /// The chain's start before any record: 64 zeros.
    static let genesisHash = String(repeating: "0", count: 64)

    /// Appends a record inside the caller's write transaction.
    static func appendAudit(_ entry: AuditEntry, actor current: AuditContext.Current, at: Int64, connection: SQLiteConnection) throws {
        try appendAudit(entry, detailsText: auditDetailsText(entry.details, actor: current), actor: current, at: at, connection: connection)
    }

    /// The text of a record's details as stored (with when the request came in), which can be made
    /// before the write, off the writer thread.
    static func auditDetailsText(_ details: JSONObject, actor current: AuditContext.Current) -> String {
        var details = details
        if let received = current.requestReceived, details["requestReceivedAt"] == nil {
            details["requestReceivedAt"] = .integer(Int(received))
        }
        return JSON.object(details).jsonText
    }

    /// Appends a record whose details are already text (`auditDetailsText`); `entry.details` is not read.
    static func appendAudit(
        _ entry: AuditEntry, detailsText text: String, actor current: AuditContext.Current, at: Int64, connection: SQLiteConnection
    ) throws {
        let actor = current.actor
        let head = try auditHead(connection: connection)
        let (previous, seq) = (head.hash, head.seq + 1)
        let hash = AuditRecord.computeHash(
            previous: previous, seq: seq, at: at, actor: actor, action: entry.action, target: entry.target, userID: entry.userID, details: text)
        try connection.prepare(
            "INSERT INTO audit_log (seq, at, actor, action, target, user_id, details, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
        ).bind(
            .integer(Int(seq)), .integer(Int(at)), .text(actor), .text(entry.action), .text(entry.target), .optionalText(entry.userID),
            .text(text), .text(previous), .text(hash)
        ).run()
    }

    /// Records something that changes nothing else in the database (a policy reload, what the
    /// reconciler applied), in its own transaction.
    public func recordAudit(_ entry: AuditEntry) async throws {
        let actor = AuditContext.current
        try await database.write { connection in
            try Self.appendAudit(entry, actor: actor, at: Self.now(), connection: connection)
        }
    }

    /// `recordAudit`, synchronously, for callers outside an asynchronous context.
    public func recordAuditNow(_ entry: AuditEntry) throws {
        let actor = AuditContext.current
        try database.writeNow { connection in
            try Self.appendAudit(entry, actor: actor, at: Self.now(), connection: connection)
        }
    }

    /// Records, oldest first.
    public func auditRecords(_ query: AuditQuery) async throws -> [AuditRecord] {
        var conditions = ["seq > ?"]
        var values: [SQLiteValue] = [.integer(Int(query.afterSeq))]
        if let since = query.since {
            conditions.append("at >= ?")
            values.append(.integer(Int(since)))
        }
        if let until = query.until {
            conditions.append("at < ?")
            values.append(.integer(Int(until)))
        }
        if let user = query.userID {
            conditions.append("(user_id = ? OR (action LIKE 'Group.%' AND instr(details, ?) > 0))")
            values += [.text(user), .text("\"" + user + "\"")]
        }
        if let action = query.action {
            if action.hasSuffix(".") {
                conditions.append("substr(action, 1, ?) = ?")
                values += [.integer(action.utf8.count), .text(action)]
            } else {
                conditions.append("action = ?")
                values.append(.text(action))
            }
        }
        values.append(.integer(max(1, min(query.limit, 10_000))))
        let sql = "SELECT \(Self.auditColumns) FROM audit_log WHERE \(conditions.joined(separator: " AND ")) ORDER BY seq LIMIT ?"
        let parameters = values
        return try await database.read { connection in
            let statement = try connection.prepare(sql)
            try statement.bind(parameters)
            var records: [AuditRecord] = []
            while try statement.step() { records.append(Self.auditRecord(row: statement)) }
            return records
        }
    }

    /// The id of the user last recorded with this userName (ignoring case), deleted or not.
    public func auditedUserID(userName: String) async throws -> String? {
        try await database.read { connection in
            let statement = try connection.prepare(
                """
                SELECT user_id FROM audit_log
                WHERE action IN ('User.create', 'User.replace', 'User.patch') AND lower(json_extract(details, '$.changes.userName.after')) = lower(?)
                ORDER BY seq DESC LIMIT 1
                """)
            try statement.bind(.text(userName))
            return try statement.step() ? statement.optionalText(0) : nil
        }
    }

    /// The end of the chain: the last record, or with none the one the next record will link to.
    public func auditHead() async throws -> AuditHead {
        try await database.read { connection in try Self.auditHead(connection: connection) }
    }

    static func auditHead(connection: SQLiteConnection) throws -> AuditHead {
        let last = try connection.prepare("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
        if try last.step() { return AuditHead(seq: Int64(last.int(0)), hash: last.text(1)) }
        let start = try auditChainStart(connection: connection)
        return AuditHead(seq: start.seq - 1, hash: start.previousHash)
    }

    /// The number of the chain's first record and the hash it links to: 1 and the genesis hash, or
    /// after retention pruned, the first kept record's and the hash of the last one pruned.
    static func auditChainStart(connection: SQLiteConnection) throws -> (seq: Int64, previousHash: String) {
        let anchor = try connection.prepare("SELECT anchor_seq, anchor_hash FROM audit_state WHERE id = 1")
        if try anchor.step(), let anchorSeq = anchor.optionalInt(0), let anchorHash = anchor.optionalText(1) {
            return (Int64(anchorSeq), anchorHash)
        }
        return (1, genesisHash)
    }

    /// Recomputes the chain from where it starts (the first record, or the retention anchor) and
    /// names the first record whose hash or link does not match. The chain alone cannot tell that
    /// records were deleted from its end: with `expectedHead` (kept outside the database), the chain
    /// must also still reach that record, unaltered; it may have grown past it.
    public func verifyAudit(expectedHead: AuditHead? = nil) async throws -> AuditVerification {
        try await database.read { connection in
            let start = try Self.auditChainStart(connection: connection)
            var expectedPrevious = start.previousHash
            var expectedSeq = start.seq
            let statement = try connection.prepare("SELECT \(Self.auditColumns) FROM audit_log ORDER BY seq")
            var checked = 0
            var first: Int64?
            var last: Int64?
            while try statement.step() {
                let record = Self.auditRecord(row: statement)
                if record.seq != expectedSeq {
                    let reason =
                        record.seq > expectedSeq
                        ? "\(Self.missingRecords(expectedSeq, record.seq - 1)) missing"
                        : "sequence number \(record.seq) is out of order (expected \(expectedSeq))"
                    return .broken(seq: record.seq, reason: reason, checked: checked)
                }
                if record.previousHash != expectedPrevious {
                    return .broken(seq: record.seq, reason: "its previous-hash does not match the record before it", checked: checked)
                }
                if record.expectedHash != record.hash {
                    return .broken(seq: record.seq, reason: "its contents do not match its hash (the record was changed)", checked: checked)
                }
                if let expectedHead, record.seq == expectedHead.seq, record.hash != expectedHead.hash {
                    let reason = "its hash is \(record.hash.prefix(16))…, the anchor expects \(expectedHead.abbreviated) (the record was replaced)"
                    return .broken(seq: record.seq, reason: reason, checked: checked)
                }
                expectedPrevious = record.hash
                expectedSeq = record.seq + 1
                checked += 1
                first = first ?? record.seq
                last = record.seq
            }
            if let expectedHead {
                let end = AuditHead(seq: expectedSeq - 1, hash: expectedPrevious)
                if let failure = Self.compare(expectedHead, chainStart: start, end: end, checked: checked) { return failure }
            }
            return .intact(records: checked, firstSeq: first, lastSeq: last)
        }
    }

    /// What is wrong with an expected head the records before `end` verified up to, if anything.
    /// Records from `chainStart.seq` to `end.seq` were compared as they were read.
    private static func compare(
        _ expected: AuditHead, chainStart start: (seq: Int64, previousHash: String), end: AuditHead, checked: Int
    ) -> AuditVerification? {
        if expected.seq > end.seq {
            let ends = end.seq == 0 ? "the log is empty" : "the log ends at \(end.seq)"
            let reason = "\(missingRecords(end.seq + 1, expected.seq)) missing: \(ends), the anchor expects \(expected.abbreviated)"
            return .broken(seq: end.seq + 1, reason: reason, checked: checked)
        }
        if expected.seq >= start.seq { return nil }
        guard expected.seq == start.seq - 1 else { return .headPruned(seq: expected.seq, chainStart: start.seq, checked: checked) }
        guard expected.hash == start.previousHash else {
            let reason =
                "the chain starts after \(expected.seq) with hash \(start.previousHash.prefix(16))…, "
                + "the anchor expects \(expected.abbreviated) (the chain was replaced)"
            return .broken(seq: expected.seq, reason: reason, checked: checked)
        }
        return nil
    }

    /// "record 7 is" or "records 7-9 are".
    private static func missingRecords(_ first: Int64, _ last: Int64) -> String {
        first == last ? "record \(first) is" : "records \(first)-\(last) are"
    }

    /// Deletes records older than `cutoff` (milliseconds since 1970) and closed access intervals that
    /// ended before it, keeping the chain verifiable: the hash the first kept record links to is
    /// recorded as the anchor. Returns how many audit records were deleted.
    @discardableResult
    public func pruneAudit(before cutoff: Int64) async throws -> Int {
        try await database.write { connection in
            let boundary = try connection.prepare("SELECT seq, prev_hash FROM audit_log WHERE at >= ? ORDER BY seq LIMIT 1")
            try boundary.bind(.integer(Int(cutoff)))
            let anchor: (seq: Int, hash: String)
            if try boundary.step() {
                anchor = (boundary.int(0), boundary.text(1))
            } else {
                // Everything is older: the next record continues from the last one.
                let last = try connection.prepare("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
                guard try last.step() else { return 0 }
                anchor = (last.int(0) + 1, last.text(1))
            }
            try connection.execute("UPDATE audit_state SET pruning = 1 WHERE id = 1")
            try connection.prepare("DELETE FROM audit_log WHERE seq < ?").bind(.integer(anchor.seq)).run()
            let deleted = connection.changes
            try connection.prepare("UPDATE audit_state SET pruning = 0, anchor_seq = ?, anchor_hash = ?, pruned_at = ? WHERE id = 1")
                .bind(.integer(anchor.seq), .text(anchor.hash), .integer(Int(Self.now()))).run()
            try connection.prepare("DELETE FROM access_intervals WHERE until IS NOT NULL AND until < ?").bind(.integer(Int(cutoff))).run()
            return deleted
        }
    }

    static let auditColumns = "seq, at, actor, action, target, user_id, details, prev_hash, hash"

    static func auditRecord(row: SQLiteStatement) -> AuditRecord {
        AuditRecord(
            seq: Int64(row.int(0)), at: Int64(row.int(1)), actor: row.text(2), action: row.text(3), target: row.text(4),
            userID: row.optionalText(5), details: row.text(6), previousHash: row.text(7), hash: row.text(8))
    }
}

/// The attribute-level difference between two versions of a resource, for the audit log: each
/// changed attribute with its value before and after (extension attributes one level down), and a
/// group's members as added and removed ids. Never `password`.
enum AuditDiff {
    static func changes(before: JSONObject?, after: JSONObject?) -> JSONObject {
        var changes = JSONObject()
        let keys = orderedKeys(before, after).filter { !["password", "schemas", "meta", "id", "groups"].contains($0.lowercased()) }
        for key in keys {
            let old = before?[key]
            let new = after?[key]
            guard old != new else { continue }
            if key.lowercased() == "members" {
                let oldIDs = memberIDs(old)
                let newIDs = memberIDs(new)
                changes[key] = [
                    "added": .array(newIDs.filter { !oldIDs.contains($0) }.map(JSON.string)),
                    "removed": .array(oldIDs.filter { !newIDs.contains($0) }.map(JSON.string)),
                ]
            } else if key.hasPrefix("urn:"), old?.objectValue != nil || new?.objectValue != nil {
                for change in AuditDiff.changes(before: old?.objectValue, after: new?.objectValue) {
                    changes[key + ":" + change.key] = change.value
                }
            } else {
                var change = JSONObject()
                if let old { change["before"] = old }
                if let new { change["after"] = new }
                changes[key] = .object(change)
            }
        }
        return changes
    }

    private static func orderedKeys(_ before: JSONObject?, _ after: JSONObject?) -> [String] {
        var seen = Set<String>()
        return ((before?.keys ?? []) + (after?.keys ?? [])).filter { seen.insert($0).inserted }
    }

    private static func memberIDs(_ value: JSON?) -> [String] {
        (value?.arrayValue ?? []).compactMap { $0.objectValue?["value"]?.stringValue }
    }
}
