import Policy
import Reconciler
public import SCIM
public import Store

/// The JSON shapes of the admin API (the CLI's `--json` output uses the same).
public enum AdminDocuments {
    /// A device without secrets: whether it has a preshared key, not the key.
    public static func device(_ device: Device) -> JSON {
        var object: JSONObject = [
            "id": .string(device.id),
            "userId": .string(device.userID),
            "name": .string(device.name),
            "publicKey": .string(device.publicKey),
            "addresses": .array([device.address4, device.address6].compactMap { $0 }.map(JSON.string)),
            "presharedKey": .bool(device.presharedKey != nil),
            "created": .string(SCIMDateTime.format(device.created)),
        ]
        object["expires"] = device.expires.map { .string(SCIMDateTime.format($0)) } ?? .null
        return .object(object)
    }

    /// A user with their devices and what they may reach now.
    static func user(_ entry: Store.DirectoryEntry, devices: [Device], policy: CompiledPolicy?, now: Int64) -> JSON {
        let subject = PolicySubject(user: entry.user, groupNames: entry.groupNames)
        let access = policy?.access(for: subject, at: now) ?? .empty
        let rules = policy.map { policy in policy.matchingRules(for: subject, at: now).map { policy.rules[$0].name } } ?? []
        return [
            "id": .string(entry.user.id),
            "userName": .string(subject.userName),
            "displayName": entry.user.attributes["displayName"] ?? .null,
            "active": .bool(subject.active),
            "groups": .array(entry.groupNames.map(JSON.string)),
            "devices": .array(devices.map(device)),
            "access": [
                "rules": .array(rules.map(JSON.string)),
                "grants": .array(
                    access.grants.map { grant in
                        var object: JSONObject = ["prefix": .string(grant.prefix.description), "protocol": .string(grant.networkProtocol.rawValue)]
                        if let ports = grant.ports { object["ports"] = .string(ports.description) }
                        return .object(object)
                    }),
                "allowedIPs": .array(access.allowedIPs.map { .string($0.description) }),
            ],
        ]
    }
}
