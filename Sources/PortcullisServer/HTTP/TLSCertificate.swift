public import Foundation
import HummingbirdTLS
import NIOCore
import NIOSSL
import Synchronization

/// The certificate chain and private key HTTPS is served with, read from PEM files, and read again by
/// `reload()` (on SIGHUP) so a renewed certificate is served without closing the listener.
///
/// Each TLS handshake takes the pair current at its start (through swift-nio-ssl's per-connection
/// context callback); connections already open keep theirs.
public final class TLSCertificate: Sendable {
    /// The PEM file with the server's certificate, followed by any intermediate certificates.
    public let certificatePath: String
    /// The PEM file with the certificate's private key, unencrypted.
    public let keyPath: String
    private let current: Mutex<Pair>

    private struct Pair: @unchecked Sendable {
        // NIOSSLCertificate and NIOSSLPrivateKey are immutable and thread-safe, but not marked Sendable.
        let chain: [NIOSSLCertificate]
        let key: NIOSSLPrivateKey

        var serverConfiguration: TLSConfiguration {
            .makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        }

        var override: NIOSSLContextConfigurationOverride {
            var override = NIOSSLContextConfigurationOverride()
            override.certificateChain = chain.map { .certificate($0) }
            override.privateKey = .privateKey(key)
            return override
        }
    }

    /// Reads and checks the pair; throws a `TLSCertificateError` saying which file is wrong and how.
    public init(certificatePath: String, keyPath: String) throws {
        self.certificatePath = certificatePath
        self.keyPath = keyPath
        current = Mutex(try Self.load(certificatePath: certificatePath, keyPath: keyPath))
    }

    /// Reads the files again; when they do not hold a valid pair, throws and keeps serving the old one.
    public func reload() throws {
        let pair = try Self.load(certificatePath: certificatePath, keyPath: keyPath)
        current.withLock { $0 = pair }
    }

    /// When the served certificate stops being valid.
    public var expires: Date {
        current.withLock { Date(timeIntervalSince1970: TimeInterval($0.chain[0].notValidAfter)) }
    }

    /// A server configuration whose handshakes use the current pair.
    var configuration: TLSConfiguration {
        var configuration = current.withLock { $0 }.serverConfiguration
        configuration.minimumTLSVersion = .tlsv12
        configuration.applicationProtocols = ["http/1.1"]
        configuration.sslContextCallback = { [self] _, promise in
            promise.succeed(current.withLock { $0.override })
        }
        return configuration
    }

    private static func load(certificatePath: String, keyPath: String) throws -> Pair {
        let pair = Pair(chain: try readChain(certificatePath), key: try readKey(keyPath))
        do {
            // Building a context checks that the key belongs to the certificate.
            _ = try NIOSSLContext(configuration: pair.serverConfiguration)
        } catch {
            throw TLSCertificateError("the private key in \(keyPath) does not belong to the certificate in \(certificatePath)")
        }
        return pair
    }

    private static func readChain(_ path: String) throws -> [NIOSSLCertificate] {
        let bytes = try readFile(path, what: "certificate")
        guard let chain = try? NIOSSLCertificate.fromPEMBytes(bytes), !chain.isEmpty else {
            throw TLSCertificateError("\(path) is not a PEM certificate (-----BEGIN CERTIFICATE-----)")
        }
        return chain
    }

    private static func readKey(_ path: String) throws -> NIOSSLPrivateKey {
        let bytes = try readFile(path, what: "private key")
        guard let key = try? NIOSSLPrivateKey(bytes: bytes, format: .pem) else {
            throw TLSCertificateError("\(path) is not an unencrypted PEM private key (-----BEGIN PRIVATE KEY-----)")
        }
        return key
    }

    private static func readFile(_ path: String, what: String) throws -> [UInt8] {
        guard FileManager.default.fileExists(atPath: path) else {
            throw TLSCertificateError("cannot read the TLS \(what) \(path): no such file")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TLSCertificateError("cannot read the TLS \(what) \(path): permission denied or not a file")
        }
        return Array(data)
    }
}

/// A TLS certificate or key file that cannot be served: what is wrong, naming the file.
public struct TLSCertificateError: Error, CustomStringConvertible {
    public let description: String

    init(_ description: String) {
        self.description = description
    }
}
