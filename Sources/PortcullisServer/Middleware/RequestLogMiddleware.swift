import Hummingbird
import Logging
import SCIM
import Store

/// Logs one line per request: method, path, status, duration and the token's name; for errors also
/// the detail the client received. Never the token itself, never a body, never an enrollment link's
/// secret: its path is logged as `/enroll/…`, with the link's fingerprint as `link`.
struct RequestLogMiddleware: RouterMiddleware {
    typealias Context = PortcullisRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        do {
            let response = try await next(request, context)
            log(request, context: context, status: response.status.code, start: start, detail: nil)
            return response
        } catch let error as SCIMErrorResponse {
            log(request, context: context, status: error.error.status, start: start, detail: error.error.detail)
            throw error
        } catch let error as APIErrorResponse {
            log(request, context: context, status: error.status.code, start: start, detail: error.message)
            throw error
        } catch let error as any HTTPResponseError {
            log(request, context: context, status: error.status.code, start: start, detail: error.status.reasonPhrase)
            throw error
        } catch {
            log(request, context: context, status: 500, start: start, detail: "internal error")
            throw error
        }
    }

    private func log(_ request: Request, context: Context, status: Int, start: ContinuousClock.Instant, detail: String?) {
        let elapsed = ContinuousClock.now - start
        let milliseconds = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
        let (path, link) = Self.redacted(request.uri.path)
        var metadata: Logger.Metadata = [
            "method": "\(request.method.rawValue)",
            "path": "\(path)",
            "status": "\(status)",
            "duration_ms": "\((milliseconds * 100).rounded() / 100)",
        ]
        if let link { metadata["link"] = "\(link)" }
        if let tokenName = context.annotations.tokenName { metadata["token"] = "\(tokenName)" }
        if let detail { metadata["detail"] = "\(detail)" }
        context.logger.info("request", metadata: metadata)
    }

    /// The path to log, and the link's fingerprint when the path holds an enrollment link's secret: the
    /// secret opens the page that issues a device, so whoever reads the log could use it. Matched
    /// loosely (any case, extra slashes), since a near miss of the route carries the secret as well.
    static func redacted(_ path: String) -> (path: String, link: String?) {
        let trimmed = path.drop { $0 == "/" }
        guard trimmed.lowercased().hasPrefix("enroll/") else { return (path, nil) }
        let rest = trimmed.dropFirst("enroll/".count).drop { $0 == "/" }
        guard !rest.isEmpty else { return (path, nil) }
        let secret = rest.prefix { $0 != "/" }
        return ("/" + trimmed.prefix("enroll".count) + "/…", Store.enrollmentFingerprint(secret: String(secret)))
    }
}
