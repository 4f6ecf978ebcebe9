import Foundation

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
        guard FileManager.default.createFile(atPath: path, contents: Data((pair.privateKey.base64 + "\n").utf8), attributes: [.posixPermissions: 0o600])
        else {
            throw WireGuardError("cannot write \(path)")
        }
        return pair
    }
}
