import ArgumentParser
import Firewall
import Foundation
import Logging
import Policy
import Reconciler
import Store
import WireGuard

/// `portcullis reconcile`: compares the gateway with the desired state, once.
struct ReconcileCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reconcile",
        abstract: "Compare the gateway with what users, groups and policies say it should have; print or apply the difference.",
        discussion: """
            With --dry-run it prints the plan (peers to remove and add, firewall changes) without applying it. \
            Without it, it applies the plan once, as a running server's drift repair would (needs root).
            """
    )

    @OptionGroup var dataOptions: DataOptions

    @Option(help: ArgumentHelp("The policy folder.", valueName: "dir"))
    var policies: String = "./policies"

    @Flag(help: "Print the plan without applying it.")
    var dryRun = false

    @OptionGroup var gateway: GatewayOptions

    func run() async throws {
        let file = try gateway.configFile()
        let configuration = try gateway.gatewayConfiguration(file: file, dryRun: dryRun)
        let store = try openStore(dataOptions)
        let policy = try loadOrFail(policies)
        let desired = DesiredState.compute(
            entries: try await store.directory(), devices: try await store.devices(), policy: policy, at: nowMilliseconds())
        let control = UAPIControl(interfaceName: configuration.interfaceName)
        let wireGuard: any WireGuardControl = control.isAvailable ? control : WGToolControl(interfaceName: configuration.interfaceName)
        let actualPeers = (try? await wireGuard.peers()) ?? []
        let firewall = try? NFTablesControl()
        var actualFirewall: FirewallState?
        if let firewall, let sources = try? await firewall.liveSources() {
            actualFirewall = FirewallState(
                interfaceName: configuration.interfaceName,
                rules: desired.rules.values.map { wanted in
                    FirewallRule(
                        id: wanted.id, verdict: wanted.verdict, sources: Set((sources[wanted.id] ?? []).compactMap { try? IPPrefix.parse($0) }),
                        access: wanted.access)
                })
        }
        let plan = ReconcilePlan.full(desired: desired, actualPeers: actualPeers, actualFirewall: actualFirewall)
        print("desired: \(desired.peers.count) peers, \(desired.rules.count) firewall rules; gateway has \(actualPeers.count) peers")
        for key in plan.peerRemovals { print("remove peer \(key.base64)") }
        for peer in plan.peerUpserts { print("add peer \(peer.publicKey.base64) allowed-ips \(peer.allowedIPs.joined(separator: ","))") }
        for change in plan.sourceRemovals + plan.sourceAdditions { print("firewall \(change)") }
        if plan.needsFirewallLoad { print("reload the nftables table inet \(RulesetRenderer.tableName)") }
        if plan.isEmpty { print("the gateway is in the desired state") }
        guard !dryRun, !plan.isEmpty else { return }
        guard let firewall else {
            printError("error: cannot reach nftables; applying needs root (or use --dry-run)")
            throw ExitCode.failure
        }
        let changes: [WireGuardPeerChange] = plan.peerRemovals.map { .remove($0) } + plan.peerUpserts.map { .upsert($0) }
        try await wireGuard.apply(changes)
        try await firewall.load(FirewallState(interfaceName: configuration.interfaceName, rules: Array(desired.rules.values)))
        print("applied")
    }
}
