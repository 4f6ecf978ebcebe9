import Foundation
import Yams

/// Turns policy YAML into the model, keeping every position so that errors say `file:line:column`.
/// It collects every problem instead of stopping at the first.
struct PolicyParser {
    private var resources: [String: NetworkResource] = [:]
    private var rules: [Rule] = []
    private var tests: [PolicyTest] = []
    private var diagnostics: [PolicyDiagnostic] = []
    private var ruleNames: [String: SourceLocation] = [:]
    private var testNames: [String: SourceLocation] = [:]

    static let topLevelKeys = ["resources", "rules", "tests"]
    static let resourceKeys = ["hosts", "ports", "description"]
    static let ruleKeys = ["name", "description", "groups", "users", "where", "allow", "deny", "until"]
    static let destinationKeys = ["to", "ports"]
    static let testKeys = ["name", "user", "at", "allow", "deny"]

    mutating func parse(file: String, contents: String) {
        let root: Node?
        do {
            root = try Yams.compose(yaml: contents)
        } catch let error as YamlError {
            report(yamlError: error, file: file)
            return
        } catch {
            diagnostics.append(PolicyDiagnostic(.error, at: SourceLocation(file: file, line: 1, column: 1), "\(error)"))
            return
        }
        // An empty file, or one with only `---` and comments, is an empty policy.
        guard let root, !(root.scalar.map { $0.string.isEmpty && $0.style == .plain } ?? false) else { return }
        guard let mapping = root.mapping else {
            error(at: root, file: file, "a policy file is a mapping with 'resources', 'rules' and 'tests'")
            return
        }
        for (keyNode, value) in mapping {
            guard let key = keyNode.scalar?.string else {
                error(at: keyNode, file: file, "keys must be plain names")
                continue
            }
            switch key {
            case "resources": parseResources(value, file: file)
            case "rules": parseRules(value, file: file)
            case "tests": parseTests(value, file: file)
            default: unknownKey(key, at: keyNode, file: file, expected: Self.topLevelKeys, in: "a policy file")
            }
        }
    }

    // MARK: Resources

    private mutating func parseResources(_ node: Node, file: String) {
        guard let mapping = node.mapping else {
            error(at: node, file: file, "'resources' is a mapping of names to { hosts: [...], ports: [...] }")
            return
        }
        for (nameNode, value) in mapping {
            guard let name = nameNode.scalar?.string, isValidName(name) else {
                error(at: nameNode, file: file, "a resource name is letters, digits, '-', '_' and '.', starting with a letter")
                continue
            }
            let location = self.location(of: nameNode, file: file)
            if let previous = resources[name] {
                error(at: nameNode, file: file, "resource '\(name)' is already defined at \(previous.location)", hint: "names are unique across all policy files")
                continue
            }
            guard let body = value.mapping else {
                error(at: value, file: file, "resource '\(name)' needs a mapping such as { hosts: [10.0.0.0/24] }")
                continue
            }
            var hosts: [IPPrefix] = []
            var ports: [PortSpec] = []
            var hostNodes: [Node]?
            for (keyNode, item) in body {
                switch keyNode.scalar?.string ?? "" {
                case "hosts":
                    hostNodes = list(item, file: file, what: "hosts")
                    hosts = hostNodes?.compactMap { prefix($0, file: file) } ?? []
                case "ports":
                    ports = portSpecs(item, file: file)
                case "description":
                    _ = scalarString(item, file: file, what: "description")
                default:
                    unknownKey(keyNode.scalar?.string ?? "?", at: keyNode, file: file, expected: Self.resourceKeys, in: "a resource")
                }
            }
            if hostNodes?.isEmpty ?? true {
                error(at: nameNode, file: file, "resource '\(name)' has no hosts", hint: "add hosts: [10.0.0.0/24]")
                continue
            }
            resources[name] = NetworkResource(name: name, hosts: hosts, defaultPorts: ports, location: location)
        }
    }

    // MARK: Rules

    private mutating func parseRules(_ node: Node, file: String) {
        guard let sequence = node.sequence else {
            error(at: node, file: file, "'rules' is a list of rules, each starting with '- name: ...'")
            return
        }
        for ruleNode in sequence {
            parseRule(ruleNode, file: file)
        }
    }

    private mutating func parseRule(_ node: Node, file: String) {
        guard let mapping = node.mapping else {
            error(at: node, file: file, "a rule is a mapping with 'name', whom it applies to, and 'allow' or 'deny'")
            return
        }
        let location = self.location(of: node, file: file)
        var name: String?
        var description: String?
        var selectors = Selectors()
        var allow: [Destination] = []
        var deny: [Destination] = []
        var until: Int64?
        var hasAllowOrDeny = false
        for (keyNode, value) in mapping {
            switch keyNode.scalar?.string ?? "" {
            case "name": name = scalarString(value, file: file, what: "name")
            case "description": description = scalarString(value, file: file, what: "description")
            case "groups": selectors.groups = list(value, file: file, what: "groups").compactMap { scalarString($0, file: file, what: "group name") }
            case "users": selectors.users = list(value, file: file, what: "users").compactMap { scalarString($0, file: file, what: "userName") }
            case "where": selectors.attributes = conditions(value, file: file)
            case "allow":
                hasAllowOrDeny = true
                allow = list(value, file: file, what: "allow").compactMap { destination($0, file: file) }
            case "deny":
                hasAllowOrDeny = true
                deny = list(value, file: file, what: "deny").compactMap { destination($0, file: file) }
            case "until": until = timestamp(value, file: file)
            default: unknownKey(keyNode.scalar?.string ?? "?", at: keyNode, file: file, expected: Self.ruleKeys, in: "a rule")
            }
        }
        guard let name, isValidName(name) else {
            error(at: node, file: file, "every rule needs a 'name' (letters, digits, '-', '_', '.')")
            return
        }
        if let previous = ruleNames[name] {
            error(at: node, file: file, "rule '\(name)' is already defined at \(previous)", hint: "names are unique across all policy files")
            return
        }
        ruleNames[name] = location
        if selectors.isEmpty {
            error(at: node, file: file, "rule '\(name)' applies to nobody", hint: "add groups, users or where")
        }
        if !hasAllowOrDeny {
            error(at: node, file: file, "rule '\(name)' neither allows nor denies anything", hint: "add allow: [...] or deny: [...]")
        }
        rules.append(Rule(name: name, description: description, selectors: selectors, allow: allow, deny: deny, until: until, location: location))
    }

    private mutating func conditions(_ node: Node, file: String) -> [(name: String, values: [String])] {
        guard let mapping = node.mapping else {
            error(at: node, file: file, "'where' is a mapping of attributes to values, e.g. { department: Sales }")
            return []
        }
        var result: [(name: String, values: [String])] = []
        for (keyNode, value) in mapping {
            let key = keyNode.scalar?.string ?? ""
            guard let canonical = PolicyAttributes.canonical(key) else {
                unknownKey(key, at: keyNode, file: file, expected: PolicyAttributes.names, in: "'where' (user attributes)")
                continue
            }
            let values: [String]
            if value.sequence != nil {
                values = list(value, file: file, what: canonical).compactMap { scalarString($0, file: file, what: "value") }
            } else if let single = scalarString(value, file: file, what: canonical) {
                values = [single]
            } else {
                continue
            }
            guard !values.isEmpty else {
                error(at: value, file: file, "'\(canonical)' lists no values, so it matches nobody")
                continue
            }
            result.append((canonical, values))
        }
        return result
    }

    /// `{ to: git, ports: [tcp/22] }`, or just `git` / `10.0.0.0/8`.
    private mutating func destination(_ node: Node, file: String) -> Destination? {
        let location = self.location(of: node, file: file)
        if let text = node.scalar?.string {
            guard let target = target(text, node: node, file: file) else { return nil }
            return Destination(target: target, ports: nil, location: location)
        }
        guard let mapping = node.mapping else {
            error(at: node, file: file, "a destination is { to: RESOURCE-OR-CIDR, ports: [...] }")
            return nil
        }
        var target: Destination.Target?
        var ports: [PortSpec]?
        var sawTo = false
        var targetLocation = location
        for (keyNode, value) in mapping {
            switch keyNode.scalar?.string ?? "" {
            case "to":
                sawTo = true
                targetLocation = self.location(of: value, file: file)
                if let text = scalarString(value, file: file, what: "to") { target = self.target(text, node: value, file: file) }
            case "ports":
                ports = portSpecs(value, file: file)
            default:
                unknownKey(keyNode.scalar?.string ?? "?", at: keyNode, file: file, expected: Self.destinationKeys, in: "a destination")
            }
        }
        if !sawTo {
            error(at: node, file: file, "a destination needs 'to': a resource name or a CIDR")
        }
        guard let target else { return nil }
        // Point at the name after `to:`, where a typo would be.
        return Destination(target: target, ports: ports, location: targetLocation)
    }

    /// A resource name (checked once every file is read) or a literal address or prefix.
    private mutating func target(_ text: String, node: Node, file: String) -> Destination.Target? {
        switch Self.classify(text) {
        case .success(let target): return target
        case .failure(let error):
            self.error(at: node, file: file, error.description)
            return nil
        }
    }

    /// An address or prefix if the text is one (`fd00::/8` starts with a letter too), else a resource name.
    static func classify(_ text: String) -> Swift.Result<Destination.Target, IPPrefixError> {
        do {
            return .success(.prefix(try IPPrefix.parse(text)))
        } catch {
            if let first = text.unicodeScalars.first, first.properties.isAlphabetic, !text.contains("/"), !text.contains(":") {
                return .success(.resource(text))
            }
            return .failure(error)
        }
    }

    // MARK: Tests

    private mutating func parseTests(_ node: Node, file: String) {
        guard let sequence = node.sequence else {
            error(at: node, file: file, "'tests' is a list, each starting with '- name: ...'")
            return
        }
        for testNode in sequence {
            parseTest(testNode, file: file)
        }
    }

    private mutating func parseTest(_ node: Node, file: String) {
        guard let mapping = node.mapping else {
            error(at: node, file: file, "a test is a mapping with 'name', 'user', and 'allow' or 'deny'")
            return
        }
        let location = self.location(of: node, file: file)
        var name: String?
        var subject: PolicySubject?
        var at: Int64?
        var allow: [PolicyTest.Probe] = []
        var deny: [PolicyTest.Probe] = []
        for (keyNode, value) in mapping {
            switch keyNode.scalar?.string ?? "" {
            case "name": name = scalarString(value, file: file, what: "name")
            case "user": subject = testSubject(value, file: file)
            case "at": at = timestamp(value, file: file)
            case "allow": allow = list(value, file: file, what: "allow").compactMap { probe($0, file: file) }
            case "deny": deny = list(value, file: file, what: "deny").compactMap { probe($0, file: file) }
            default: unknownKey(keyNode.scalar?.string ?? "?", at: keyNode, file: file, expected: Self.testKeys, in: "a test")
            }
        }
        guard let name, !name.isEmpty else {
            error(at: node, file: file, "every test needs a 'name'")
            return
        }
        if let previous = testNames[name] {
            error(at: node, file: file, "test '\(name)' is already defined at \(previous)", hint: "names are unique across all policy files")
            return
        }
        testNames[name] = location
        guard let subject else {
            error(at: node, file: file, "test '\(name)' needs a 'user', e.g. user: { groups: [Engineering] }")
            return
        }
        if allow.isEmpty, deny.isEmpty {
            error(at: node, file: file, "test '\(name)' checks nothing", hint: "add allow: [resource:tcp/443] or deny: [...]")
        }
        tests.append(PolicyTest(name: name, subject: subject, at: at, allow: allow, deny: deny, location: location))
    }

    /// `{ groups: [...], userName: x, active: false, department: Sales, ... }`.
    private mutating func testSubject(_ node: Node, file: String) -> PolicySubject? {
        guard let mapping = node.mapping else {
            error(at: node, file: file, "'user' is a mapping, e.g. { groups: [Engineering], department: R&D }")
            return nil
        }
        var subject = PolicySubject(userName: "test-user")
        for (keyNode, value) in mapping {
            let key = keyNode.scalar?.string ?? ""
            switch key {
            case "groups": subject.groups = list(value, file: file, what: "groups").compactMap { scalarString($0, file: file, what: "group") }
            case "active":
                guard let text = value.scalar?.string, let active = Bool(text.lowercased()) else {
                    error(at: value, file: file, "'active' is true or false")
                    continue
                }
                subject.active = active
            default:
                guard let canonical = PolicyAttributes.canonical(key) else {
                    unknownKey(key, at: keyNode, file: file, expected: ["groups", "active"] + PolicyAttributes.names, in: "a test user")
                    continue
                }
                let values = value.sequence != nil
                    ? list(value, file: file, what: key).compactMap { scalarString($0, file: file, what: key) }
                    : [scalarString(value, file: file, what: key)].compactMap { $0 }
                if canonical == "userName", let first = values.first { subject.userName = first }
                subject.attributes[canonical] = values
            }
        }
        return subject
    }

    /// `git:tcp/22`, `10.1.2.3:tcp/443`, `[2001:db8::1]:udp/53`.
    private mutating func probe(_ node: Node, file: String) -> PolicyTest.Probe? {
        guard let text = scalarString(node, file: file, what: "check") else { return nil }
        let location = self.location(of: node, file: file)
        let targetText: Substring
        let portText: Substring
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            targetText = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else {
                error(at: node, file: file, "'\(text)' should be [IPV6]:PROTO/PORT, e.g. [2001:db8::1]:tcp/22")
                return nil
            }
            portText = rest.dropFirst()
        } else if let colon = text.firstIndex(of: ":") {
            targetText = text[..<colon]
            portText = text[text.index(after: colon)...]
        } else {
            error(at: node, file: file, "'\(text)' should be TARGET:PROTO/PORT, e.g. git:tcp/22 or 10.1.2.3:icmp")
            return nil
        }
        let target: Destination.Target
        switch Self.classify(String(targetText)) {
        case .success(let classified): target = classified
        case .failure(let error):
            self.error(at: node, file: file, error.description)
            return nil
        }
        do {
            let port = try PortSpec.parse(String(portText))
            return PolicyTest.Probe(target: target, port: port, text: text, location: location)
        } catch {
            self.error(at: node, file: file, error.description)
            return nil
        }
    }

    // MARK: Values

    private mutating func list(_ node: Node, file: String, what: String) -> [Node] {
        if let sequence = node.sequence { return Array(sequence) }
        if node.scalar != nil { return [node] }  // a single value where a list is expected
        error(at: node, file: file, "'\(what)' should be a list, e.g. [a, b]")
        return []
    }

    private mutating func scalarString(_ node: Node, file: String, what: String) -> String? {
        guard let text = node.scalar?.string else {
            error(at: node, file: file, "'\(what)' should be a single value, not a list or mapping")
            return nil
        }
        return text
    }

    private mutating func prefix(_ node: Node, file: String) -> IPPrefix? {
        guard let text = scalarString(node, file: file, what: "host") else { return nil }
        do {
            return try IPPrefix.parse(text)
        } catch {
            self.error(at: node, file: file, error.description)
            return nil
        }
    }

    private mutating func portSpecs(_ node: Node, file: String) -> [PortSpec] {
        var specs: [PortSpec] = []
        for portNode in list(node, file: file, what: "ports") {
            guard let text = scalarString(portNode, file: file, what: "port") else { continue }
            do {
                specs.append(try PortSpec.parse(text))
            } catch {
                self.error(at: portNode, file: file, error.description)
            }
        }
        return specs
    }

    private mutating func timestamp(_ node: Node, file: String) -> Int64? {
        guard let scalar = node.scalar, let date = Date.construct(from: scalar), Self.hasValidCalendarFields(scalar.string) else {
            error(at: node, file: file, "'\(node.scalar?.string ?? "?")' is not a timestamp", hint: "write e.g. 2027-01-31T00:00:00Z")
            return nil
        }
        return Int64((date.timeIntervalSince1970 * 1000).rounded())
    }

    /// Whether the date and time fields of a timestamp exist: Yams rolls impossible ones over
    /// (`2027-02-30` becomes March 2nd, `2027-13-01` the next January), which hides typos.
    static func hasValidCalendarFields(_ text: String) -> Bool {
        let fields = text.split { !$0.isASCIIDigit }.prefix(6).compactMap { Int($0) }
        guard fields.count >= 3, let utc = TimeZone(secondsFromGMT: 0) else { return false }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = utc
        var components = DateComponents(year: fields[0], month: fields[1], day: fields[2])
        if fields.count == 6 {
            components.hour = fields[3]
            components.minute = fields[4]
            components.second = fields[5]
        }
        return components.isValidDate(in: calendar)
    }

    private func isValidName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first.properties.isAlphabetic else { return false }
        return name.allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == "." || $0 == " " }
    }

    // MARK: Diagnostics

    private func location(of node: Node, file: String) -> SourceLocation {
        SourceLocation(file: file, line: node.mark?.line ?? 1, column: node.mark?.column ?? 1)
    }

    private mutating func error(at node: Node, file: String, _ message: String, hint: String? = nil) {
        diagnostics.append(PolicyDiagnostic(.error, at: location(of: node, file: file), message, hint: hint))
    }

    private mutating func unknownKey(_ key: String, at node: Node, file: String, expected: [String], in context: String) {
        let hint = Suggestion.closest(to: key, among: expected).map { "did you mean '\($0)'?" }
            ?? "expected one of: \(expected.joined(separator: ", "))"
        error(at: node, file: file, "unknown key '\(key)' in \(context)", hint: hint)
    }

    private mutating func report(yamlError: YamlError, file: String) {
        switch yamlError {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _), .composer(_, let problem, let mark, _):
            diagnostics.append(PolicyDiagnostic(.error, at: SourceLocation(file: file, line: mark.line, column: mark.column), "invalid YAML: \(problem)"))
        case .duplicatedKeysInMapping(let duplicates, let context):
            diagnostics.append(
                PolicyDiagnostic(
                    .error, at: SourceLocation(file: file, line: context.mark.line, column: context.mark.column),
                    "the key '\(duplicates.joined(separator: "', '"))' appears twice in one mapping"))
        default:
            diagnostics.append(PolicyDiagnostic(.error, at: SourceLocation(file: file, line: 1, column: 1), "invalid YAML: \(yamlError)"))
        }
    }

    // MARK: Cross-file checks

    /// Checks what needs every file (resource names used by rules and tests) and builds the policy.
    mutating func finish(files: [(name: String, contents: String)]) -> PolicyLoader.Result {
        let names = Array(resources.keys)
        func check(_ target: Destination.Target, at location: SourceLocation) {
            guard case .resource(let name) = target, resources[name] == nil else { return }
            let hint = Suggestion.closest(to: name, among: names).map { "did you mean '\($0)'?" }
                ?? (names.isEmpty ? "define it under 'resources:', or write a CIDR" : "known resources: \(names.sorted().joined(separator: ", "))")
            diagnostics.append(PolicyDiagnostic(.error, at: location, "unknown resource '\(name)'", hint: hint))
        }
        for rule in rules {
            for destination in rule.allow + rule.deny { check(destination.target, at: destination.location) }
        }
        for test in tests {
            for probe in test.allow + test.deny { check(probe.target, at: probe.location) }
        }
        let sortedDiagnostics = diagnostics.sorted { $0.location < $1.location }
        let hasErrors = sortedDiagnostics.contains { $0.severity == .error }
        let policy = hasErrors ? nil : PolicySet(resources: resources, rules: rules, tests: tests, files: files)
        return PolicyLoader.Result(policy: policy, diagnostics: sortedDiagnostics)
    }
}
