/// A JSON object whose members keep their order.
///
/// Equality ignores order: two objects are equal when they hold the same keys with equal values.
/// SCIM attribute names are case-insensitive, so lookups come in an exact and a case-insensitive form.
public struct JSONObject: Sendable, Hashable, Sequence {
    /// One key and its value.
    public struct Member: Sendable, Hashable {
        public var key: String
        public var value: JSON

        public init(key: String, value: JSON) {
            self.key = key
            self.value = value
        }
    }

    public private(set) var members: [Member]

    public init(_ members: [Member] = []) {
        self.members = members
    }

    public var isEmpty: Bool { members.isEmpty }
    public var count: Int { members.count }
    public var keys: [String] { members.map(\.key) }

    public func makeIterator() -> IndexingIterator<[Member]> {
        members.makeIterator()
    }

    /// The value stored under exactly this key.
    public subscript(key: String) -> JSON? {
        get { members.first { $0.key == key }?.value }
        set {
            if let index = members.firstIndex(where: { $0.key == key }) {
                if let newValue {
                    members[index].value = newValue
                } else {
                    members.remove(at: index)
                }
            } else if let newValue {
                members.append(Member(key: key, value: newValue))
            }
        }
    }

    /// The member whose key equals `name` ignoring case, as SCIM attribute names compare.
    public func member(named name: String) -> Member? {
        if let exact = members.first(where: { $0.key == name }) {
            return exact
        }
        return members.first { $0.key.caseInsensitiveEquals(name) }
    }

    /// The value of the member whose key equals `name` ignoring case.
    public func value(named name: String) -> JSON? {
        member(named: name)?.value
    }

    /// Removes every member whose key equals `name` ignoring case.
    public mutating func removeValue(named name: String) {
        members.removeAll { $0.key.caseInsensitiveEquals(name) }
    }

    /// Sets `value` under `name`, replacing a member whose key equals it ignoring case.
    public mutating func setValue(_ value: JSON, named name: String) {
        if let index = members.firstIndex(where: { $0.key.caseInsensitiveEquals(name) }) {
            members[index] = Member(key: name, value: value)
        } else {
            members.append(Member(key: name, value: value))
        }
    }

    public static func == (lhs: JSONObject, rhs: JSONObject) -> Bool {
        guard lhs.members.count == rhs.members.count else { return false }
        // Match members one to one, so that repeated keys (which JSON text may carry) compare correctly too.
        var unmatched = rhs.members
        for member in lhs.members {
            guard let index = unmatched.firstIndex(of: member) else { return false }
            unmatched.swapAt(index, unmatched.count - 1)
            unmatched.removeLast()
        }
        return true
    }

    public func hash(into hasher: inout Hasher) {
        // Order-independent, to agree with ==.
        var combined = 0
        for member in members {
            var memberHasher = Hasher()
            memberHasher.combine(member.key)
            memberHasher.combine(member.value)
            combined ^= memberHasher.finalize()
        }
        hasher.combine(members.count)
        hasher.combine(combined)
    }
}

extension String {
    /// ASCII and Unicode case-insensitive equality, fast when both strings are ASCII.

    func caseInsensitiveEquals(_ other: String) -> Bool {
        if self.utf8.count == other.utf8.count, self.utf8.elementsEqual(other.utf8, by: { asciiLower($0) == asciiLower($1) }) {
            return true
        }
        if self.utf8.allSatisfy({ $0 < 0x80 }) && other.utf8.allSatisfy({ $0 < 0x80 }) {
            return false
        }
        return self.lowercased() == other.lowercased()
    }
}


func asciiLower(_ byte: UInt8) -> UInt8 {
    (byte >= 0x41 && byte <= 0x5A) ? byte + 0x20 : byte
}
