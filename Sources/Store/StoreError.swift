/// A failure of the database itself, as opposed to a request the data does not allow (those are `SCIMError`s).
public struct StoreError: Error, Sendable, CustomStringConvertible {
    private enum Kind: Sendable {
        case sqlite(code: Int32, message: String)
        case schemaTooNew(found: Int, known: Int)
        case corrupt(String)
    }

    private let kind: Kind

    private init(_ kind: Kind) {
        self.kind = kind
    }

    static func sqlite(code: Int32, message: String) -> StoreError { StoreError(.sqlite(code: code, message: message)) }

    /// The database was written by a newer Portcullis than this one.
    static func schemaTooNew(found: Int, known: Int) -> StoreError { StoreError(.schemaTooNew(found: found, known: known)) }

    /// A stored document could not be read back.
    static func corrupt(_ detail: String) -> StoreError { StoreError(.corrupt(detail)) }

    /// The SQLite result code, when SQLite reported the failure.
    var sqliteCode: Int32? {
        if case .sqlite(let code, _) = kind { return code }
        return nil
    }

    /// Whether this is the database-too-new error, so callers can exit with a clear message.
    public var isSchemaTooNew: Bool {
        if case .schemaTooNew = kind { return true }
        return false
    }

    public var description: String {
        switch kind {
        case .sqlite(let code, let message):
            "database error \(code): \(message)"
        case .schemaTooNew(let found, let known):
            "the database has schema version \(found), but this portcullis knows versions up to \(known); run a newer portcullis, or restore a backup made for this version"
        case .corrupt(let detail):
            "stored data is unreadable: \(detail)"
        }
    }
}
