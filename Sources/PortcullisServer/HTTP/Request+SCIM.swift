import Hummingbird
import SCIM

extension Request {
    /// The base URL of the SCIM service as the client addressed it, for `meta.location` and `$ref`.
    var scimBaseURL: String {
        // `https` when the server itself speaks TLS (HTTPSSchemeHandler); X-Forwarded-Proto is set by a
        // TLS-terminating proxy in front, and only changes the scheme of URLs in responses.
        let forwardedProto = headers.first { $0.name.canonicalName == "x-forwarded-proto" }?.value
        let scheme = head.scheme == "https" || forwardedProto == "https" ? "https" : "http"
        let host = head.authority ?? "localhost"
        return scheme + "://" + host + SCIMRoutes.basePath
    }

    /// Query parameters, percent-decoded, with `+` read as a space as HTML forms and many HTTP
    /// clients write it.
    var decodedQueryParameters: [(String, String)] {
        guard let query = uri.query, !query.isEmpty else { return [] }
        return query.split(separator: "&").map { pair in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = Self.formDecode(parts[0])
            let value = parts.count > 1 ? Self.formDecode(parts[1]) : ""
            return (name, value)
        }
    }

    /// Reads the body as SCIM JSON: at most `limit` bytes (413 beyond), of a JSON media type (415
    /// otherwise), and well-formed (400 `invalidSyntax` naming the line and column otherwise).
    mutating func scimJSONBody(limit: Int) async throws -> JSON {
        if let contentType = headers[.contentType] {
            let mediaType = String(String(contentType.split(separator: ";")[0]).trimmingWhitespace).lowercased()
            guard mediaType == "application/scim+json" || mediaType == "application/json" else {
                throw SCIMErrorResponse(
                    SCIMError(status: 415, detail: "Send the body as application/scim+json or application/json, not \(mediaType)"))
            }
        }
        let buffer: ByteBuffer
        do {
            buffer = try await collectBody(within: limit)
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw SCIMErrorResponse(SCIMError(status: 413, detail: "The request body is larger than the maximum of \(limit) bytes"))
        }
        let bytes = buffer.readableBytesView
        guard !bytes.isEmpty else {
            throw SCIMErrorResponse(.invalidSyntax("The request body is empty; a JSON object was expected"))
        }
        do {
            return try JSONParser.parse(Array(bytes))
        } catch {
            throw SCIMErrorResponse(.invalidSyntax("The request body is not valid JSON: \(error.description)"))
        }
    }

    static func formDecode(_ text: Substring) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            switch byte {
            case UInt8(ascii: "+"):
                bytes.append(UInt8(ascii: " "))
            case UInt8(ascii: "%"):
                guard let high = iterator.next() else {
                    bytes.append(byte)
                    continue
                }
                guard let low = iterator.next() else {
                    bytes += [byte, high]
                    continue
                }
                if let highValue = hexValue(high), let lowValue = hexValue(low) {
                    bytes.append(highValue << 4 | lowValue)
                } else {
                    bytes += [byte, high, low]
                }
            default:
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
