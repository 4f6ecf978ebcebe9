import Audit
import Hummingbird
import Reconciler
import SCIM
import Store

/// The audit API under `/api/v1/audit`: the log, paged (`?since&until&user&action&after&limit`), and
/// the access history (`/access?to=HOST[:PORT/PROTO]&at=T` or `/access?user=ID&from=T1&until=T2`),
/// as JSON or, with `format=csv` or `Accept: text/csv`, CSV. Times are RFC 3339.
struct AuditRoutes {
    let store: Store

    func register(on group: RouterGroup<PortcullisRequestContext>) {
        group.get("audit") { request, _ in try await log(request) }
        group.get("audit/access") { request, _ in try await access(request) }
        group.get("audit/report") { request, _ in try await report(request) }
    }

    private func log(_ request: Request) async throws -> Response {
        let parameters = Self.parameters(request)
        var query = AuditQuery(since: try Self.time(parameters, "since"), until: try Self.time(parameters, "until"), action: parameters["action"])
        query.userID = try await parameters["user"].asyncFlatMap { try await userID($0) }
        query.afterSeq = try Self.integer(parameters, "after") ?? 0
        query.limit = min(max(try Self.integer(parameters, "limit").map(Int.init) ?? 100, 1), 1000)
        let records = try await store.auditRecords(query)
        var body: JSONObject = ["records": .array(records.map(AuditDocuments.record))]
        body["next"] = records.count == query.limit ? records.last.map { .integer(Int($0.seq)) } ?? .null : .null
        return APIResponse.json(.object(body))
    }

    private func access(_ request: Request) async throws -> Response {
        let parameters = Self.parameters(request)
        let history = AccessHistory(store: store)
        let rows: [AccessRow]
        switch (parameters["to"], parameters["user"]) {
        case (let to?, nil):
            guard case .success(let target) = AccessTarget.parse(to) else {
                if case .failure(let error) = AccessTarget.parse(to) { throw APIErrorResponse(.badRequest, "'to': \(error)") }
                throw APIErrorResponse(.badRequest, "'to' is not a destination")
            }
            rows = try await history.whoCouldReach(target, at: try Self.time(parameters, "at") ?? Reconciler.now())
        case (nil, let user?):
            guard let from = try Self.time(parameters, "from") else { throw APIErrorResponse(.badRequest, "'user' needs 'from' (RFC 3339)") }
            let id = try await userID(user) ?? user
            rows = try await history.userAccess(userID: id, from: from, until: try Self.windowEnd(parameters))
        default:
            throw APIErrorResponse(.badRequest, "Give either 'to' (with 'at') or 'user' (with 'from' and 'until')")
        }
        if parameters["format"] == "csv" || (parameters["format"] == nil && request.headers[.accept]?.contains("text/csv") == true) {
            return Response(
                status: .ok, headers: [.contentType: "text/csv; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: AuditDocuments.csv(rows))))
        }
        return APIResponse.json(["access": .array(rows.map(AuditDocuments.row))])
    }

    private func report(_ request: Request) async throws -> Response {
        let parameters = Self.parameters(request)
        guard let from = try Self.time(parameters, "from") else { throw APIErrorResponse(.badRequest, "'from' is required (RFC 3339)") }
        let report = try await AuditReport.build(store: store, from: from, until: try Self.windowEnd(parameters))
        switch parameters["format"] ?? "json" {
        case "json": return APIResponse.json(AuditDocuments.report(report))
        case "csv":
            return Response(status: .ok, headers: [.contentType: "text/csv; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: AuditDocuments.reportCSV(report))))
        case "md":
            return Response(
                status: .ok, headers: [.contentType: "text/markdown; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: AuditDocuments.reportMarkdown(report))))
        default: throw APIErrorResponse(.badRequest, "'format' must be json, csv or md")
        }
    }

    /// A user id from an id or userName (deleted users through the audit log).
    private func userID(_ text: String) async throws -> String? {
        if try await store.resource(.user, id: text) != nil { return text }
        if let entry = try await store.directory().first(where: { $0.user.attributes["userName"]?.stringValue?.lowercased() == text.lowercased() }) {
            return entry.user.id
        }
        return try await store.auditedUserID(userName: text) ?? text
    }

    private static func parameters(_ request: Request) -> [String: String] {
        Dictionary(request.decodedQueryParameters, uniquingKeysWith: { _, last in last })
    }

    private static func time(_ parameters: [String: String], _ name: String) throws -> Int64? {
        guard let text = parameters[name] else { return nil }
        guard let value = SCIMDateTime.parse(text) else {
            throw APIErrorResponse(.badRequest, "'\(name)' must be an RFC 3339 time such as 2027-03-01T09:00:00Z, not '\(text)'")
        }
        return value
    }

    /// `until`, or else the end of the present millisecond: windows end before `until`, and
    /// without one they hold everything recorded so far, this millisecond's records included.
    private static func windowEnd(_ parameters: [String: String]) throws -> Int64 {
        try time(parameters, "until") ?? Reconciler.now() + 1
    }

    private static func integer(_ parameters: [String: String], _ name: String) throws -> Int64? {
        guard let text = parameters[name] else { return nil }
        guard let value = Int64(text), value >= 0 else { throw APIErrorResponse(.badRequest, "'\(name)' must be a whole number, not '\(text)'") }
        return value
    }
}

extension Optional {
    func asyncFlatMap<T>(_ transform: (Wrapped) async throws -> T?) async rethrows -> T? {
        guard let self else { return nil }
        return try await transform(self)
    }
}
