import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A minimal HTTP/1.1 client on one kept-alive TCP connection, as an identity provider's connection
/// pool holds one: the time it measures is the server's and the network's, not a client library's
/// (URLSession on Linux added 1.5 ms at the median and up to 5 ms at the tail).
final class KeepAliveClient {
    private let descriptor: Int32
    private let host: String
    private var buffer: [UInt8] = []

    /// `baseURL` is `http://ADDRESS:PORT` with a numeric IPv4 address.
    init(baseURL: String) throws {
        guard let url = URL(string: baseURL), let address = url.host, let port = url.port else { throw BenchError("bad URL \(baseURL)") }
        host = "\(address):\(port)"
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw BenchError("socket: \(String(cString: strerror(errno)))") }
        var one: Int32 = 1
        setsockopt(descriptor, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        var socketAddress = sockaddr_in()
        socketAddress.sin_family = sa_family_t(AF_INET)
        socketAddress.sin_port = in_port_t(UInt16(port).bigEndian)
        guard inet_pton(AF_INET, address, &socketAddress.sin_addr) == 1 else { throw BenchError("not an IPv4 address: \(address)") }
        let connected = withUnsafePointer(to: &socketAddress) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw BenchError("connect to \(baseURL): \(String(cString: strerror(errno)))") }
    }

    deinit { close(descriptor) }

    /// Sends a request without a body and returns the response's status once it is read in full.
    func send(_ method: String, _ path: String, token: String) throws -> Int {
        let request = "\(method) \(path) HTTP/1.1\r\nHost: \(host)\r\nAuthorization: Bearer \(token)\r\nContent-Length: 0\r\n\r\n"
        let bytes = Array(request.utf8)
        var sent = 0
        while sent < bytes.count {
            let written = bytes[sent...].withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard written > 0 else { throw BenchError("send: \(String(cString: strerror(errno)))") }
            sent += written
        }
        // Status line and headers, then Content-Length bytes of body.
        var headerEnd: Int?
        while true {
            if let end = Self.find([13, 10, 13, 10], in: buffer) {
                headerEnd = end
                break
            }
            try receive()
        }
        guard let headerEnd else { throw BenchError("no response") }
        let head = String(decoding: buffer[..<headerEnd], as: UTF8.self)
        let lines = head.components(separatedBy: "\r\n")
        let statusParts = lines.first?.split(separator: " ") ?? []
        guard statusParts.count >= 2, let status = Int(statusParts[1]) else { throw BenchError("bad status line: \(lines.first ?? "")") }
        let length = lines.dropFirst().compactMap { line -> Int? in
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2, parts[0].lowercased() == "content-length" else { return nil }
            return Int(parts[1].trimmingCharacters(in: .whitespaces))
        }.first ?? 0
        let total = headerEnd + 4 + length
        while buffer.count < total { try receive() }
        buffer.removeFirst(total)
        return status
    }

    private func receive() throws {
        var chunk = [UInt8](repeating: 0, count: 16384)
        let count = chunk.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
        guard count > 0 else { throw BenchError("connection closed: \(String(cString: strerror(errno)))") }
        buffer += chunk[0..<count]
    }

    private static func find(_ pattern: [UInt8], in bytes: [UInt8]) -> Int? {
        guard bytes.count >= pattern.count else { return nil }
        for start in 0...(bytes.count - pattern.count) where bytes[start..<(start + pattern.count)].elementsEqual(pattern) {
            return start
        }
        return nil
    }
}
