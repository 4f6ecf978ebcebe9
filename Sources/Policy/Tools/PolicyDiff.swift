/// What a policy change does: the rules that change (see `PolicyDiff+Rules.swift`), each user's
/// gained and lost access, and the access of groups nobody active is in yet. The review artifact for
/// a policy change.
public enum PolicyDiff {
    /// Access gained and lost, with each side also cut into the resources it covers.
    public struct AccessChange: Sendable, Hashable {
        public let gained: AccessSet
        public let lost: AccessSet
        /// `gained` described by the new policy's resources.
        public let gainedByResource: [NamedAccess]
        /// `lost` described by the old policy's resources.
        public let lostByResource: [NamedAccess]

        public var isEmpty: Bool { gained.isEmpty && lost.isEmpty }

        init(from oldAccess: AccessSet, to newAccess: AccessSet, old: CompiledPolicy, new: CompiledPolicy) {
            gained = newAccess.subtracting(oldAccess)
            lost = oldAccess.subtracting(newAccess)
            gainedByResource = NamedAccess.describe(gained, resources: new.policy.resources)
            lostByResource = NamedAccess.describe(lost, resources: old.policy.resources)
        }
    }

    /// One user's change.
    public struct UserChange: Sendable {
        public let userName: String
        public let change: AccessChange

        public var gained: AccessSet { change.gained }
        public var lost: AccessSet { change.lost }
    }

    /// What a member of only this group would gain or lose: the effect of a change on a group that
    /// no active user is in, so a reviewer sees it before someone joins.
    public struct GroupChange: Sendable {
        /// The group's name as the rules write it.
        public let group: String
        /// Whether the identity provider has pushed the group (it may still have no active members).
        public let isKnown: Bool
        public let change: AccessChange
    }

    /// Users whose access differs, in the order of `subjects`.
    public static func compare(from old: CompiledPolicy, to new: CompiledPolicy, subjects: [PolicySubject], at now: Int64) -> [UserChange] {
        let before = AccessTable(policy: old, subjects: subjects, at: now)
        let after = AccessTable(policy: new, subjects: subjects, at: now)
        var cache: [Pair: AccessChange] = [:]
        var changes: [UserChange] = []
        for subject in subjects {
            let pair = Pair(before: before.classOfUser[subject.userName], after: after.classOfUser[subject.userName])
            let change: AccessChange
            if let cached = cache[pair] {
                change = cached
            } else {
                change = AccessChange(from: before.access(of: subject.userName), to: after.access(of: subject.userName), old: old, new: new)
                cache[pair] = change
            }
            if !change.isEmpty {
                changes.append(UserChange(userName: subject.userName, change: change))
            }
        }
        return changes
    }

    /// The groups that either policy's rules name and no active subject is in, whose member would
    /// gain or lose access, by name. A member of only that group is assumed: groups it is nested in
    /// are not known for a group without members.
    /// - Parameter knownGroups: the groups the identity provider has pushed, to tell them from typos
    ///   and groups still to come.
    public static func compareGroups(
        from old: CompiledPolicy, to new: CompiledPolicy, subjects: [PolicySubject], knownGroups: [String], at now: Int64
    ) -> [GroupChange] {
        let populated = Set(subjects.filter(\.active).flatMap(\.groups).map(fold))
        let known = Set(knownGroups.map(fold))
        var spellings: [String: String] = [:]
        for group in new.referencedGroups + old.referencedGroups where spellings[fold(group)] == nil {
            spellings[fold(group)] = group
        }
        var changes: [GroupChange] = []
        for (folded, group) in spellings where !populated.contains(folded) {
            // No userName: a rule naming users cannot match this made-up member.
            let member = PolicySubject(userName: "", groups: [group])
            let change = AccessChange(from: old.access(for: member, at: now), to: new.access(for: member, at: now), old: old, new: new)
            if !change.isEmpty {
                changes.append(GroupChange(group: group, isKnown: known.contains(folded), change: change))
            }
        }
        return changes.sorted { fold($0.group) < fold($1.group) }
    }

    private struct Pair: Hashable {
        let before: Int?
        let after: Int?
    }
}
