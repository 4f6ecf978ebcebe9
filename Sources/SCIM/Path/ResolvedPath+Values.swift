extension ResolvedPath {
    /// Every value this path reaches in `object`, with multi-valued attributes flattened and nulls dropped.
    public func values(in object: JSONObject) -> [JSON] {
        var current: [JSON] = [.object(object)]
        for step in steps {
            var next: [JSON] = []
            for case .object(let parent) in current {
                guard let value = parent.value(named: step.key) else { continue }
                switch value {
                case .null: continue
                case .array(let elements): next.append(contentsOf: elements.filter { $0 != .null })
                default: next.append(value)
                }
            }
            current = next
        }
        return current
    }

    /// The path extended to the `value` sub-attribute when it ends at a complex attribute that has one,
    /// as filters and sorting read `emails` as `emails.value` (RFC 7644 §3.4.2.2, §3.4.2.3).
    func comparable() -> ResolvedPath? {
        guard definition.type == .complex else { return self }
        guard let value = definition.subAttribute(named: "value") else { return nil }
        return appending(value)
    }
}
