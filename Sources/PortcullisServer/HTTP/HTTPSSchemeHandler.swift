import HTTPTypes
import NIOCore
import NIOHTTPTypes

/// Marks requests that came over TLS as `https`, so links in responses (SCIM `meta.location`, the
/// enrollment page's URLs) say so: Hummingbird's HTTP/1 codec sets `http` whatever the transport.
final class HTTPSSchemeHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .head(var request) = unwrapInboundIn(data) else {
            context.fireChannelRead(data)
            return
        }
        request.scheme = "https"
        context.fireChannelRead(wrapInboundOut(.head(request)))
    }
}
