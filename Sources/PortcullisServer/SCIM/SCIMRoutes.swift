import Hummingbird
import SCIM
import Store

/// The SCIM 2.0 endpoints under `/scim/v2` (RFC 7644 §3.2).
struct SCIMRoutes {
    static let basePath = "/scim/v2"

    let service: SCIMService

    func register(on router: Router<PortcullisRequestContext>) {
        let group = router.group(RouterPath(stringLiteral: Self.basePath))
            .add(middleware: SCIMErrorMiddleware())
            .add(middleware: BearerAuthMiddleware(store: service.store, scope: .scim))

        registerDiscovery(on: group)
        for kind in [ResourceType.Kind.user, .group] {
            registerResources(kind, on: group)
        }
        group.post(".search") { request, context in
            try await search([.user, .group], request: request)
        }
        let bulk = BulkService(service: service)
        group.post("Bulk") { request, context in
            try await bulk.handle(request, context: context)
        }
        registerMethodNotAllowed("Bulk", methods: [.get, .put, .patch, .delete], allowed: [.post], on: group)
        group.get("Me") { _, _ -> Response in
            throw SCIMError(status: 501, detail: "/Me is not supported: Portcullis tokens belong to identity providers, not to users")
        }
        // Everything else under the base path, and the base path itself, is a SCIM 404, not Hummingbird's plain one.
        for path: RouterPath in ["", "**"] {
            for method in [HTTPRequest.Method.get, .post, .put, .patch, .delete] {
                group.on(path, method: method) { _, _ -> Response in throw HTTPError(.notFound) }
            }
        }
    }

    private func registerDiscovery(on group: RouterGroup<PortcullisRequestContext>) {
        group.get("ServiceProviderConfig") { request, _ in
            SCIMResponse.json(DiscoveryDocuments.serviceProviderConfig(baseURL: request.scimBaseURL))
        }
        group.get("ResourceTypes") { request, _ in
            let documents = DiscoveryDocuments.resourceTypes(baseURL: request.scimBaseURL)
            return SCIMResponse.json(ListResponse.json(resources: documents, totalResults: documents.count, startIndex: 1))
        }
        group.get("ResourceTypes/:id") { request, context in
            let id = try context.parameters.require("id")
            guard let document = DiscoveryDocuments.resourceType(id: id, baseURL: request.scimBaseURL) else {
                throw SCIMError.notFound("No resource type '\(id)'")
            }
            return SCIMResponse.json(document)
        }
        group.get("Schemas") { request, _ in
            let documents = DiscoveryDocuments.schemaDocuments(baseURL: request.scimBaseURL)
            return SCIMResponse.json(ListResponse.json(resources: documents, totalResults: documents.count, startIndex: 1))
        }
        group.get("Schemas/:id") { request, context in
            let id = try context.parameters.require("id")
            guard let document = DiscoveryDocuments.schema(id: id, baseURL: request.scimBaseURL) else {
                throw SCIMError.notFound("No schema '\(id)'")
            }
            return SCIMResponse.json(document)
        }
        for path in ["ServiceProviderConfig", "ResourceTypes", "ResourceTypes/:id", "Schemas", "Schemas/:id"] {
            registerMethodNotAllowed(path, methods: [.post, .put, .patch, .delete], allowed: [.get], on: group)
        }
    }

    private func registerResources(_ kind: ResourceType.Kind, on group: RouterGroup<PortcullisRequestContext>) {
        let endpoint = String(ResourceType.of(kind).endpoint.dropFirst())
        group.get(RouterPath(stringLiteral: endpoint)) { request, _ in
            let query = try ListQuery(queryParameters: request.decodedQueryParameters)
            return SCIMResponse.json(try await service.list([kind], query: query, baseURL: request.scimBaseURL))
        }
        group.post(RouterPath(stringLiteral: endpoint + "/.search")) { request, _ in
            try await search([kind], request: request)
        }
        // The attribute selection is read before anything is written, so that a bad `attributes`
        // parameter fails the request without the change having happened.
        group.post(RouterPath(stringLiteral: endpoint)) { request, _ in
            let selection = try Self.selection(of: request, for: kind)
            var request = request
            let body = try await request.scimJSONBody(limit: SCIMService.maximumPayloadSize)
            let resource = try await service.create(kind, body: body)
            return respond(with: resource, selection: selection, to: request, status: .created)
        }
        group.get(RouterPath(stringLiteral: endpoint + "/:id")) { request, context in
            let selection = try Self.selection(of: request, for: kind)
            let resource = try await service.get(kind, id: try context.parameters.require("id"))
            if let ifNoneMatch = request.headers[.ifNoneMatch], Self.ifNoneMatch(ifNoneMatch, matches: resource.etag) {
                return Response(status: .notModified, headers: [.eTag: resource.etag])
            }
            return respond(with: resource, selection: selection, to: request, status: .ok)
        }
        group.put(RouterPath(stringLiteral: endpoint + "/:id")) { request, context in
            let selection = try Self.selection(of: request, for: kind)
            var request = request
            let body = try await request.scimJSONBody(limit: SCIMService.maximumPayloadSize)
            let resource = try await service.replace(
                kind, id: try context.parameters.require("id"), body: body, ifMatch: request.headers[.ifMatch])
            return respond(with: resource, selection: selection, to: request, status: .ok)
        }
        group.patch(RouterPath(stringLiteral: endpoint + "/:id")) { request, context in
            let selection = try Self.selection(of: request, for: kind)
            var request = request
            let body = try await request.scimJSONBody(limit: SCIMService.maximumPayloadSize)
            let resource = try await service.patch(
                kind, id: try context.parameters.require("id"), body: body, ifMatch: request.headers[.ifMatch])
            return respond(with: resource, selection: selection, to: request, status: .ok)
        }
        group.delete(RouterPath(stringLiteral: endpoint + "/:id")) { request, context in
            try await service.delete(kind, id: try context.parameters.require("id"), ifMatch: request.headers[.ifMatch])
            return SCIMResponse.noContent()
        }
        registerMethodNotAllowed(endpoint, methods: [.put, .patch, .delete], allowed: [.get, .post], on: group)
        registerMethodNotAllowed(endpoint + "/:id", methods: [.post], allowed: [.get, .put, .patch, .delete], on: group)
    }

    /// Answers `methods` on `path` with a SCIM 405 whose `Allow` lists the methods the path has (RFC 9110 §15.5.6).
    private func registerMethodNotAllowed(
        _ path: String, methods: [HTTPRequest.Method], allowed: [HTTPRequest.Method], on group: RouterGroup<PortcullisRequestContext>
    ) {
        let allow = allowed.map(\.rawValue).joined(separator: ", ")
        for method in methods {
            group.on(RouterPath(stringLiteral: path), method: method) { request, _ -> Response in
                throw SCIMErrorResponse(
                    SCIMError(status: 405, detail: "\(request.method.rawValue) is not allowed on \(request.uri.path); use \(allow)"),
                    headers: [.allow: allow])
            }
        }
    }

    /// Whether an `If-None-Match` value names `etag` or is `*`. The comparison is the weak one
    /// (RFC 9110 §13.1.2): `W/"3"` and `"3"` name the same version.
    static func ifNoneMatch(_ header: String, matches etag: String) -> Bool {
        func opaqueTag(_ tag: Substring) -> Substring {
            let trimmed = String(tag).trimmingWhitespace
            return trimmed.hasPrefix("W/") ? trimmed.dropFirst(2) : trimmed
        }
        let current = opaqueTag(Substring(etag))
        return header.split(separator: ",").contains { tag in
            String(tag).trimmingWhitespace == "*" || opaqueTag(tag) == current
        }
    }

    private func search(_ kinds: [ResourceType.Kind], request: Request) async throws -> Response {
        var request = request
        let body = try await request.scimJSONBody(limit: SCIMService.maximumPayloadSize)
        let query = try ListQuery(searchRequest: body)
        return SCIMResponse.json(try await service.list(kinds, query: query, baseURL: request.scimBaseURL))
    }

    /// The `attributes`/`excludedAttributes` of a request on one resource (RFC 7644 §3.9). The list
    /// parameters (`filter`, `count`, …) mean nothing there and are ignored like unknown ones.
    private static func selection(of request: Request, for kind: ResourceType.Kind) throws -> AttributeSelection {
        let parameters = request.decodedQueryParameters.filter { name, _ in
            ["attributes", "excludedattributes"].contains(name.lowercased())
        }
        let query = try ListQuery(queryParameters: parameters)
        return try AttributeSelection(attributes: query.attributes, excludedAttributes: query.excludedAttributes, for: .of(kind))
    }

    /// A resource response with the attribute selection applied, its ETag, and on create its Location.
    private func respond(
        with resource: Resource, selection: AttributeSelection, to request: Request, status: HTTPResponse.Status
    ) -> Response {
        let type = resource.resourceType
        let baseURL = request.scimBaseURL
        var headers: HTTPFields = [.eTag: resource.etag]
        if status == .created {
            headers[.location] = resource.location(baseURL: baseURL)
        }
        let body = selection.apply(to: resource.representation(baseURL: baseURL), resourceType: type)
        return SCIMResponse.json(.object(body), status: status, headers: headers)
    }
}
