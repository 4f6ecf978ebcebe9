import Firewall
import Policy
import SCIM
import Store

/// What the gateway enforces, in the terms of the access history: each device address in each
/// rule's source set is a membership, and each rule's grants a versioned rule.
enum AccessLedger {
    /// The version of each firewall rule in `desired`, by rule id.
    static func ruleVersions(_ desired: DesiredState) -> [String: AccessRuleVersion] {
        var versions: [String: AccessRuleVersion] = [:]
        for (id, rule) in desired.rules {
            let grants = JSON.array(
                rule.access.grants.map { grant in
                    var object: JSONObject = ["prefix": .string(grant.prefix.description), "protocol": .string(grant.networkProtocol.rawValue)]
                    if let ports = grant.ports { object["ports"] = .string(ports.description) }
                    return .object(object)
                })
            let name = desired.ruleNames[id] ?? id
            versions[id] = AccessRuleVersion(
                version: id + "-" + fingerprint(name + "\u{1}" + grants.jsonText), name: name, verdict: rule.verdict.rawValue, grants: grants)
        }
        return versions
    }

    /// The memberships `desired` puts on the gateway, by user.
    static func memberships(_ desired: DesiredState, versions: [String: AccessRuleVersion]) -> [String: Set<AccessMembership>] {
        var devicesOfUser: [String: [DesiredState.Peer]] = [:]
        for peer in desired.peers.values { devicesOfUser[peer.userID, default: []].append(peer) }
        var memberships: [String: Set<AccessMembership>] = [:]
        for (userID, ruleIDs) in desired.rulesOfUser {
            guard let devices = devicesOfUser[userID] else { continue }
            var set = Set<AccessMembership>()
            for ruleID in ruleIDs {
                guard let version = versions[ruleID]?.version else { continue }
                for device in devices {
                    for address in device.addresses {
                        set.insert(AccessMembership(userID: userID, deviceID: device.deviceID, address: address.description, ruleVersion: version))
                    }
                }
            }
            memberships[userID] = set
        }
        return memberships
    }

    /// 64-bit FNV-1a in hex: a short, stable fingerprint of a rule's contents.
    static func fingerprint(_ text: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        return String(hash, radix: 16)
    }
}
