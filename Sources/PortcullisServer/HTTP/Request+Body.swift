import Hummingbird

extension Request {
    /// The whole body, or a 413 `HTTPError` when it is longer than `limit` bytes: at once when
    /// `Content-Length` says so, before any of it is read, else as soon as `limit` bytes are read.
    ///
    /// What is left of a refused body is dropped by `UnreadBodyHandler`, which then closes the connection.
    mutating func collectBody(within limit: Int) async throws -> ByteBuffer {
        if let declared = headers[.contentLength], let length = Int(declared), length > limit {
            throw HTTPError(.contentTooLarge)
        }
        do {
            return try await collectBody(upTo: limit)
        } catch let error as any HTTPResponseError where error.status == .contentTooLarge {
            throw HTTPError(.contentTooLarge)
        }
    }
}
