import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The gateway's own WireGuard key: generated once into the data folder with mode 0600. It is the
/// only private key Portcullis ever stores.
public enum GatewayKeyFile {
    public static let fileName = "gateway.key"

    /// Reads the key in `directory`, creating it first if there is none.
    public static func loadOrCreate(directory: String) throws -> WireGuardKeyPair {
        let path = directory + "/" + fileName
        if let data = FileManager.default.contents(atPath: path) {
            let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            guard let key = WireGuardKey(base64: text) else {
                throw WireGuardError("\(path) does not hold a WireGuard private key; remove it to generate a new one (clients will need new configs)")
            }
            return try WireGuardKeyPair(privateKey: key)
        }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let pair = WireGuardKeyPair.generate()
        try writePrivately(Data((pair.privateKey.base64 + "\n").utf8), to: path)
        return pair
    }

    /// Writes through a temporary file created with mode 0600, so the key is never readable by others
    /// whatever the umask (`FileManager.createFile` writes with the umask's mode and only then changes
    /// it), and a crash never leaves half a key.
    private static func writePrivately(_ data: Data, to path: String) throws {
        let temporary = path + ".\(UUID().uuidString).tmp"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw WireGuardError("cannot write \(path): \(String(cString: strerror(errno)))") }
        let handle = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
        do {
            try handle.write(contentsOf: data)
            try handle.synchronize()
            try handle.close()
            guard rename(temporary, path) == 0 else { throw WireGuardError("cannot write \(path): \(String(cString: strerror(errno)))") }
        } catch {
            unlink(temporary)
            throw error
        }
    }
}
