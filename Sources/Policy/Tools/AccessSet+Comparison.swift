extension AccessSet {
    /// Whether both sets let exactly the same packets through. Canonical forms of equal sets can
    /// differ in how prefixes and port ranges were merged, so this subtracts both ways.
    func permitsTheSame(as other: AccessSet) -> Bool {
        subtracting(other).isEmpty && other.subtracting(self).isEmpty
    }
}
