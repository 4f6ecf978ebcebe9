import Foundation
import Synchronization

/// `--dry-run`: writes the ruleset nftables would load to a file after every change.
public final class DryRunFirewall: FirewallControl {
    public let path: String
    private let current = Mutex<FirewallState?>(nil)

    public init(path: String) {
        self.path = path
    }

    public func load(_ state: FirewallState) async throws {
        current.withLock { $0 = state }
        try write(state)
    }

    public func apply(_ changes: [FirewallChange], resulting state: FirewallState) async throws {
        current.withLock { $0 = state }
        try write(state)
    }

    public func liveSources() async throws -> [String: Set<String>]? {
        current.withLock { state in
            state.map { state in
                state.rules.mapValues { Set($0.sources.map(RulesetRenderer.address)) }
            }
        }
    }

    public func liveStructure() async throws -> String? {
        current.withLock { state in
            state.map { state in
                var structureOnly = state
                for id in structureOnly.rules.keys { structureOnly.rules[id]?.sources = [] }
                return RulesetRenderer.render(structureOnly)
            }
        }
    }

    private func write(_ state: FirewallState) throws {
        try ("# Dry run: the nftables ruleset Portcullis would load.\n" + RulesetRenderer.render(state))
            .write(toFile: path, atomically: true, encoding: .utf8)
    }
}
