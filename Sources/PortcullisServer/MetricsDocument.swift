import Reconciler
import Store

/// `/metrics` in the Prometheus text format.
enum MetricsDocument {
    static func render(reconciler: Reconciler?, policies: PolicyService?, auditHead: AuditHead? = nil) -> String {
        var lines: [String] = []
        func metric(_ name: String, _ type: String, _ help: String, _ value: Double) {
            lines += ["# HELP \(name) \(help)", "# TYPE \(name) \(type)", "\(name) \(value)"]
        }
        if let reconciler {
            let metrics = reconciler.metrics
            metric("portcullis_revocations_total", "counter", "Peers and firewall elements removed from the gateway.", Double(metrics.revocations))
            metric("portcullis_revocation_failures_total", "counter", "Revocations the gateway did not accept at once.", Double(metrics.revocationFailures))
            metric("portcullis_pending_revocations", "gauge", "Revocations queued until the gateway accepts them.", Double(metrics.pendingRevocations))
            metric("portcullis_drift_repairs_total", "counter", "Times the gateway differed from the desired state and was repaired.", Double(metrics.driftRepairs))
            metric("portcullis_synchronizations_total", "counter", "Full synchronisations of the gateway.", Double(metrics.synchronizations))
            metric(
                "portcullis_background_failures_total", "counter", "Failures of background work (policy changes, retries, drift checks, watchdog).",
                Double(metrics.backgroundFailures))
            metric("portcullis_peers", "gauge", "WireGuard peers applied to the gateway.", Double(metrics.peers))
            metric("portcullis_last_synchronization_milliseconds", "gauge", "Duration of the last full synchronisation.", metrics.lastSynchronizationMilliseconds)
            metric("portcullis_gateway_ready", "gauge", "1 when the gateway is in the desired state.", reconciler.isReady ? 1 : 0)
        }
        if let policies {
            metric("portcullis_policy_version", "gauge", "Version of the policy in force (0: none).", Double(policies.current?.number ?? 0))
            metric("portcullis_policy_last_load_ok", "gauge", "1 when the last policy load was accepted.", policies.lastAttempt?.accepted == true ? 1 : 0)
        }
        if let auditHead {
            // The number alone: an outside system that scrapes it sees records deleted from the end (it
            // must never go down); the hash, for `audit verify --expect-head`, is in the hourly log line.
            metric("portcullis_audit_head_sequence", "gauge", "Sequence number of the audit log's last record.", Double(auditHead.seq))
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
