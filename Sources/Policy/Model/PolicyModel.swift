/// A named set of destinations, e.g. `git: { hosts: [10.20.1.10/32], ports: [tcp/22] }`.
public struct NetworkResource: Sendable {
    public let name: String
    public let hosts: [IPPrefix]
    /// Ports for rules that name none; `any` when the resource names none either.
    public let defaultPorts: [PortSpec]
    public let location: SourceLocation
}

/// Where a rule grants or denies access: a resource or a literal prefix, on some ports.
public struct Destination: Sendable {
    public enum Target: Sendable, Hashable {
        case resource(String)
        case prefix(IPPrefix)
    }

    public let target: Target
    /// nil: the resource's default ports (or `any`).
    public let ports: [PortSpec]?
    public let location: SourceLocation
}

/// Whom a rule applies to. A rule with several selectors applies to a user who matches any of them.
public struct Selectors: Sendable {
    /// Group displayNames, compared ignoring case; membership through nested groups counts.
    public var groups: [String] = []
    /// userNames, compared ignoring case.
    public var users: [String] = []
    /// Attribute conditions, all of which must hold: attribute name → allowed values (any one of them).
    public var attributes: [(name: String, values: [String])] = []

    public var isEmpty: Bool { groups.isEmpty && users.isEmpty && attributes.isEmpty }
}

/// One rule of a policy file.
public struct Rule: Sendable {
    public let name: String
    public let description: String?
    public let selectors: Selectors
    public let allow: [Destination]
    public let deny: [Destination]
    /// After this instant (milliseconds since 1970) the rule grants and denies nothing.
    public let until: Int64?
    public let location: SourceLocation
}

/// A test a policy file carries: a made-up user and what they may and may not reach.
public struct PolicyTest: Sendable {
    /// `git:tcp/22`, `10.1.2.3:tcp/443`, `[2001:db8::1]:udp/53` or `prod-db:icmp`.
    public struct Probe: Sendable, CustomStringConvertible {
        public let target: Destination.Target
        public let port: PortSpec
        public let text: String
        public let location: SourceLocation

        public var description: String { text }
    }

    public let name: String
    public let subject: PolicySubject
    /// The instant the test is evaluated at (milliseconds since 1970); nil for "now".
    public let at: Int64?
    public let allow: [Probe]
    public let deny: [Probe]
    public let location: SourceLocation
}

/// Everything the policy files say, merged: one policy.
public struct PolicySet: Sendable {
    public let resources: [String: NetworkResource]
    public let rules: [Rule]
    public let tests: [PolicyTest]
    /// The files read, by name, with their contents (for hashing and diffs).
    public let files: [(name: String, contents: String)]
}

/// The facts about a user that policies decide on.
public struct PolicySubject: Sendable {
    public var userName: String
    public var active: Bool
    /// displayNames of every group the user is in, directly or through nested groups.
    public var groups: [String]
    /// Attribute values by attribute name (`department`, `title`, `costCenter`, ...).
    public var attributes: [String: [String]]

    public init(userName: String, active: Bool = true, groups: [String] = [], attributes: [String: [String]] = [:]) {
        self.userName = userName
        self.active = active
        self.groups = groups
        self.attributes = attributes
    }
}

/// The user attributes a `where:` may test, with their canonical spelling.
public enum PolicyAttributes {
    public static let names = [
        "userName", "displayName", "nickName", "title", "userType", "preferredLanguage", "locale", "timezone",
        "employeeNumber", "costCenter", "organization", "division", "department", "manager",
        "emails", "roles", "entitlements",
    ]

    /// The canonical spelling of `name`, matched ignoring case.
    public static func canonical(_ name: String) -> String? {
        names.first { $0.lowercased() == name.lowercased() }
    }
}
