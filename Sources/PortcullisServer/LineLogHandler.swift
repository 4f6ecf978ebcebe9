import Audit
public import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Writes each log event as one line to a file descriptor (standard error, 2, by default), in the format of
/// swift-log's `StreamLogHandler`:
///
///     2026-11-29T05:59:16+0000 info portcullis: duration_ms=0.42 method=GET status=200 [PortcullisServer] request
///
/// The server logs a line per request, so the line's cost is part of every request's. This handler
/// builds it with less work: metadata set on a logger is kept as given (`StreamLogHandler` renders all
/// of it again on every change, and the server's framework sets a request id on every request), the
/// local time's text is made once a second, and the line goes out in one `write(2)` without stdio's
/// lock and flush. A line is written whole or, if the descriptor fails, dropped.
///
/// Unlike `StreamLogHandler`, it escapes control characters (`\n` as `\\n`, others as `\\u{1B}`), line
/// separators and bidirectional overrides, as `TerminalText.safe` does for the CLI: messages and
/// metadata carry text from requests (a filter's string in an error's detail), and a client must not
/// be able to end a line and forge the next one, or reorder what a terminal shows.
public struct LineLogHandler: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let label: String
    private let fileDescriptor: Int32

    public init(label: String, fileDescriptor: Int32 = 2, metadataProvider: Logger.MetadataProvider? = LoggingSystem.metadataProvider) {
        self.label = label
        self.fileDescriptor = fileDescriptor
        self.metadataProvider = metadataProvider
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get(), !provided.isEmpty {
            merged.merge(provided) { _, provided in provided }
        }
        if let explicit = event.metadata, !explicit.isEmpty {
            merged.merge(explicit) { _, explicit in explicit }
        }
        if let error = event.error {
            merged["error.message"] = "\(error)"
            merged["error.type"] = "\(String(reflecting: type(of: error)))"
        }
        var line = LocalTimestamp.now()
        line.reserveCapacity(160)
        line += " "
        line += event.level.rawValue
        if !label.isEmpty {
            line += " "
            line += label
        }
        line += ":"
        for (key, value) in merged.sorted(by: { $0.key < $1.key }) {
            line += " "
            line += key
            line += "="
            line += value.description
        }
        line += " ["
        line += event.source
        line += "] "
        line += event.message.description
        line = TerminalText.safe(line)
        line += "\n"
        Self.write(line, to: fileDescriptor)
    }

    private static func write(_ line: String, to descriptor: Int32) {
        var line = line
        line.withUTF8 { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = Glibc.write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
                if written > 0 {
                    offset += written
                } else if written < 0, errno == EINTR {
                    continue
                } else {
                    return
                }
            }
        }
    }
}

/// The local time as `StreamLogHandler` writes it (`strftime`'s `%Y-%m-%dT%H:%M:%S%z`), made once per second.
enum LocalTimestamp {
    private static let cache = Mutex<(second: time_t, text: String)>((-1, ""))

    static func now() -> String {
        let second = time(nil)
        if let text = cache.withLock({ $0.second == second ? $0.text : nil }) { return text }
        let text = format(second)
        cache.withLock { $0 = (second, text) }
        return text
    }

    static func format(_ second: time_t) -> String {
        var second = second
        var local = tm()
        guard localtime_r(&second, &local) != nil else { return "<unknown>" }
        var buffer = [CChar](repeating: 0, count: 64)
        let count = strftime(&buffer, buffer.count, "%Y-%m-%dT%H:%M:%S%z", &local)
        return String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
