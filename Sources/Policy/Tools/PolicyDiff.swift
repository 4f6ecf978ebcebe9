/// What changes for each user between two policies: the review artifact for a policy change.
public enum PolicyDiff {
    /// One user's change.
    public struct UserChange: Sendable {
        public let userName: String
        public let gained: AccessSet
        public let lost: AccessSet
    }

    /// Users whose access differs, in the order of `subjects`.
    public static func compare(from old: CompiledPolicy, to new: CompiledPolicy, subjects: [PolicySubject], at now: Int64) -> [UserChange] {
        let before = AccessTable(policy: old, subjects: subjects, at: now)
        let after = AccessTable(policy: new, subjects: subjects, at: now)
        var cache: [Pair: (AccessSet, AccessSet)] = [:]
        var changes: [UserChange] = []
        for subject in subjects {
            let pair = Pair(before: before.classOfUser[subject.userName], after: after.classOfUser[subject.userName])
            let (gained, lost): (AccessSet, AccessSet)
            if let cached = cache[pair] {
                (gained, lost) = cached
            } else {
                let oldAccess = before.access(of: subject.userName)
                let newAccess = after.access(of: subject.userName)
                (gained, lost) = (newAccess.subtracting(oldAccess), oldAccess.subtracting(newAccess))
                cache[pair] = (gained, lost)
            }
            if !gained.isEmpty || !lost.isEmpty {
                changes.append(UserChange(userName: subject.userName, gained: gained, lost: lost))
            }
        }
        return changes
    }

    private struct Pair: Hashable {
        let before: Int?
        let after: Int?
    }
}
