import Foundation

/// Everything `portcullis policy diff` shows: the rules that change, then the users whose access
/// changes, then the groups nobody active is in whose members' access would change; as text for
/// a reviewer or JSON for CI.
public struct PolicyDiffReport: Sendable {
    public let rules: [PolicyDiff.RuleChange]
    public let users: [PolicyDiff.UserChange]
    public let groups: [PolicyDiff.GroupChange]
    /// How many users were compared (every user of the data folder).
    public let usersCompared: Int

    /// Compares two policies for the given users, and for the groups the rules name that none of the
    /// active ones is in.
    public init(from old: CompiledPolicy, to new: CompiledPolicy, subjects: [PolicySubject], knownGroups: [String], at now: Int64) {
        rules = PolicyDiff.compareRules(from: old, to: new)
        users = PolicyDiff.compare(from: old, to: new, subjects: subjects, at: now)
        groups = PolicyDiff.compareGroups(from: old, to: new, subjects: subjects, knownGroups: knownGroups, at: now)
        usersCompared = subjects.count
    }

    /// The report for people: `+` gained or added, `-` lost or removed, `~` changed.
    public var text: String {
        var lines: [String] = []
        if rules.isEmpty {
            lines.append("Rules that change: none")
        } else {
            lines.append("Rules that change (\(rules.count))")
            for rule in rules {
                lines.append("  " + Self.heading(rule))
                lines += rule.details.map { "      " + $0 }
            }
        }
        if usersCompared == 0 {
            lines.append("Users whose access changes: none (the data folder has no users)")
        } else if users.isEmpty {
            lines.append("Users whose access changes: none of \(usersCompared)")
        } else {
            lines.append("Users whose access changes (\(users.count) of \(usersCompared))")
            for user in users {
                lines.append("  " + user.userName)
                lines += Self.accessLines(user.change)
            }
        }
        if !groups.isEmpty {
            lines.append("Groups with no active members, for a member of only that group (\(groups.count))")
            for group in groups {
                lines.append("  " + group.group + (group.isKnown ? " (no active members)" : " (not pushed by the identity provider yet)"))
                lines += Self.accessLines(group.change)
            }
        }
        return lines.joined(separator: "\n")
    }

    /// The report for CI, with `from` and `to` as given on the command line.
    public func json(from: String, to: String) -> String {
        let object: [String: Any] = [
            "from": from, "to": to, "usersCompared": usersCompared,
            "rules": rules.map(Self.jsonObject),
            "users": users.map { Self.jsonObject($0.change).merging(["userName": $0.userName]) { _, new in new } },
            "groups": groups.map { Self.jsonObject($0.change).merging(["group": $0.group, "known": $0.isKnown]) { _, new in new } },
        ]
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    /// `~ name  new-location (was old-location)`, `+ name  new-location`, `- name  old-location`.
    private static func heading(_ rule: PolicyDiff.RuleChange) -> String {
        switch rule.kind {
        case .added: "+ \(rule.name)  \(rule.to.map(\.description) ?? "")"
        case .removed: "- \(rule.name)  \(rule.from.map(\.description) ?? "")"
        case .changed: "~ \(rule.name)  \(rule.to.map(\.description) ?? "") (was \(rule.from.map(\.description) ?? ""))"
        }
    }

    private static func accessLines(_ change: PolicyDiff.AccessChange) -> [String] {
        change.gainedByResource.map { "    + \($0)" } + change.lostByResource.map { "    - \($0)" }
    }

    private static func jsonObject(_ rule: PolicyDiff.RuleChange) -> [String: Any] {
        var object: [String: Any] = ["name": rule.name, "change": rule.kind.rawValue, "details": rule.details]
        if let from = rule.from { object["from"] = from.description }
        if let to = rule.to { object["to"] = to.description }
        return object
    }

    /// `gained` and `lost` as canonical grants (stable for scripts), and the same by resource.
    private static func jsonObject(_ change: PolicyDiff.AccessChange) -> [String: Any] {
        [
            "gained": change.gained.grants.map(\.description), "lost": change.lost.grants.map(\.description),
            "gainedByResource": change.gainedByResource.map(\.description), "lostByResource": change.lostByResource.map(\.description),
        ]
    }
}
