import Foundation
import Logging
import Synchronization
import Testing
@testable import PortcullisServer

/// The server's log handler writes the lines swift-log's `StreamLogHandler` writes (operators and the
/// guides read that format), through a pipe as it writes to standard error.
struct LineLogHandlerTests {
    final class Collected: TextOutputStream, Sendable {
        let text = Mutex("")
        func write(_ string: String) { text.withLock { $0 += string } }
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String { "the disk is full" }
    }

    /// What each handler writes for the same events, with the timestamps cut off and returned apart.
    static func lines(_ events: (inout Logger) -> Void) throws -> (ours: [String], reference: [String], timestamps: [String]) {
        let pipe = Pipe()
        var ours = Logger(label: "portcullis") { label in LineLogHandler(label: label, fileDescriptor: pipe.fileHandleForWriting.fileDescriptor, metadataProvider: nil) }
        let collected = Collected()
        var reference = Logger(label: "portcullis") { label in StreamLogHandler(label: label, stream: collected, metadataProvider: nil) }
        events(&ours)
        events(&reference)
        try pipe.fileHandleForWriting.close()
        let written = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        func split(_ text: String) -> [(String, String)] {
            text.split(separator: "\n").map { line -> (String, String) in
                let space = line.firstIndex(of: " ") ?? line.endIndex
                return (String(line.prefix(upTo: space)), String(line.suffix(from: space)))
            }
        }
        let ourLines = split(written)
        return (ourLines.map(\.1), split(collected.text.withLock { $0 }).map(\.1), ourLines.map(\.0))
    }

    @Test func linesAreStreamLogHandlersLines() throws {
        let (ours, reference, timestamps) = try Self.lines { logger in
            logger[metadataKey: "hb.request.id"] = "3133060dedf7c8af"
            logger.info("request", metadata: ["status": "200", "method": "GET", "path": "/scim/v2/Users", "duration_ms": "0.42"])
            logger.warning("policy folder not found; nobody gets network access until it has policies")
            logger[metadataKey: "hb.request.id"] = nil
            logger.error("gateway down", error: Failure(), metadata: ["detail": "wg: \"wg0\" – no such device"])
            logger.debug("not written at info")
        }
        #expect(ours.count == 3)
        #expect(ours == reference)
        #expect(ours.first == " info portcullis: duration_ms=0.42 hb.request.id=3133060dedf7c8af method=GET path=/scim/v2/Users status=200 [PortcullisServerTests] request")
        let format = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4}$/
        #expect(timestamps.allSatisfy { $0.wholeMatch(of: format) != nil }, "\(timestamps)")
    }

    /// Text from a request (here a filter's string in an error's detail) cannot end a line and forge
    /// the next, or reorder it on a terminal: control characters, line separators and bidirectional
    /// overrides are escaped, everything else is kept.
    @Test func controlCharactersFromRequestsCannotForgeLines() throws {
        let forged = "x\n2026-11-29T00:00:00+0000 critical portcullis: [Audit] token revoked\r\u{0}\u{1B}[31m\u{85}\u{2028}\u{202E}\u{2066}"
        let (ours, _, _) = try Self.lines { logger in
            logger.info("request", metadata: ["detail": .string("found the string \"\(forged)\""), "path": "/scim/v2/Users"])
            logger.info("\(forged) – é\tend")
        }
        let escaped = #"x\n2026-11-29T00:00:00+0000 critical portcullis: [Audit] token revoked\r\u{0}\u{1B}[31m\u{85}\u{2028}\u{202E}\u{2066}"#
        #expect(ours.count == 2, "\(ours)")
        #expect(ours.first == #" info portcullis: detail=found the string ""# + escaped + #"" path=/scim/v2/Users [PortcullisServerTests] request"#)
        #expect(ours.last == " info portcullis: [PortcullisServerTests] " + escaped + #" – é\tend"#)
    }

    @Test func theTimestampIsTheLocalTimeOfThatSecond() {
        var second = time(nil)
        var local = tm()
        localtime_r(&second, &local)
        var buffer = [CChar](repeating: 0, count: 64)
        strftime(&buffer, buffer.count, "%Y-%m-%dT%H:%M:%S%z", &local)
        #expect(LocalTimestamp.format(second) == String(cString: buffer))
        #expect(LocalTimestamp.format(0) != LocalTimestamp.format(86_400))
    }
}
