import SCIM
import Store

/// The SCIM operations on users and groups: validation and PATCH semantics from `SCIM`, storage from
/// `Store`. Routes translate HTTP to these calls and back.
struct SCIMService: Sendable {
    let store: Store

    /// Results per page when the client does not say.
    static let defaultPageSize = 100
    /// The most results one page may hold (advertised as `filter.maxResults`).
    static let maximumPageSize = 1000
    /// The largest request body accepted (advertised as `bulk.maxPayloadSize`).
    static let maximumPayloadSize = 1_048_576

    func create(_ kind: ResourceType.Kind, body: JSON) async throws -> Resource {
        let attributes = try ResourceNormalizer(.of(kind)).normalize(body)
        return try await store.create(kind, attributes: attributes)
    }

    func get(_ kind: ResourceType.Kind, id: String) async throws -> Resource {
        guard let resource = try await store.resource(kind, id: id) else {
            throw SCIMError.notFound("\(kind.rawValue) \(id) not found")
        }
        return resource
    }

    func replace(_ kind: ResourceType.Kind, id: String, body: JSON, ifMatch: String?) async throws -> Resource {
        let attributes = try ResourceNormalizer(.of(kind)).normalize(body)
        return try await store.replace(kind, id: id, attributes: attributes, ifMatch: ifMatch)
    }

    func patch(_ kind: ResourceType.Kind, id: String, body: JSON, ifMatch: String?) async throws -> Resource {
        let operations = try PatchOperation.parseRequest(body)
        let engine = PatchEngine(.of(kind))
        return try await store.modify(kind, id: id, ifMatch: ifMatch) { current in
            try engine.apply(operations, to: current.attributes)
        }
    }

    func delete(_ kind: ResourceType.Kind, id: String, ifMatch: String?) async throws {
        try await store.delete(kind, id: id, ifMatch: ifMatch)
    }

    /// One page of the resources of the given kinds that match the query; several kinds are listed one
    /// after the other (a search at the service root). A filter naming an attribute that only some of the
    /// kinds have matches nothing of the others.
    func list(_ kinds: [ResourceType.Kind], query: ListQuery, baseURL: String) async throws -> JSON {
        let count = min(query.count ?? Self.defaultPageSize, Self.maximumPageSize)
        var plans: [(kind: ResourceType.Kind, filter: ResourceFilter?, sorter: ResourceSorter?, selection: AttributeSelection)] = []
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
}

extension String {
    var trimmingWhitespace: Substring {
        var slice = Substring(self)
        while let first = slice.first, first.isWhitespace { slice.removeFirst() }
        while let last = slice.last, last.isWhitespace { slice.removeLast() }
        return slice
    }
}
