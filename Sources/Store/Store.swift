import Foundation
public import SCIM
import Synchronization

/// Portcullis's persistent state in one SQLite file: SCIM users and groups, memberships, API tokens.
///
/// Every write is one transaction that is on disk before the call returns. Conflicts the data does not
/// allow (a taken userName, an unknown member, a stale ETag) are thrown as `SCIMError`s; failures of
/// the database itself as `StoreError`s.
public final class Store: Sendable {
    let database: Database
    let tokenCache = Mutex<TokenCache?>(nil)

    /// The database file's name inside a data folder.
    public static let fileName = "portcullis.db"

    /// Opens (creating if needed) the database in `directory`, which is created with mode 0700,
    /// and applies pending migrations.
    public convenience init(directory: String) throws {
        try FileManager.default.createDirectory(
            atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let path = directory + "/" + Self.fileName
        if !FileManager.default.fileExists(atPath: path) {
            FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600])
        }
        try self.init(path: path)
    }

    /// Opens (creating if needed) the database file at `path`.
    public init(path: String) throws {
        database = try Database(path: path)
    }

    /// The schema version this build writes.
    public static var schemaVersion: Int { Migrations.latestVersion }

    static func now() -> Int64 {
        Int64((Date().timeIntervalSince1970 * 1000).rounded(.down))
    }

    /// A time-ordered (version 7, RFC 9562) UUID in lowercase: the millisecond `at` in the first 48
    /// bits, then 74 bits from the system's secure generator (`getrandom`, without the file opened
    /// per call that Foundation's `UUID()` costs on Linux). Ids made one after another sort together,
    /// so inserting one touches the last leaf of the id indexes (the table's and the audit log's),
    /// not a random one: fewer pages written per create and fewer copied by the next checkpoint.
    static func newIdentifier(at milliseconds: Int64 = now()) -> String {
        var generator = SystemRandomNumberGenerator()
        var bytes = [UInt8](repeating: 0, count: 16)
        bytes.withUnsafeMutableBytes { buffer in
            buffer.storeBytes(of: generator.next() as UInt64, toByteOffset: 0, as: UInt64.self)
            buffer.storeBytes(of: generator.next() as UInt64, toByteOffset: 8, as: UInt64.self)
        }
        let stamp = UInt64(clamping: milliseconds)
        for index in 0..<6 { bytes[index] = UInt8(truncatingIfNeeded: stamp >> UInt64(40 - 8 * index)) }
        bytes[6] = (bytes[6] & 0x0F) | 0x70
        bytes[8] = (bytes[8] & 0x3F) | 0x80
        // 8-4-4-4-12 lowercase hex digits, written in place.
        return String(unsafeUninitializedCapacity: 36) { text in
            let digits: StaticString = "0123456789abcdef"
            var offset = 0
            for (index, byte) in bytes.enumerated() {
                if index == 4 || index == 6 || index == 8 || index == 10 {
                    text[offset] = UInt8(ascii: "-")
                    offset += 1
                }
                text[offset] = digits.utf8Start[Int(byte >> 4)]
                text[offset + 1] = digits.utf8Start[Int(byte & 0x0F)]
                offset += 2
            }
            return offset
        }
    }

    /// Parses a stored JSON document.
    static func decodeAttributes(_ bytes: [UInt8], id: String) throws(StoreError) -> JSONObject {
        do {
            guard case .object(let object) = try JSONParser.parse(bytes) else {
                throw StoreError.corrupt("attributes of \(id) are not a JSON object")
            }
            return object
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError.corrupt("attributes of \(id): \(error)")
        }
    }

    /// Fails with 412 when the client's `If-Match` does not name the current version (RFC 7644 §3.14).
    static func checkPrecondition(_ ifMatch: String?, against resource: Resource) throws(SCIMError) {
        guard let ifMatch else { return }
        let tags = ifMatch.split(separator: ",").map { String(String($0).trimmingCharacters(in: .whitespaces)) }
        guard tags.contains("*") || tags.contains(resource.etag) || tags.contains(String(resource.etag.dropFirst(2))) else {
            throw SCIMError(status: 412, detail: "The resource changed: its version is \(resource.etag), not \(ifMatch)")
        }
    }
}
