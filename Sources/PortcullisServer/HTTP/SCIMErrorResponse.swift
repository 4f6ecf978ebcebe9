import Hummingbird
import SCIM

/// Renders a `SCIMError` as RFC 7644 §3.12 asks: the Error message body, `application/scim+json`,
/// and `WWW-Authenticate: Bearer` on a 401.
struct SCIMErrorResponse: HTTPResponseError {
    let error: SCIMError
    /// Further header fields the status calls for, such as `Allow` on a 405.
    let headers: HTTPFields

    init(_ error: SCIMError, headers: HTTPFields = [:]) {
        self.error = error
        self.headers = headers
    }

    var status: HTTPResponse.Status { .init(code: error.status) }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        var headers = self.headers
        headers[.contentType] = SCIMResponse.contentType
        if error.status == 401 {
            // RFC 6750 §3: no error code when no token was sent, `invalid_token` when it was wrong.
            let sentToken = request.headers[.authorization] != nil
            headers[.wwwAuthenticate] = sentToken ? "Bearer realm=\"portcullis\", error=\"invalid_token\"" : "Bearer realm=\"portcullis\""
        } else if error.status == 403 {
            headers[.wwwAuthenticate] = "Bearer realm=\"portcullis\", error=\"insufficient_scope\""
        }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: error.json.serialized())))
    }
}
