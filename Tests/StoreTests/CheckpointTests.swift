import Foundation
import SCIM
@testable import Store
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

    private func fileSize(_ path: String) throws -> Int {
        try (FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue ?? 0
    }
}
