public import Policy
public import Reconciler

extension PolicyService: PolicyProvider {
    public var compiledPolicy: CompiledPolicy? { current?.policy }

    public func policyChanges() -> AsyncStream<Void> {
        let changes = changes()
        return AsyncStream { continuation in
            let task = Task {
                for await _ in changes { continuation.yield() }
                continuation.finish()
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }
}
