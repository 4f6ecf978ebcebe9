import Crypto
import Foundation
import Synchronization
public import SCIM

/// What a bearer token may do: provision over SCIM, or administer Portcullis over `/api/v1`.
public enum TokenScope: String, Sendable, CaseIterable {
    case scim, admin
}

/// A token's record, without any secret.
public struct TokenInfo: Sendable, Equatable {
    public var name: String
    public var scope: TokenScope
    /// Milliseconds since 1970.
    public var created: Int64
}

// API tokens: 256 random bits, shown once; only their SHA-256 is stored, and a presented token is
// compared against every stored hash in constant time.

extension Store {
    /// Creates a token and returns its secret, the only time it exists in clear.
    public func createToken(name: String, scope: TokenScope) throws -> String {
        let trimmed = String(name.trimmingCharacters(in: .whitespaces))
        guard !trimmed.isEmpty, trimmed.count <= 100 else {
            throw SCIMError.invalidValue("A token name must be 1 to 100 characters")
        }
        let secret = Self.newTokenSecret()
        let actor = AuditContext.current
        do {
            try database.writeNow { connection in
                try Self.insertToken(name: trimmed, scope: scope, secret: secret, actor: actor, connection: connection)
            }
        } catch let error as StoreError where error.isUniquenessViolation {
            throw SCIMError.uniqueness("A token named '\(trimmed)' already exists; revoke it first or choose another name")
        }
        return secret
    }

    /// Creates the token `name` only if this database never had any token, not even one revoked since:
    /// the first start hands a newcomer a token, but a server whose tokens were all revoked (say, after
    /// an incident) must not mint a new one by itself. `handOver` receives the secret inside the
    /// transaction; if it throws, the token is not kept, so a token nobody received never works.
    /// Returns the secret, or nil when a token existed before.
    public func createFirstToken(name: String, scope: TokenScope, handOver: (String) throws -> Void) throws -> String? {
        let secret = Self.newTokenSecret()
        let actor = AuditContext.current
        return try database.writeNow { connection in
            guard try !Self.anyTokenEverExisted(connection: connection) else { return nil }
            try Self.insertToken(name: name, scope: scope, secret: secret, actor: actor, connection: connection)
            try handOver(secret)
            return secret
        }
    }

    /// Whether a token exists or ever did: `token_changes` counts every insert, update and delete of a
    /// token since migration 6 and never goes back; a token made and revoked before that left its
    /// creation in the audit log.
    static func anyTokenEverExisted(connection: SQLiteConnection) throws -> Bool {
        let statement = try connection.prepare(
            """
            SELECT EXISTS (SELECT 1 FROM tokens) OR (SELECT count FROM token_changes) > 0
                OR EXISTS (SELECT 1 FROM audit_log WHERE action = 'token.create')
            """)
        guard try statement.step() else { return false }
        return statement.int(0) != 0
    }

    private static func insertToken(
        name: String, scope: TokenScope, secret: String, actor: AuditContext.Current, connection: SQLiteConnection
    ) throws {
        let now = Self.now()
        try connection.prepare("INSERT INTO tokens (name, scope, hash, created) VALUES (?, ?, ?, ?)")
            .bind(.text(name), .text(scope.rawValue), .blob(Self.hash(secret)), .integer(Int(now))).run()
        try Self.appendAudit(
            AuditEntry(action: "token.create", target: "token/" + name, details: ["scope": .string(scope.rawValue)]), actor: actor, at: now,
            connection: connection)
    }

    /// Every token, oldest first.
    public func tokens() throws -> [TokenInfo] {
        try database.readNow { connection in
            let statement = try connection.prepare("SELECT name, scope, created FROM tokens ORDER BY created, name")
            var tokens: [TokenInfo] = []
            while try statement.step() {
                guard let scope = TokenScope(rawValue: statement.text(1)) else { continue }
                tokens.append(TokenInfo(name: statement.text(0), scope: scope, created: Int64(statement.int(2))))
            }
            return tokens
        }
    }

    /// Deletes the token called `name`; false if there was none.
    public func revokeToken(name: String) throws -> Bool {
        let actor = AuditContext.current
        return try database.writeNow { connection in
            try connection.prepare("DELETE FROM tokens WHERE name = ?").bind(.text(name)).run()
            guard connection.changes > 0 else { return false }
            try Self.appendAudit(AuditEntry(action: "token.revoke", target: "token/" + name), actor: actor, at: Self.now(), connection: connection)
            return true
        }
    }

    /// The token whose secret is `presented`, or nil.
    ///
    /// The token hashes are cached. Whenever the database changed (`data_version`), one row that
    /// triggers keep (`token_changes`) says whether the tokens did; if so they are read again. A token
    /// created or revoked by the CLI in another process counts from the next request on.
    public func authenticate(_ presented: String) async throws -> TokenInfo? {
        let presentedHash = Self.hash(presented)
        let version = try database.dataVersion()
        var cached = tokenCache.withLock { $0 }
        if cached?.version != version {
            let known = cached
            cached = try database.readNow { connection in
                // Most changes are not to tokens: then one row says the tokens held are current.
                let changesStatement = try connection.prepare("SELECT count FROM token_changes")
                let changes = try changesStatement.step() ? changesStatement.int(0) : -1
                if let known, known.changes == changes {
                    return TokenCache(version: version, changes: changes, tokens: known.tokens)
                }
                let statement = try connection.prepare("SELECT name, scope, hash, created FROM tokens")
                var tokens: [(hash: [UInt8], info: TokenInfo)] = []
                while try statement.step() {
                    guard let scope = TokenScope(rawValue: statement.text(1)) else { continue }
                    tokens.append((statement.blob(2), TokenInfo(name: statement.text(0), scope: scope, created: Int64(statement.int(3)))))
                }
                return TokenCache(version: version, changes: changes, tokens: tokens)
            }
            tokenCache.withLock { $0 = cached }
        }
        var match: TokenInfo?
        for token in cached?.tokens ?? [] where Self.constantTimeEquals(token.hash, presentedHash) {
            // Compare with every token, in constant time, so timing tells nothing about stored hashes.
            match = token.info
        }
        return match
    }

    /// Token hashes as of a database version and a count of token changes (`token_changes`).
    struct TokenCache: Sendable {
        let version: Int
        let changes: Int
        let tokens: [(hash: [UInt8], info: TokenInfo)]
    }

    static func hash(_ secret: String) -> [UInt8] {
        Array(SHA256.hash(data: Array(secret.utf8)))
    }

    static func newTokenSecret() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        return "pcl_" + base64URL(bytes)
    }

    static func constantTimeEquals(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
        guard lhs.count == rhs.count else { return false }
        var difference: UInt8 = 0
        for index in lhs.indices {
            difference |= lhs[index] ^ rhs[index]
        }
        return difference == 0
    }

    private static func base64URL(_ bytes: [UInt8]) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        var output = ""
        var index = 0
        while index + 3 <= bytes.count {
            let chunk = Int(bytes[index]) << 16 | Int(bytes[index + 1]) << 8 | Int(bytes[index + 2])
            for shift in [18, 12, 6, 0] { output.append(alphabet[(chunk >> shift) & 63]) }
            index += 3
        }
        let remaining = bytes.count - index
        if remaining > 0 {
            var chunk = Int(bytes[index]) << 16
            if remaining == 2 { chunk |= Int(bytes[index + 1]) << 8 }
            for shift in [18, 12, 6, 0].prefix(remaining + 1) { output.append(alphabet[(chunk >> shift) & 63]) }
        }
        return output
    }
}
