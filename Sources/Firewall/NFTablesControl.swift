import CNFTables
import Dispatch
import Foundation

/// Drives nftables in-process through libnftables: the same language as `nft -f`, without a
/// subprocess per change. One context, used from one serial queue.
public final class NFTablesControl: FirewallControl, @unchecked Sendable {
    // `context` is only touched on `queue`.
    private let context: OpaquePointer
    private let queue = DispatchQueue(label: "portcullis.nftables")

    public init() throws {
        guard let context = nft_ctx_new(UInt32(NFT_CTX_DEFAULT)) else {
            throw FirewallError("libnftables could not create a context")
        }
        nft_ctx_buffer_output(context)
        nft_ctx_buffer_error(context)
        self.context = context
    }

    deinit {
        nft_ctx_free(context)
    }

    public func load(_ state: FirewallState) async throws {
        _ = try await run(RulesetRenderer.render(state))
    }

    public func apply(_ changes: [FirewallChange], resulting state: FirewallState) async throws {
        guard !changes.isEmpty else { return }
        _ = try await run(RulesetRenderer.render(changes))
    }

    public func liveSources() async throws -> [String: Set<String>]? {
        guard let table = try await listTable() else { return nil }
        return NFTablesListing.sources(table)
    }

    public func liveStructure() async throws -> String? {
        guard let table = try await listTable() else { return nil }
        return NFTablesListing.structure(table)
    }

    /// The table as nftables' JSON, or nil if it does not exist.
    private func listTable() async throws -> [String: Any]? {
        do {
            let output = try await run("list table inet \(RulesetRenderer.tableName)", json: true)
            return try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any]
        } catch let error as FirewallError where error.description.contains("No such file or directory") {
            return nil
        }
    }

    /// Runs a script; returns nftables' output. Errors carry nftables' own message.
    private func run(_ script: String, json: Bool = false) async throws -> String {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { [self] in
                var flags = nft_ctx_output_get_flags(context)
                if json { flags |= UInt32(NFT_CTX_OUTPUT_JSON) } else { flags &= ~UInt32(NFT_CTX_OUTPUT_JSON) }
                nft_ctx_output_set_flags(context, flags)
                let status = nft_run_cmd_from_buffer(context, script)
                let output = nft_ctx_get_output_buffer(context).map { String(cString: $0) } ?? ""
                let error = nft_ctx_get_error_buffer(context).map { String(cString: $0) } ?? ""
                if status == 0 {
                    continuation.resume(returning: output)
                } else {
                    continuation.resume(throwing: FirewallError("nftables refused the change: \(error.isEmpty ? "status \(status)" : error)"))
                }
            }
        }
    }
}

/// Reads nftables' JSON listing of the table.
enum NFTablesListing {
    /// Source-address sets (`<rule>_src4`/`_src6`) and their elements, by rule id.
    static func sources(_ listing: [String: Any]) -> [String: Set<String>] {
        var sources: [String: Set<String>] = [:]
        for set in sets(listing) {
            guard let name = set["name"] as? String, name.hasSuffix("_src4") || name.hasSuffix("_src6") else { continue }
            let ruleID = String(name.dropLast(5))
            let elements = (set["elem"] as? [Any] ?? []).compactMap { $0 as? String }
            sources[ruleID, default: []].formUnion(elements)
        }
        return sources
    }

    /// Everything but the source sets' elements, normalized: what must not change between loads.
    static func structure(_ listing: [String: Any]) -> String {
        var lines: [String] = []
        for item in listing["nftables"] as? [[String: Any]] ?? [] {
            if var set = item["set"] as? [String: Any] {
                set["handle"] = nil
                if let name = set["name"] as? String, name.hasSuffix("_src4") || name.hasSuffix("_src6") { set["elem"] = nil }
                lines.append("set " + canonical(set))
            } else if var rule = item["rule"] as? [String: Any] {
                rule["handle"] = nil
                lines.append("rule " + canonical(rule))
            } else if var chain = item["chain"] as? [String: Any] {
                chain["handle"] = nil
                lines.append("chain " + canonical(chain))
            }
        }
        // In listing order: moving a rule (the final drop, say) is tampering too.
        return lines.joined(separator: "\n")
    }

    private static func sets(_ listing: [String: Any]) -> [[String: Any]] {
        (listing["nftables"] as? [[String: Any]] ?? []).compactMap { $0["set"] as? [String: Any] }
    }

    private static func canonical(_ object: Any) -> String {
        guard JSONSerialization.isValidJSONObject(object),
            let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        else { return "\(object)" }
        return String(decoding: data, as: UTF8.self)
    }
}
