import Hummingbird
import Logging
import SCIM
import Store

/// Turns whatever a SCIM route throws into a SCIM error response: `SCIMError`s as they are, an
/// unmatched path as a 404 with a SCIM body, and anything unexpected as a 500 whose detail hides
/// internals (the cause is logged).
struct SCIMErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as SCIMError {
            throw SCIMErrorResponse(error)
        } catch let error as SCIMErrorResponse {
            throw error
        } catch let error as HTTPError where error.status == .notFound {
            throw SCIMErrorResponse(.notFound("No SCIM endpoint at \(request.uri.path)"))
        } catch let error as any HTTPResponseError {
            throw SCIMErrorResponse(SCIMError(status: error.status.code, detail: error.status.reasonPhrase))
        } catch let error as StoreError where error.isSchemaTooNew {
            context.logger.error("database schema too new", metadata: ["error": "\(error)"])
            throw SCIMErrorResponse(SCIMError(status: 503, detail: "The server's database is not usable by this version"))
        } catch {
            context.logger.error("request failed", metadata: ["error": "\(error)"])
            throw SCIMErrorResponse(SCIMError(status: 500, detail: "Internal error; the server log has the cause"))
        }
    }
}
