import Hummingbird
import Logging
import SCIM

/// An error of the admin API: `{"error": {"status": 404, "message": "..."}}` as `application/json`.
struct APIErrorResponse: HTTPResponseError {
    let status: HTTPResponse.Status
    let message: String

    init(_ status: HTTPResponse.Status, _ message: String) {
        self.status = status
        self.message = message
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        var headers: HTTPFields = [.contentType: "application/json"]
        if status == .unauthorized {
            let sentToken = request.headers[.authorization] != nil
            headers[.wwwAuthenticate] = sentToken ? "Bearer realm=\"portcullis\", error=\"invalid_token\"" : "Bearer realm=\"portcullis\""
        } else if status == .forbidden {
            headers[.wwwAuthenticate] = "Bearer realm=\"portcullis\", error=\"insufficient_scope\""
        }
        let body: JSON = ["error": ["status": .integer(status.code), "message": .string(message)]]
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body.serialized())))
    }
}

/// Renders whatever an admin route throws as an `APIErrorResponse`; unexpected errors become a 500
/// whose message hides internals (the cause is logged).
struct APIErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as APIErrorResponse {
            throw error
        } catch let error as SCIMError {
            throw APIErrorResponse(.init(code: error.status), error.detail)
        } catch let error as HTTPError where error.status == .notFound {
            throw APIErrorResponse(.notFound, "No admin API endpoint at \(request.uri.path)")
        } catch let error as any HTTPResponseError {
            throw APIErrorResponse(error.status, error.status.reasonPhrase)
        } catch {
            context.logger.error("admin request failed", metadata: ["error": "\(error)"])
            throw APIErrorResponse(.internalServerError, "Internal error; the server log has the cause")
        }
    }
}

/// Builds `application/json` responses of the admin API.
enum APIResponse {
    static func json(_ json: JSON, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: json.serialized())))
    }
}
