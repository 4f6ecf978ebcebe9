import Foundation
import Hummingbird
import SCIM
import Store

/// Requires `Authorization: Bearer <token>` with a token of the given scope.
/// Missing or wrong tokens get 401 with `WWW-Authenticate: Bearer`; a token of the other scope gets 403.
struct BearerAuthMiddleware: RouterMiddleware {
    typealias Context = PortcullisRequestContext

    let store: Store
    let scope: TokenScope

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let header = request.headers[.authorization], let presented = Self.bearerToken(header) else {
            throw SCIMError(status: 401, detail: "Send a bearer token: Authorization: Bearer <token>")
        }
        guard let token = try await store.authenticate(presented) else {
            throw SCIMError(status: 401, detail: "The bearer token is not valid")
        }
        context.annotations.tokenName = token.name
        guard token.scope == scope else {
            throw SCIMError(status: 403, detail: "Token '\(token.name)' has scope '\(token.scope.rawValue)'; this endpoint needs '\(scope.rawValue)'")
        }
        var context = context
        context.token = token
        // What this request changes is recorded in the audit log as done by this token.
        let received = Int64((Date().timeIntervalSince1970 * 1000).rounded())
        return try await AuditContext.$actor.withValue("token:" + token.name) {
            try await AuditContext.$requestReceived.withValue(received) {
                try await next(request, context)
            }
        }
    }

    /// The token in an `Authorization` header value; the scheme is case-insensitive (RFC 6750 §2.1).
    static func bearerToken(_ header: String) -> String? {
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        let token = String(String(parts[1]).trimmingWhitespace)
        return token.isEmpty ? nil : token
    }
}
