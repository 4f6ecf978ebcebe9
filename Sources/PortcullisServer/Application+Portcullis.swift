public import Hummingbird
public import Logging
import Foundation
import HummingbirdCore
import HummingbirdTLS
import NIOCore
public import Reconciler
import SCIM
import ServiceLifecycle
public import Store

/// Builds the HTTP application: SCIM at `/scim/v2`, the admin API at `/api/v1`, health at `/healthz`
/// and `/readyz`, metrics at `/metrics`; the policy service and the reconciler run beside it.
///
/// - Parameter onListening: called with the bound port once the server accepts connections.
/// - Throws: when the TLS configuration cannot be used.
public func buildApplication(
    configuration: ServerConfiguration, store: Store, policies: PolicyService, reconciler: Reconciler?,
    devices: DeviceService? = nil, enrollments: EnrollmentService? = nil, auditRetention: Int64? = nil, logger: Logger,
    onListening: @escaping @Sendable (Int) async -> Void = { _ in }
) throws -> some ApplicationProtocol {
    let router = buildRouter(store: store, policies: policies, reconciler: reconciler, devices: devices, enrollments: enrollments)
    var services: [any Service] = [policies, AuditHeadLogger(store: store, logger: logger)]
    if let reconciler { services.append(reconciler) }
    if let auditRetention {
        services.append(AuditRetention(store: store, keep: auditRetention, logger: logger))
    }
    if let enrollments, let address = enrollments.settings.webhookURL, let url = URL(string: address) {
        services.append(WebhookSender(store: store, url: url, secret: enrollments.settings.webhookSecret, logger: logger))
    }
    return Application(
        router: router,
        server: try httpServer(configuration),
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "portcullis"),
        services: services,
        onServerRunning: { channel in
            await onListening(channel.localAddress?.port ?? configuration.port)
        },
        logger: logger
    )
}

/// HTTP/1.1, over TLS when configured, closing idle connections and those whose request body was
/// answered before it was read (`UnreadBodyHandler`).
private func httpServer(_ configuration: ServerConfiguration) throws -> HTTPServerBuilder {
    let isTLS = configuration.tls != nil
    let http1 = HTTP1Channel.Configuration(
        additionalChannelHandlers: isTLS ? [HTTPSSchemeHandler(), UnreadBodyHandler()] : [UnreadBodyHandler()],
        idleTimeout: TimeAmount(configuration.idleTimeout)
    )
    guard let tls = configuration.tls else { return .http1(configuration: http1) }
    return try .tls(.http1(configuration: http1), tlsConfiguration: tls.configuration)
}

/// The router with every route and middleware; tests drive it directly with `app.test(.router)`.
/// Without `devices` the device routes answer 503 and there is no enrollment page.
public func buildRouter(
    store: Store, policies: PolicyService? = nil, reconciler: Reconciler? = nil, devices: DeviceService? = nil, enrollments: EnrollmentService? = nil
) -> Router<PortcullisRequestContext> {
    let router = Router(context: PortcullisRequestContext.self)
    router.add(middleware: RequestLogMiddleware())
    router.get("healthz") { _, _ in "ok\n" }
    router.get("readyz") { _, _ -> Response in
        try await store.ping()
        if let reconciler, !reconciler.isReady {
            let pending = reconciler.metrics.pendingRevocations
            let body = "not ready: the gateway is not in the desired state (\(pending) revocation(s) queued)\n"
            return Response(status: .serviceUnavailable, body: .init(byteBuffer: ByteBuffer(string: body)))
        }
        return Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: "ready\n")))
    }
    router.get("metrics") { _, _ -> Response in
        let text = MetricsDocument.render(reconciler: reconciler, policies: policies, auditHead: try? await store.auditHead())
        return Response(
            status: .ok, headers: [.contentType: "text/plain; version=0.0.4"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }
    SCIMRoutes(service: SCIMService(store: store, reconciler: reconciler, enrollments: enrollments)).register(on: router)
    AdminRoutes(store: store, policies: policies, devices: devices, enrollments: enrollments).register(on: router)
    if let devices {
        EnrollmentPage(store: store, devices: devices).register(on: router)
    }
    return router
}
