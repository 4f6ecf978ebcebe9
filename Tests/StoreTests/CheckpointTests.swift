import Foundation
import SCIM
@testable import Store
import CSQLite
import Testing

/// The write-ahead log is copied into the database file in the background, not inside a write.
@Suite("Checkpoints")
struct CheckpointTests {
    @Test("a log past the threshold is checkpointed beside the writes, and then starts over")
    func backgroundCheckpoint() async throws {
        let temporary = try TemporaryStore()
        let checkpointer = temporary.store.database.checkpointer
        let initialSize = try fileSize(temporary.databasePath)
        // About 8 pages per write (the user and its audit record each overflow into several pages).
        let title = String(repeating: "x", count: 12_000)
        var pagesSeen = 0
        for index in 0..<600 {
            _ = try await temporary.store.create(.user, attributes: ["userName": .string("user\(index)"), "title": .string(title)])
            pagesSeen = max(pagesSeen, checkpointer.pagesInLog)
        }
        #expect(pagesSeen >= Checkpointer.threshold, "the writes filled the log past the threshold (\(pagesSeen) pages)")

        // Once the checkpoint in flight is done, the next write starts the log over if everything was copied.
        let deadline = ContinuousClock.now + .seconds(20)
        var extra = 0
        while checkpointer.pagesInLog >= Checkpointer.threshold, ContinuousClock.now < deadline {
            while checkpointer.isRunning { try await Task.sleep(for: .milliseconds(5)) }
            _ = try await temporary.store.create(.user, attributes: ["userName": .string("extra\(extra)")])
            extra += 1
        }
        #expect(checkpointer.completed >= 1)
        #expect(checkpointer.pagesInLog < Checkpointer.threshold, "the log started over: \(checkpointer.pagesInLog) pages")
        let size = try fileSize(temporary.databasePath)
        #expect(size > initialSize + 600 * 12_000, "the users are in the database file: \(size) bytes")
        #expect(try await temporary.store.count(.user) == 600 + extra)
    }

    @Test("under writes that never pause, the log still starts over: it stays bounded")
    func logStaysBoundedUnderSteadyWrites() async throws {
        let temporary = try TemporaryStore()
        let store = temporary.store
        let checkpointer = store.database.checkpointer
        let title = String(repeating: "x", count: 12_000)
        // 16 writers, each starting its next write as soon as the last is done: about 8 pages a write,
        // 25,000 pages in all, six times the log's bound.
        let pagesSeen = try await withThrowingTaskGroup(of: Int.self) { group in
            for writer in 0..<16 {
                group.addTask {
                    var most = 0
                    for index in 0..<200 {
                        _ = try await store.create(.user, attributes: ["userName": .string("w\(writer)-\(index)"), "title": .string(title)])
                        most = max(most, checkpointer.pagesInLog)
                    }
                    return most
                }
            }
            return try await group.reduce(0) { max($0, $1) }
        }
        #expect(checkpointer.caughtUp >= 1, "the writer finished a checkpoint itself")
        #expect(pagesSeen < 2 * Checkpointer.catchUpThreshold, "the log held at most \(pagesSeen) pages")
        let logSize = try fileSize(temporary.databasePath + "-wal")
        #expect(logSize < 2 * Checkpointer.catchUpThreshold * 4096, "the log file is \(logSize) bytes")
        #expect(try await store.count(.user) == 16 * 200)
    }

    private func fileSize(_ path: String) throws -> Int {
        try (FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue ?? 0
    }
}

/// Writes that arrive together share one transaction, each in a savepoint: each is still all or nothing.
@Suite("Batched writes")
struct BatchedWriteTests {
    @Test("concurrent writes, some refused: the refused leave nothing, the others all stay, the audit chain holds")
    func refusalsInABatch() async throws {
        let temporary = try TemporaryStore()
        _ = try await temporary.createUser(userName: "taken")
        let store = temporary.store
        let outcomes = try await withThrowingTaskGroup(of: (Int, Bool).self) { group in
            for index in 0..<200 {
                group.addTask {
                    // Every fourth one asks for a userName that is taken: a uniqueness error inside the write.
                    let name = index % 4 == 0 ? "taken" : "user\(index)"
                    do {
                        _ = try await store.create(.user, attributes: ResourceNormalizer(.user).normalize(["userName": .string(name)]))
                        return (index, true)
                    } catch {
                        return (index, false)
                    }
                }
            }
            return try await group.reduce(into: [Int: Bool]()) { $0[$1.0] = $1.1 }
        }
        #expect(outcomes.filter { !$0.value }.keys.sorted() == Array(stride(from: 0, to: 200, by: 4)))
        #expect(try await temporary.store.count(.user) == 1 + 150)
        let audit = try await temporary.store.auditRecords(AuditQuery(action: "User.create", limit: 1000))
        #expect(audit.count == 1 + 150, "one audit record per write that stayed, none for the refused")
        #expect(try await temporary.store.verifyAudit() == .intact(records: 151, firstSeq: 1, lastSeq: 151))
    }
}

@Suite("SQLite settings")
struct SQLiteSettingsTests {
    @Test("memory statistics are off, so allocations take no process-wide lock")
    func memoryStatisticsOff() async throws {
        let temporary = try TemporaryStore()
        _ = try await temporary.createUser(userName: "ada")
        // With statistics on, SQLite counts what it holds for the open connections (well above zero).
        #expect(sqlite3_memory_used() == 0)
    }
}
