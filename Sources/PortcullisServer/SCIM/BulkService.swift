import Hummingbird
import Logging
import SCIM
import Store

/// `POST /Bulk` (RFC 7644 §3.7): many operations on users and groups in one request.
///
/// Each operation is its own write through the same `SCIMService` call as the single request (the same
/// validation, its own transaction, on disk before it counts, and the reconciler's revocations applied
/// before the next result is reported). A failed operation does not undo the ones before it, and the
/// ones after it still run unless `failOnErrors` says to stop. The response lists each operation's
/// status, location and version, and for failures the SCIM error the single request would have answered.
///
/// Operations run in the request's order, except that a POST runs before the first operation that
/// references its `bulkId` (see `BulkPlan`). Consecutive POSTs that cannot affect one another (no
/// reference between them, no shared userName or group displayName) are sent to the store together,
/// so that their transactions share the disk flushes of its group commit; the outcome is the same as
/// running them one by one.
struct BulkService: Sendable {
    /// The most operations one request may carry (advertised as `bulk.maxOperations`).
    static let maximumOperations = 1000
    /// How many independent POSTs are in flight together at most.
    static let maximumConcurrentWrites = 32

    let service: SCIMService

    func handle(_ request: Request, context: PortcullisRequestContext) async throws -> Response {
        var request = request
        let body = try await request.scimJSONBody(limit: SCIMService.maximumPayloadSize)
        let bulk = try BulkRequest(parsing: body, maxOperations: Self.maximumOperations)
        // The lines about failed operations name the token too, like the request's line.
        var logger = context.logger
        if let tokenName = context.annotations.tokenName { logger[metadataKey: "token"] = "\(tokenName)" }
        let results = await run(bulk, baseURL: request.scimBaseURL, logger: logger)
        let failed = results.count(where: { !$0.succeeded })
        if failed > 0 || results.count < bulk.operations.count {
            logger.info(
                "bulk summary",
                metadata: [
                    "operations": "\(bulk.operations.count)", "ran": "\(results.count)", "failed": "\(failed)",
                    "stopped": "\(results.count < bulk.operations.count)",
                ])
        }
        return SCIMResponse.json(BulkResponse.json(results))
    }

    /// Runs the operations and returns the results of those that ran, in the order of the request.
    func run(_ bulk: BulkRequest, baseURL: String, logger: Logger) async -> [BulkOperationResult] {
        let plan = BulkPlan(bulk.operations)
        var state = RunState(count: bulk.operations.count)
        var position = 0
        while position < plan.order.count {
            if let limit = bulk.failOnErrors, state.failures >= limit { break }
            let batch = independentPOSTs(from: position, plan: plan, operations: bulk.operations, failOnErrors: bulk.failOnErrors)
            if batch.count > 1 {
                let results = await runConcurrently(batch.map { ($0, bulk.operations[$0]) }, baseURL: baseURL, logger: logger)
                for (index, result) in results {
                    state.record(result, at: index, operation: bulk.operations[index], plan: plan)
                }
                position += batch.count
            } else {
                let index = plan.order[position]
                let result = await runOne(index, bulk.operations[index], plan: plan, state: state, baseURL: baseURL, logger: logger)
                state.record(result, at: index, operation: bulk.operations[index], plan: plan)
                position += 1
            }
        }
        return state.results.compactMap { $0 }
    }

    /// What the operations that ran so far left behind.
    private struct RunState {
        var results: [BulkOperationResult?]
        /// The ids of the resources created so far, by bulkId.
        var created: [String: String] = [:]
        var failures = 0

        init(count: Int) {
            results = Array(repeating: nil, count: count)
        }

        mutating func record(_ outcome: Outcome, at index: Int, operation: BulkOperation, plan: BulkPlan) {
            results[index] = outcome.result
            if !outcome.result.succeeded {
                failures += 1
            } else if let bulkId = operation.bulkId, plan.creations[bulkId] == index, let id = outcome.createdID {
                created[bulkId] = id
            }
        }
    }

    /// An operation's result, and the id of the resource a POST created.
    private struct Outcome: Sendable {
        var result: BulkOperationResult
        var createdID: String?

        init(_ result: BulkOperationResult, createdID: String? = nil) {
            self.result = result
            self.createdID = createdID
        }
    }

    // MARK: One operation

    private func runOne(
        _ index: Int, _ operation: BulkOperation, plan: BulkPlan, state: RunState, baseURL: String, logger: Logger
    ) async -> Outcome {
        let number = index + 1
        if let error = operation.error {
            return failure(operation, number: number, location: nil, error: error, logger: logger)
        }
        if operation.method == .post, let bulkId = operation.bulkId, let first = plan.creations[bulkId], first != index {
            let error = SCIMError.invalidValue("bulkId '\(bulkId)' is already the bulkId of operation \(first + 1); each POST needs its own")
            return failure(operation, number: number, location: nil, error: error, logger: logger)
        }
        let resolved: BulkOperation
        do {
            resolved = try BulkReference.resolving(operation) { bulkId throws(SCIMError) -> String in
                if let id = state.created[bulkId] { return id }
                guard let creator = plan.creations[bulkId] else {
                    throw SCIMError.invalidValue("'bulkId:\(bulkId)' names no POST of this request")
                }
                if state.results[creator] == nil {
                    throw SCIMError(
                        status: 409,
                        detail: "'bulkId:\(bulkId)' is part of a circular reference: operation \(creator + 1) that creates it needs this one first")
                }
                throw SCIMError(
                    status: 409, detail: "'bulkId:\(bulkId)' has no resource: operation \(creator + 1), which was to create it, failed")
            }
        } catch {
            return failure(operation, number: number, location: unresolvedLocation(operation, baseURL: baseURL), error: error, logger: logger)
        }
        return await perform(resolved, number: number, baseURL: baseURL, logger: logger)
    }

    /// Runs an operation whose references are resolved.
    private func perform(_ operation: BulkOperation, number: Int, baseURL: String, logger: Logger) async -> Outcome {
        guard let method = operation.method else {
            return failure(operation, number: number, location: nil, error: .invalidSyntax("Operation \(number) has no method"), logger: logger)
        }
        let target: BulkTarget
        do {
            target = try BulkTarget(path: operation.path, method: method)
        } catch {
            return failure(operation, number: number, location: unresolvedLocation(operation, baseURL: baseURL), error: error, logger: logger)
        }
        let endpoint = baseURL + ResourceType.of(target.kind).endpoint
        let location = target.id.map { endpoint + "/" + $0 }
        do {
            switch (method, target.id) {
            case (.post, _):
                let resource = try await service.create(target.kind, body: operation.data ?? .null)
                return Outcome(success(operation, resource: resource, baseURL: baseURL, status: 201), createdID: resource.id)
            case (.put, let id?):
                let resource = try await service.replace(target.kind, id: id, body: operation.data ?? .null, ifMatch: operation.version)
                return Outcome(success(operation, resource: resource, baseURL: baseURL, status: 200))
            case (.patch, let id?):
                let resource = try await service.patch(target.kind, id: id, body: operation.data ?? .null, ifMatch: operation.version)
                return Outcome(success(operation, resource: resource, baseURL: baseURL, status: 200))
            case (.delete, let id?):
                try await service.delete(target.kind, id: id, ifMatch: operation.version)
                return Outcome(
                    BulkOperationResult(method: operation.methodName, bulkId: operation.bulkId, location: location, version: nil, status: 204))
            default:
                throw SCIMError(status: 405, detail: "\(method.rawValue) needs a resource path")
            }
        } catch let error as SCIMError {
            return failure(operation, number: number, location: location, error: error, logger: logger)
        } catch let error as StoreError where error.isSchemaTooNew {
            logger.error("database schema too new", metadata: ["error": "\(error)"])
            let scimError = SCIMError(status: 503, detail: "The server's database is not usable by this version")
            return failure(operation, number: number, location: location, error: scimError, logger: logger)
        } catch {
            logger.error("bulk operation failed", metadata: ["operation": "\(number)", "error": "\(error)"])
            let scimError = SCIMError(status: 500, detail: "Internal error; the server log has the cause")
            return failure(operation, number: number, location: location, error: scimError, logger: logger)
        }
    }

    private func success(_ operation: BulkOperation, resource: Resource, baseURL: String, status: Int) -> BulkOperationResult {
        BulkOperationResult(
            method: operation.methodName, bulkId: operation.bulkId, location: resource.location(baseURL: baseURL), version: resource.etag,
            status: status)
    }

    /// A failed operation's result, logged with what the client is told (never the data it sent).
    private func failure(
        _ operation: BulkOperation, number: Int, location: String?, error: SCIMError, logger: Logger
    ) -> Outcome {
        var metadata: Logger.Metadata = [
            "operation": "\(number)", "method": "\(operation.methodName)", "path": "\(operation.path)", "status": "\(error.status)",
            "detail": "\(error.detail)",
        ]
        if let bulkId = operation.bulkId { metadata["bulkId"] = "\(bulkId)" }
        logger.info("bulk operation failed", metadata: metadata)
        // RFC 7644 §3.7.3: every operation but a failed POST has a location.
        return Outcome(.failure(operation, location: operation.method == .post ? nil : location, error: error))
    }

    /// The URL an operation's path names, before or without resolving it.
    private func unresolvedLocation(_ operation: BulkOperation, baseURL: String) -> String? {
        guard operation.method != .post, !operation.path.isEmpty else { return nil }
        return baseURL + (operation.path.hasPrefix("/") ? "" : "/") + operation.path
    }

    // MARK: Independent POSTs together

    /// The operations from `position` in the plan's order that may run together: POSTs without a
    /// malformation, without a reference to a POST among them, and without a userName or group
    /// displayName that another of them has (which one of two such POSTs wins must not depend on
    /// timing). With `failOnErrors` everything runs one by one, so that nothing runs past the limit.
    private func independentPOSTs(from position: Int, plan: BulkPlan, operations: [BulkOperation], failOnErrors: Int?) -> [Int] {
        guard failOnErrors == nil else { return [plan.order[position]] }
        var batch: [Int] = []
        var keys: Set<String> = []
        for index in plan.order[position...] {
            let operation = operations[index]
            guard batch.count < Self.maximumConcurrentWrites * 8, operation.method == .post, operation.error == nil else { break }
            if let bulkId = operation.bulkId, plan.creations[bulkId] != index { break }
            // A POST with references runs alone, once what it references has run.
            if !plan.references[index].isEmpty { break }
            guard let key = Self.uniquenessKey(operation) else { break }
            guard keys.insert(key).inserted else { break }
            batch.append(index)
        }
        return batch.isEmpty ? [plan.order[position]] : batch
    }

    /// The key the store keeps unique for what a POST creates: the endpoint and the case-folded
    /// userName or displayName. Nil when the path or the name is not there (the POST then fails on its own,
    /// and runs alone).
    private static func uniquenessKey(_ operation: BulkOperation) -> String? {
        guard let method = operation.method, let target = try? BulkTarget(path: operation.path, method: method),
            case .object(let data)? = operation.data
        else { return nil }
        let attribute = target.kind == .user ? "userName" : "displayName"
        guard case .string(let name)? = data.value(named: attribute) else { return nil }
        return target.kind.rawValue + ":" + name.lowercased()
    }

    /// Runs POSTs without references, at most `maximumConcurrentWrites` at a time; the results come
    /// back by index.
    private func runConcurrently(
        _ operations: [(index: Int, operation: BulkOperation)], baseURL: String, logger: Logger
    ) async -> [(Int, Outcome)] {
        await withTaskGroup(of: (Int, Outcome).self) { group in
            var results: [(Int, Outcome)] = []
            results.reserveCapacity(operations.count)
            var next = 0
            while true {
                // Keep up to `maximumConcurrentWrites` running; then take the next result.
                while next < operations.count, next - results.count < Self.maximumConcurrentWrites {
                    let (index, operation) = operations[next]
                    next += 1
                    group.addTask { (index, await perform(operation, number: index + 1, baseURL: baseURL, logger: logger)) }
                }
                guard let result = await group.next() else { break }
                results.append(result)
            }
            return results
        }
    }
}
