import HTTPTypes
import NIOCore
import NIOHTTPTypes

/// Ends a connection whose request body was answered before it was read to the end: a body refused
/// for its size, or sent with a request refused before its body was looked at (a 401).
///
/// Such a client is often still writing. Many (Python's `urllib`, most HTTP libraries) write the whole
/// body before reading anything, so a server that stops reading leaves them blocked on a full TCP
/// window, never seeing the answer, while the server waits for them to close. Instead, the answer
/// says `Connection: close`, and the rest of the body is read and dropped, as nginx's lingering close
/// does, until it ends, the client closes, `discardLimit` bytes or `lingeringTime` pass; then the
/// connection is closed. A client that sent more than that sees its write fail at once.
final class UnreadBodyHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    /// The most of an unwanted body dropped after the answer, so that a client writing it all before
    /// reading gets to the answer; far above the largest body any route takes (1 MiB).
    static let discardLimit = 64 * 1024 * 1024
    /// How long after the answer the rest of a body is waited for.
    static let lingeringTime = TimeAmount.seconds(5)

    private enum State {
        /// Requests pass through.
        case forwarding
        /// The answer is being written; the connection ends once it is sent and the body dropped.
        case answering(requestEnded: Bool)
        /// The answer is sent; the body is dropped until it ends.
        case discarding(bytes: Int, timer: Scheduled<Void>)
        case closed
    }

    private var state = State.forwarding
    private var requestsEnded = 0
    private var responsesStarted = 0

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        switch state {
        case .forwarding:
            if case .end = part { requestsEnded += 1 }
            context.fireChannelRead(data)
        case .answering:
            if case .end = part { state = .answering(requestEnded: true) }
        case .discarding(let bytes, let timer):
            switch part {
            case .end:
                close(context)
            case .body(let buffer) where bytes + buffer.readableBytes > Self.discardLimit:
                close(context)
            case .body(let buffer):
                state = .discarding(bytes: bytes + buffer.readableBytes, timer: timer)
            case .head:
                close(context)
            }
        case .closed:
            break
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        // The request handler stopped reading; keep the bytes coming so the client can finish its write.
        if case .discarding = state { context.read() }
        context.fireChannelReadComplete()
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(var response):
            responsesStarted += 1
            // Answers come in request order: this one answers request number `responsesStarted`.
            if case .forwarding = state, requestsEnded < responsesStarted {
                response.headerFields[.connection] = "close"
                state = .answering(requestEnded: false)
                context.write(wrapOutboundOut(.head(response)), promise: promise)
                return
            }
            context.write(data, promise: promise)
        case .end:
            guard case .answering = state else {
                context.write(data, promise: promise)
                return
            }
            let written = context.eventLoop.makePromise(of: Void.self)
            written.futureResult.cascade(to: promise)
            context.writeAndFlush(data, promise: written)
            written.futureResult.assumeIsolated().whenComplete { _ in self.answerSent(context) }
        case .body:
            context.write(data, promise: promise)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .discarding = state, let event = event as? ChannelEvent, event == .inputClosed {
            close(context)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A body cut short is a parse error for the decoder; while dropping it, that only ends the connection.
        if case .discarding = state {
            close(context)
            return
        }
        context.fireErrorCaught(error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if case .discarding(_, let timer) = state { timer.cancel() }
        state = .closed
        context.fireChannelInactive()
    }

    private func answerSent(_ context: ChannelHandlerContext) {
        guard case .answering(let requestEnded) = state else { return }
        guard !requestEnded, context.channel.isActive else {
            close(context)
            return
        }
        let timer = context.eventLoop.assumeIsolated().scheduleTask(in: Self.lingeringTime) { self.close(context) }
        state = .discarding(bytes: 0, timer: timer)
        context.read()
    }

    private func close(_ context: ChannelHandlerContext) {
        switch state {
        case .closed: return
        case .discarding(_, let timer): timer.cancel()
        case .forwarding, .answering: break
        }
        state = .closed
        context.close(promise: nil)
    }
}
