import Foundation
import Store

#if canImport(Glibc)
import Glibc
#endif

/// The SCIM token named 'initial' that `serve` makes on a database that never had a token, so a
/// newcomer can start at once, and how it reaches them.
///
/// On a terminal (`make run`) it is printed with the banner. Otherwise standard output goes somewhere
/// that keeps it (systemd sends it to the journal), so the token is written to a file only this user
/// can read, and the banner and the log say where. Once any token existed, none is made again, also
/// after every token was revoked.
enum FirstToken {
    /// Where the token went.
    enum Delivery: Equatable {
        case printed(secret: String)
        case file(path: String)
    }

    static let name = "initial"
    static let fileName = "initial-token"

    /// Creates the token if the database never had one, and hands it over; nil if a token existed.
    static func createIfNoneEverExisted(store: Store, dataDirectory: String, onTerminal: Bool) throws -> Delivery? {
        let path = URL(fileURLWithPath: dataDirectory).standardizedFileURL.path + "/" + fileName
        // Written inside the token's transaction: if the file cannot be written, the token is not kept.
        let secret = try store.createFirstToken(name: name, scope: .scim) { secret in
            if !onTerminal { try writePrivateFile(path, contents: secret + "\n") }
        }
        guard let secret else { return nil }
        return onTerminal ? .printed(secret: secret) : .file(path: path)
    }

    /// The banner's paragraph about the token.
    static func banner(_ delivery: Delivery, baseURL: String) -> String {
        switch delivery {
        case .printed(let secret):
            return """


                Created the first SCIM token, named 'initial'. It is shown only this once; store it in your identity provider:

                    \(secret)

                Try it:

                    curl -H "Authorization: Bearer \(secret)" \(baseURL)/scim/v2/Users

                """
        case .file(let path):
            return """


                Created the first SCIM token, named 'initial', in \(path) (readable only by this user; standard output is \
                not a terminal, so the token is not shown here). Store it in your identity provider, then delete the file. Try it:

                    curl -H "Authorization: Bearer $(cat \(path))" \(baseURL)/scim/v2/Users

                """
        }
    }

    /// Writes `contents` to a new file of mode 0600. `O_EXCL` makes the file here, with that mode from
    /// the start (never readable by others, not even for a moment), and never through a link someone
    /// placed at the path. A file left from an earlier database holds a token that no longer works,
    /// and is replaced.
    static func writePrivateFile(_ path: String, contents: String) throws {
        if unlink(path) != 0, errno != ENOENT { throw FileError(path: path, action: "remove the old", code: errno) }
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw FileError(path: path, action: "create", code: errno) }
        defer { close(descriptor) }
        let bytes = Array(contents.utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { buffer in
                guard let start = buffer.baseAddress else { return 0 }
                return write(descriptor, start + offset, buffer.count - offset)
            }
            if written < 0, errno == EINTR { continue }
            guard written > 0 else { throw FileError(path: path, action: "write", code: errno) }
            offset += written
        }
        guard fsync(descriptor) == 0 else { throw FileError(path: path, action: "write", code: errno) }
    }

    /// Why the token file could not be written.
    struct FileError: Error, CustomStringConvertible {
        let path: String
        let action: String
        let code: Int32

        var description: String {
            "cannot \(action) the first token's file \(path): \(String(cString: strerror(code)))"
        }
    }
}
