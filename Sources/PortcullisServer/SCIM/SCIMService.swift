import Reconciler
import SCIM
import Store

/// The SCIM operations on users and groups: validation and PATCH semantics from `SCIM`, storage from
/// `Store`. Routes translate HTTP to these calls and back.
///
/// After each write commits, the users whose access it may change go to the reconciler, and the call
/// returns only once their revocations are applied: the identity provider's answer comes after the
/// access is gone.
struct SCIMService: Sendable {
    let store: Store
    let reconciler: Reconciler?
    /// Announces enrollment links for new users (and route changes) when automatic enrollment is on.
    let enrollments: EnrollmentService?

    init(store: Store, reconciler: Reconciler? = nil, enrollments: EnrollmentService? = nil) {
        self.store = store
        self.reconciler = reconciler
        self.enrollments = enrollments
    }

    /// Results per page when the client does not say.
    static let defaultPageSize = 100
    /// The most results one page may hold (advertised as `filter.maxResults`).
    static let maximumPageSize = 1000
    /// The largest request body accepted (advertised as `bulk.maxPayloadSize`).
    static let maximumPayloadSize = 1_048_576

    func create(_ kind: ResourceType.Kind, body: JSON) async throws -> Resource {
        let attributes = try ResourceNormalizer(.of(kind)).normalize(body)
        // A new group's members may gain routes; a new user is announced as provisioned instead.
        let routes = kind == .group ? await routesBefore(kind, id: nil, users: [], body: body) : [:]
        let resource = try await store.create(kind, attributes: attributes)
        // A new user has no devices yet, so nothing on the gateway to change: only a new group (whose
        // members may gain access) goes to the reconciler, and a user's create does not wait behind
        // a synchronisation that holds it.
        if kind == .group { await reconcile(kind, id: resource.id, before: []) }
        if kind == .user, let enrollments {
            await enrollments.announce("user.provisioned", user: resource)
        }
        await enrollments?.announceRouteChanges(before: routes)
        return resource
    }

    func get(_ kind: ResourceType.Kind, id: String) async throws -> Resource {
        guard let resource = try await store.resource(kind, id: id) else {
            throw SCIMError.notFound("\(kind.rawValue) \(id) not found")
        }
        return resource
    }

    func replace(_ kind: ResourceType.Kind, id: String, body: JSON, ifMatch: String?) async throws -> Resource {
        let attributes = try ResourceNormalizer(.of(kind)).normalize(body)
        let before = try await affectedUsers(kind, id: id)
        let routes = await routesBefore(kind, id: id, users: before, body: body)
        let resource = try await store.replace(kind, id: id, attributes: attributes, ifMatch: ifMatch)
        await reconcile(kind, id: id, before: before)
        await enrollments?.announceRouteChanges(before: routes)
        return resource
    }

    func patch(_ kind: ResourceType.Kind, id: String, body: JSON, ifMatch: String?) async throws -> Resource {
        let operations = try PatchOperation.parseRequest(body)
        let engine = PatchEngine(.of(kind))
        let before = try await affectedUsers(kind, id: id)
        let routes = await routesBefore(kind, id: id, users: before, body: body)
        let resource = try await store.modify(kind, id: id, ifMatch: ifMatch) { current in
            try engine.apply(operations, to: current.attributes)
        }
        await reconcile(kind, id: id, before: before)
        await enrollments?.announceRouteChanges(before: routes)
        return resource
    }

    func delete(_ kind: ResourceType.Kind, id: String, ifMatch: String?) async throws {
        let before = try await affectedUsers(kind, id: id)
        let routes = kind == .group ? await routesBefore(kind, id: id, users: before, body: nil) : [:]
        try await store.delete(kind, id: id, ifMatch: ifMatch)
        await reconcile(kind, id: id, before: before)
        await enrollments?.announceRouteChanges(before: routes)
    }

    /// The routes of the users a write may affect, when route changes are announced: the user, or the
    /// group's members now and every id the request names as a member value (users it adds).
    private func routesBefore(_ kind: ResourceType.Kind, id: String?, users: Set<String>, body: JSON?) async -> [String: [String]] {
        guard let enrollments, enrollments.watchesRoutes else { return [:] }
        var candidates = users
        if reconciler == nil, let id {
            candidates = kind == .user ? [id] : (try? await store.usersUnder(group: id)) ?? []
        }
        if kind == .group, let body { Self.collectValues(body, into: &candidates) }
        return await enrollments.routes(of: candidates)
    }

    /// Every string under a "value" key, at any depth (member ids in a group PUT or PATCH).
    private static func collectValues(_ json: JSON, into values: inout Set<String>) {
        switch json {
        case .object(let object):
            for member in object {
                if member.key.lowercased() == "value", case .string(let text) = member.value { values.insert(text) }
                collectValues(member.value, into: &values)
            }
        case .array(let items):
            for item in items { collectValues(item, into: &values) }
        default:
            break
        }
    }

    /// The users whose access a change to this resource can change: the user, or everyone in the
    /// group (nested groups included).
    private func affectedUsers(_ kind: ResourceType.Kind, id: String) async throws -> Set<String> {
        guard reconciler != nil else { return [] }
        return kind == .user ? [id] : try await store.usersUnder(group: id)
    }

    /// Hands the users affected before and after a write to the reconciler and waits for it.
    private func reconcile(_ kind: ResourceType.Kind, id: String, before: Set<String>) async {
        guard let reconciler else { return }
        let after = (try? await affectedUsers(kind, id: id)) ?? []
        await reconciler.usersChanged(before.union(after))
    }

    /// How one kind of resource takes part in a list or search.
    private typealias ListPlan = (kind: ResourceType.Kind, filter: ResourceFilter?, sorter: ResourceSorter?, selection: AttributeSelection)

    /// One page of the resources of the given kinds that match the query; several kinds are listed one
    /// after the other (a search at the service root), or in one order when sorted. A filter naming an
    /// attribute that only some of the kinds have matches nothing of the others.
    func list(_ kinds: [ResourceType.Kind], query: ListQuery, baseURL: String) async throws -> JSON {
        let count = min(query.count ?? Self.defaultPageSize, Self.maximumPageSize)
        var plans: [ListPlan] = []
        var firstFilterError: FilterError?
        for kind in kinds {
            let type = ResourceType.of(kind)
            var filter: ResourceFilter?
            if let text = query.filter, !text.trimmingWhitespace.isEmpty {
                do {
                    filter = try ResourceFilter(parsing: text, for: type)
                } catch {
                    firstFilterError = firstFilterError ?? error
                    continue
                }
            }
            var sorter: ResourceSorter?
            if let sortBy = query.sortBy, kinds.count == 1 || ResourceSorter.canSort(sortBy, for: type) {
                sorter = try ResourceSorter(sortBy: sortBy, order: query.sortOrder, for: type)
            }
            let selection = try AttributeSelection(attributes: query.attributes, excludedAttributes: query.excludedAttributes, for: type)
            plans.append((kind, filter, sorter, selection))
        }
        if plans.isEmpty, let firstFilterError {
            throw firstFilterError.scimError
        }
        if plans.count > 1, let sorter = plans.lazy.compactMap(\.sorter).first {
            return try await mergedList(plans, sortedBy: sorter, query: query, count: count, baseURL: baseURL)
        }
        var total = 0
        var resources: [JSON] = []
        var skip = query.startIndex - 1
        for plan in plans {
            let wanted = max(0, count - resources.count)
            let page = try await store.list(
                plan.kind, filter: plan.filter, sorter: plan.sorter, startIndex: skip + 1, count: wanted, baseURL: baseURL)
            total += page.totalResults
            skip = max(0, skip - page.totalResults)
            let type = ResourceType.of(plan.kind)
            resources += page.resources.map { .object(plan.selection.apply(to: $0.representation(baseURL: baseURL), resourceType: type)) }
        }
        return ListResponse.json(resources: resources, totalResults: total, startIndex: query.startIndex)
    }

    /// A sorted page across several kinds (RFC 7644 §3.4.2.3 orders the whole result, not each kind):
    /// the first `startIndex - 1 + count` of each kind, merged in sort order, then paged. Equal keys,
    /// and resources of a kind that cannot be sorted by the attribute, keep the kinds' order.
    private func mergedList(
        _ plans: [ListPlan], sortedBy sorter: ResourceSorter, query: ListQuery, count: Int, baseURL: String
    ) async throws -> JSON {
        let skip = query.startIndex - 1
        let needed = skip > Int.max - count ? Int.max : skip + count
        var total = 0
        var entries: [(key: JSON?, resource: JSON)] = []
        for plan in plans {
            let page = try await store.list(
                plan.kind, filter: plan.filter, sorter: plan.sorter, startIndex: 1, count: needed, baseURL: baseURL)
            total += page.totalResults
            let type = ResourceType.of(plan.kind)
            for resource in page.resources {
                let representation = resource.representation(baseURL: baseURL)
                let selected = plan.selection.apply(to: representation, resourceType: type)
                entries.append((plan.sorter?.key(for: representation), .object(selected)))
            }
        }
        let ordered = entries.enumerated().sorted { lhs, rhs in
            if sorter.precedes(lhs.element.key, rhs.element.key) { return true }
            if sorter.precedes(rhs.element.key, lhs.element.key) { return false }
            return lhs.offset < rhs.offset
        }
        let resources = ordered.dropFirst(skip).prefix(count).map(\.element.resource)
        return ListResponse.json(resources: Array(resources), totalResults: total, startIndex: query.startIndex)
    }
}

extension String {
    var trimmingWhitespace: Substring {
        var slice = Substring(self)
        while let first = slice.first, first.isWhitespace { slice.removeFirst() }
        while let last = slice.last, last.isWhitespace { slice.removeLast() }
        return slice
    }
}
