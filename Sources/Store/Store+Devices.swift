import Foundation
import SCIM

/// A user's device: a WireGuard public key with its tunnel addresses. Its private key is never stored.
public struct Device: Sendable, Hashable {
    public let id: String
    public let userID: String
    public let name: String
    /// Base64, as `wg` writes it.
    public let publicKey: String
    public let presharedKey: String?
    /// The device's position in the address pool; its addresses derive from it.
    public let addressIndex: Int
    public let address4: String
    public let address6: String?
    /// Milliseconds since 1970.
    public let created: Int64
    /// When the key stops being valid (milliseconds since 1970), if it expires.
    public let expires: Int64?
}

/// A revocation the gateway did not accept yet, kept until it is applied.
public struct PendingRevocation: Sendable, Hashable {
    public let publicKey: String
    public let reason: String
    public let created: Int64
}

// Devices, address leases and the durable revocation queue.

extension Store {
    /// The description of a new device; `addresses` maps a pool index to the device's addresses.
    public struct NewDevice: Sendable {
        public var userID: String
        public var name: String
        public var publicKey: String
        public var presharedKey: String?
        /// When the key stops being valid (milliseconds since 1970), if it expires at a set instant.
        public var expires: Int64?
        /// How long the key stays valid (milliseconds), counted from the device's creation instant, so
        /// `expires - created` is exactly this; used when `expires` is nil.
        public var lifetime: Int64?

        public init(
            userID: String, name: String, publicKey: String, presharedKey: String? = nil, expires: Int64? = nil, lifetime: Int64? = nil
        ) {
            self.userID = userID
            self.name = name
            self.publicKey = publicKey
            self.presharedKey = presharedKey
            self.expires = expires
            self.lifetime = lifetime
        }
    }

    /// Creates a device with the lowest free pool index at or above `firstIndex`, skipping indices
    /// released less than `quarantine` milliseconds ago.
    public func createDevice(
        _ new: NewDevice, firstIndex: Int, capacity: Int, quarantine: Int64,
        addresses: @escaping @Sendable (Int) -> (String, String?)
    ) async throws -> Device {
        let actor = AuditContext.current
        return try await database.write { connection in
            guard try Self.exists("SELECT 1 FROM scim_users WHERE id = ?", new.userID, connection: connection) else {
                throw DeviceError.unknownUser(new.userID)
            }
            let now = Self.now()
            guard let index = try Self.freeAddressIndex(from: firstIndex, capacity: capacity, releasedBefore: now - quarantine, connection: connection)
            else {
                throw DeviceError.poolExhausted
            }
            let (address4, address6) = addresses(index)
            let device = Device(
                id: Self.newIdentifier(), userID: new.userID, name: new.name, publicKey: new.publicKey, presharedKey: new.presharedKey,
                addressIndex: index, address4: address4, address6: address6, created: now,
                expires: new.expires ?? new.lifetime.map { now + $0 })
            do {
                try connection.prepare(
                    """
                    INSERT INTO devices (id, user_id, name, public_key, preshared_key, address_index, address4, address6, created, expires)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """
                ).bind(
                    .text(device.id), .text(device.userID), .text(device.name), .text(device.publicKey), .optionalText(device.presharedKey),
                    .integer(index), .text(address4), .optionalText(address6), .integer(Int(now)),
                    device.expires.map { .integer(Int($0)) } ?? .null
                ).run()
            } catch let error as StoreError where error.isUniquenessViolation {
                throw DeviceError.duplicate(name: new.name, publicKey: new.publicKey)
            }
            try connection.prepare("DELETE FROM address_quarantine WHERE address_index = ?").bind(.integer(index)).run()
            try Self.auditDevice("device.issue", device, actor: actor, at: now, connection: connection)
            return device
        }
    }

    /// Every device, oldest first.
    public func devices() async throws -> [Device] {
        try await database.read { connection in
            try Self.queryDevices("SELECT \(Self.deviceColumns) FROM devices ORDER BY created, id", nil, connection: connection)
        }
    }

    /// The devices of one user.
    public func devices(ofUser userID: String) async throws -> [Device] {
        try await database.read { connection in
            try Self.queryDevices("SELECT \(Self.deviceColumns) FROM devices WHERE user_id = ? ORDER BY created, id", userID, connection: connection)
        }
    }

    /// The devices of several users, in one query.
    public func devices(ofUsers userIDs: some Collection<String> & Sendable) async throws -> [Device] {
        guard !userIDs.isEmpty else { return [] }
        let list = JSON.array(userIDs.map(JSON.string)).jsonText
        return try await database.read { connection in
            try Self.queryDevices(
                "SELECT \(Self.deviceColumns) FROM devices WHERE user_id IN (SELECT value FROM json_each(?)) ORDER BY created, id", list,
                connection: connection)
        }
    }

    /// The device with this id, or nil.
    public func device(id: String) async throws -> Device? {
        try await database.read { connection in
            try Self.queryDevices("SELECT \(Self.deviceColumns) FROM devices WHERE id = ?", id, connection: connection).first
        }
    }

    /// Deletes a device; its address goes into quarantine. Returns what was deleted.
    @discardableResult
    public func deleteDevice(id: String) async throws -> Device? {
        let actor = AuditContext.current
        return try await database.write { connection in
            guard let device = try Self.queryDevices("SELECT \(Self.deviceColumns) FROM devices WHERE id = ?", id, connection: connection).first
            else { return nil }
            try connection.prepare("DELETE FROM devices WHERE id = ?").bind(.text(id)).run()
            try Self.auditDevice("device.revoke", device, actor: actor, at: Self.now(), connection: connection)
            return device
        }
    }

    /// Gives a device a new key (and preshared key); its address stays, and its key lifetime (in
    /// milliseconds, if it has one) starts again now. Returns the device before and after, so the caller
    /// can revoke the old key.
    public func rotateDevice(id: String, publicKey: String, presharedKey: String?, lifetime: Int64?) async throws -> (old: Device, new: Device) {
        let actor = AuditContext.current
        return try await database.write { connection in
            guard let old = try Self.queryDevices("SELECT \(Self.deviceColumns) FROM devices WHERE id = ?", id, connection: connection).first else {
                throw DeviceError.unknownDevice(id)
            }
            let now = Self.now()
            do {
                try connection.prepare("UPDATE devices SET public_key = ?, preshared_key = ?, expires = ?, created = ? WHERE id = ?")
                    .bind(.text(publicKey), .optionalText(presharedKey), lifetime.map { .integer(Int(now + $0)) } ?? .null, .integer(Int(now)), .text(id))
                    .run()
            } catch let error as StoreError where error.isUniquenessViolation {
                throw DeviceError.duplicate(name: old.name, publicKey: publicKey)
            }
            guard let new = try Self.queryDevices("SELECT \(Self.deviceColumns) FROM devices WHERE id = ?", id, connection: connection).first else {
                throw DeviceError.unknownDevice(id)
            }
            try Self.auditDevice("device.rotate", new, previousKey: old.publicKey, actor: actor, at: new.created, connection: connection)
            return (old, new)
        }
    }

    /// The audit record of a device change: its key, addresses and expiry, never a preshared key.
    private static func auditDevice(
        _ action: String, _ device: Device, previousKey: String? = nil, actor: AuditContext.Current, at: Int64, connection: SQLiteConnection
    ) throws {
        var details: JSONObject = [
            "name": .string(device.name), "publicKey": .string(device.publicKey), "address4": .string(device.address4),
            "presharedKey": .bool(device.presharedKey != nil),
        ]
        if let address6 = device.address6 { details["address6"] = .string(address6) }
        if let expires = device.expires { details["expires"] = .integer(Int(expires)) }
        if let previousKey { details["previousPublicKey"] = .string(previousKey) }
        try appendAudit(
            AuditEntry(action: action, target: "device/" + device.id, userID: device.userID, details: details), actor: actor, at: at,
            connection: connection)
    }

    /// Users with a device whose key expired in `(after, upTo]`: their peers must go now.
    public func usersWithDevicesExpiring(after: Int64, upTo: Int64) async throws -> Set<String> {
        try await database.read { connection in
            let statement = try connection.prepare("SELECT DISTINCT user_id FROM devices WHERE expires > ? AND expires <= ?")
            try statement.bind(.integer(Int(after)), .integer(Int(upTo)))
            var users = Set<String>()
            while try statement.step() { users.insert(statement.text(0)) }
            return users
        }
    }

    /// Keeps revocations that could not be applied, to retry them (also after a restart).
    public func enqueueRevocations(publicKeys: [String], reason: String) async throws {
        guard !publicKeys.isEmpty else { return }
        try await database.write { connection in
            let now = Self.now()
            for key in publicKeys {
                try connection.prepare("INSERT OR IGNORE INTO pending_revocations (public_key, reason, created) VALUES (?, ?, ?)")
                    .bind(.text(key), .text(reason), .integer(Int(now))).run()
            }
        }
    }

    /// Revocations still to apply, oldest first.
    public func pendingRevocations() async throws -> [PendingRevocation] {
        try await database.read { connection in
            let statement = try connection.prepare("SELECT public_key, reason, created FROM pending_revocations ORDER BY created, public_key")
            var pending: [PendingRevocation] = []
            while try statement.step() {
                pending.append(PendingRevocation(publicKey: statement.text(0), reason: statement.text(1), created: Int64(statement.int(2))))
            }
            return pending
        }
    }

    /// Forgets revocations that are now applied.
    public func clearRevocations(publicKeys: [String]) async throws {
        guard !publicKeys.isEmpty else { return }
        try await database.write { connection in
            for key in publicKeys {
                try connection.prepare("DELETE FROM pending_revocations WHERE public_key = ?").bind(.text(key)).run()
            }
        }
    }

    /// Increases whenever another process (e.g. the `portcullis device` command) commits to the
    /// database, so the server can notice changes it did not make.
    public func externalChangeCounter() throws -> Int {
        try database.writeNowWithoutTransaction { try $0.pragmaInteger("data_version") }
    }

    // MARK: Rows

    static let deviceColumns = "id, user_id, name, public_key, preshared_key, address_index, address4, address6, created, expires"

    static func queryDevices(_ sql: String, _ parameter: String?, connection: SQLiteConnection) throws -> [Device] {
        let statement = try connection.prepare(sql)
        if let parameter { try statement.bind(.text(parameter)) }
        var devices: [Device] = []
        while try statement.step() {
            devices.append(
                Device(
                    id: statement.text(0), userID: statement.text(1), name: statement.text(2), publicKey: statement.text(3),
                    presharedKey: statement.optionalText(4), addressIndex: statement.int(5), address4: statement.text(6),
                    address6: statement.optionalText(7), created: Int64(statement.int(8)),
                    expires: statement.optionalInt(9).map { Int64($0) }))
        }
        return devices
    }

    /// The lowest index in `[first, first + capacity)` that no device holds and that is not in quarantine.
    /// It is `first` or just above a taken index, so one query checks only those candidates (about
    /// 15 ms with 60,000 devices).
    static func freeAddressIndex(from first: Int, capacity: Int, releasedBefore cutoff: Int64, connection: SQLiteConnection) throws -> Int? {
        let statement = try connection.prepare(
            """
            SELECT min(candidate) FROM (
                SELECT ?2 AS candidate
                UNION ALL SELECT address_index + 1 FROM devices WHERE address_index >= ?2
                UNION ALL SELECT address_index + 1 FROM address_quarantine WHERE address_index >= ?2 AND released > ?1
            )
            WHERE candidate <= ?3
                AND NOT EXISTS (SELECT 1 FROM devices WHERE address_index = candidate)
                AND NOT EXISTS (SELECT 1 FROM address_quarantine WHERE address_index = candidate AND released > ?1)
            """
        ).bind(.integer(Int(cutoff)), .integer(first), .integer(first + capacity - 1))
        guard try statement.step() else { return nil }
        return statement.optionalInt(0)
    }
}

/// Why a device cannot be created.
public enum DeviceError: Error, Sendable, Equatable, CustomStringConvertible {
    case unknownUser(String)
    case unknownDevice(String)
    case poolExhausted
    case duplicate(name: String, publicKey: String)

    public var description: String {
        switch self {
        case .unknownUser(let id): "no user \(id)"
        case .unknownDevice(let id): "no device \(id)"
        case .poolExhausted: "the tunnel address pool has no free address (freed ones rest in quarantine first)"
        case .duplicate(let name, _): "this user already has a device named '\(name)', or this public key is already registered"
        }
    }
}
