/// What `portcullis serve` runs with.
public struct ServerConfiguration: Sendable {
    /// Address to listen on.
    public var host: String
    /// TCP port; 0 picks a free one (the actual port is reported once listening).
    public var port: Int
    /// Folder holding the SQLite database (and, later, the gateway's key).
    public var dataDirectory: String
    /// Folder of `*.yaml` policy files.
    public var policiesDirectory: String
    /// A connection that sends nothing for this long, not even the rest of a request, is closed.
    public var idleTimeout: Duration
    /// Serve HTTPS with this certificate; nil serves plain HTTP.
    public var tls: TLSCertificate?

    public init(
        host: String = "127.0.0.1", port: Int = 8080, dataDirectory: String = "./data", policiesDirectory: String = "./policies",
        idleTimeout: Duration = .seconds(60), tls: TLSCertificate? = nil
    ) {
        self.host = host
        self.port = port
        self.dataDirectory = dataDirectory
        self.policiesDirectory = policiesDirectory
        self.idleTimeout = idleTimeout
        self.tls = tls
    }
}
