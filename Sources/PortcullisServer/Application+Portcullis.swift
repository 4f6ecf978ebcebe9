public import Hummingbird
public import Logging
import NIOCore
import SCIM
public import Store

/// Builds the HTTP application: SCIM at `/scim/v2`, the admin API at `/api/v1`, health at `/healthz`
/// and `/readyz`; the policy service runs beside it.
///
/// - Parameter onListening: called with the bound port once the server accepts connections.
public func buildApplication(
    configuration: ServerConfiguration, store: Store, policies: PolicyService, logger: Logger,
    onListening: @escaping @Sendable (Int) async -> Void = { _ in }
) -> some ApplicationProtocol {
    let router = buildRouter(store: store, policies: policies)
    return Application(
        router: router,
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "portcullis"),
        services: [policies],
        onServerRunning: { channel in
            await onListening(channel.localAddress?.port ?? configuration.port)
        },
        logger: logger
    )
}

/// The router with every route and middleware; tests drive it directly with `app.test(.router)`.
public func buildRouter(store: Store, policies: PolicyService? = nil) -> Router<PortcullisRequestContext> {
    let router = Router(context: PortcullisRequestContext.self)
    router.add(middleware: RequestLogMiddleware())
    router.get("healthz") { _, _ in "ok\n" }
    router.get("readyz") { _, _ -> Response in
        try await store.ping()
        return Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: "ready\n")))
    }
    SCIMRoutes(service: SCIMService(store: store)).register(on: router)
    AdminRoutes(store: store, policies: policies).register(on: router)
    return router
}
