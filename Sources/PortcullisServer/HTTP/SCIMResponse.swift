import Hummingbird
import SCIM

/// Builds `application/scim+json` responses.
enum SCIMResponse {
    static let contentType = "application/scim+json"

    static func json(_ json: JSON, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
        var allHeaders = headers
        allHeaders[.contentType] = contentType
        return Response(status: status, headers: allHeaders, body: .init(byteBuffer: ByteBuffer(bytes: json.serialized())))
    }

    static func noContent() -> Response {
        Response(status: .noContent)
    }
}
