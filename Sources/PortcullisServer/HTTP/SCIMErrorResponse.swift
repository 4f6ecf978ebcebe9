import Hummingbird
import SCIM

/// Renders a `SCIMError` as RFC 7644 §3.12 asks: the Error message body, `application/scim+json`,
/// and `WWW-Authenticate: Bearer` on a 401.
struct SCIMErrorResponse: HTTPResponseError {
    let error: SCIMError

    init(_ error: SCIMError) {
        self.error = error
    }

    var status: HTTPResponse.Status { .init(code: error.status) }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        var headers: HTTPFields = [.contentType: SCIMResponse.contentType]
        if error.status == 401 {
            headers[.wwwAuthenticate] = "Bearer realm=\"portcullis\""
        }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: error.json.serialized())))
    }
}
