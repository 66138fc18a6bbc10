import NIOCore
import NIOHTTP1
import NIOPosix
import Prometheus

/// Serves a Prometheus registry as text on `http://127.0.0.1:PORT/metrics` (`--metrics-port`): one request per
/// connection, nothing else, loopback only.
final class MetricsServer: Sendable {
    let port: Int
    private let channel: any Channel

    private init(port: Int, channel: any Channel) {
        self.port = port
        self.channel = channel
    }

    /// Starts serving `registry` on 127.0.0.1:`port` (`0` picks a free port; see ``port``).
    static func start(registry: PrometheusCollectorRegistry, port: Int) async throws -> MetricsServer {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(Handler(registry: registry))
                }
            }
            .bind(host: "127.0.0.1", port: port)
            .get()
        return MetricsServer(port: channel.localAddress?.port ?? port, channel: channel)
    }

    func stop() async {
        try? await self.channel.close()
    }

    /// Answers `GET /metrics` (and `HEAD`) with the registry's text; anything else with 404 or 405.
    private final class Handler: ChannelInboundHandler, Sendable {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart

        let registry: PrometheusCollectorRegistry

        init(registry: PrometheusCollectorRegistry) { self.registry = registry }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            guard case .head(let request) = self.unwrapInboundIn(data) else { return }
            let status: HTTPResponseStatus
            var body: [UInt8] = []
            let path = request.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? request.uri
            if request.method != .GET && request.method != .HEAD {
                status = .methodNotAllowed
            } else if path == "/metrics" {
                status = .ok
                self.registry.emit(into: &body)
            } else {
                status = .notFound
                body = Array("not found: the metrics are at /metrics\n".utf8)
            }
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: "text/plain; version=0.0.4; charset=utf-8")
            headers.add(name: "Content-Length", value: "\(body.count)")
            // HEAD gets GET's headers, length included, and no body.
            if request.method == .HEAD { body = [] }
            headers.add(name: "Connection", value: "close")
            context.write(
                self.wrapOutboundOut(
                    .head(HTTPResponseHead(version: request.version, status: status, headers: headers))
                ),
                promise: nil
            )
            if !body.isEmpty {
                context.write(self.wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: body)))), promise: nil)
            }
            let channel = context.channel
            context.writeAndFlush(self.wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
        }
    }
}
