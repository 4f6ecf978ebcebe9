public import Hummingbird
import Store
import Synchronization

/// Per-request state: Hummingbird's core context plus the token that authenticated the request.
public struct PortcullisRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// Set by `BearerAuthMiddleware` once the request's token is verified.
    var token: TokenInfo?
    /// Shared with middleware further out (the request log), which sees the context before auth does.
    let annotations = RequestAnnotations()

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        token = nil
    }
}

/// What inner middleware learns about a request that outer middleware reports.
final class RequestAnnotations: Sendable {
    private let tokenNameStorage = Mutex<String?>(nil)

    var tokenName: String? {
        get { tokenNameStorage.withLock { $0 } }
        set { tokenNameStorage.withLock { $0 = newValue } }
    }
}
