import Foundation

/// A throwaway certificate authority made with `openssl` in a test's folder, and the server
/// certificates for 127.0.0.1 and localhost it signs.
struct TestCertificateAuthority {
    struct CommandFailure: Error, CustomStringConvertible {
        let description: String
    }

    /// The CA's certificate, what a client trusts (`curl --cacert`).
    let certificate: String
    private let key: String
    private let folder: URL

    init(name: String, in folder: URL) throws {
        self.folder = folder
        certificate = folder.appendingPathComponent("\(name)-ca.pem").path
        key = folder.appendingPathComponent("\(name)-ca-key.pem").path
        try Self.openssl([
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
            "-subj", "/CN=Portcullis test CA \(name)", "-keyout", key, "-out", certificate,
        ])
    }

    /// Writes a new key and a certificate for 127.0.0.1 and localhost signed by this CA to these paths.
    func issueServerCertificate(certificate certificatePath: String, key keyPath: String) throws {
        let request = folder.appendingPathComponent("request-\(UUID().uuidString).csr").path
        let extensions = folder.appendingPathComponent("server-\(UUID().uuidString).ext")
        try """
            subjectAltName = IP:127.0.0.1, DNS:localhost
            basicConstraints = CA:FALSE
            keyUsage = digitalSignature
            extendedKeyUsage = serverAuth
            """.write(to: extensions, atomically: true, encoding: .utf8)
        try Self.openssl([
            "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj", "/CN=localhost",
            "-keyout", keyPath, "-out", request,
        ])
        try Self.openssl([
            "x509", "-req", "-in", request, "-CA", certificate, "-CAkey", key, "-CAcreateserial", "-days", "2",
            "-extfile", extensions.path, "-out", certificatePath,
        ])
    }

    private static func openssl(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = arguments
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let output = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw CommandFailure(description: "openssl \(arguments.joined(separator: " ")): \(String(decoding: output, as: UTF8.self))")
        }
    }
}
