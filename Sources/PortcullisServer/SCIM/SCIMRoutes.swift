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
        group.get("Me") { _, _ -> Response in
            throw SCIMError(status: 501, detail: "/Me is not supported: Portcullis tokens belong to identity providers, not to users")
        }
        // Everything else under the base path is a SCIM 404, not Hummingbird's plain one.
        group.on("**", method: .get) { _, _ -> Response in throw HTTPError(.notFound) }
        for method in [HTTPRequest.Method.post, .put, .patch, .delete] {
            group.on("**", method: method) { _, _ -> Response in throw HTTPError(.notFound) }
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
            registerMethodNotAllowed(path, methods: [.post, .put, .patch, .delete], on: group)
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
        group.post(RouterPath(stringLiteral: endpoint)) { request, _ in
            var request = request
            let body = try await request.scimJSONBody(limit: SCIMService.maximumPayloadSize)
            let resource = try await service.create(kind, body: body)
            return try respond(with: resource, to: request, status: .created)
        }
        group.get(RouterPath(stringLiteral: endpoint + "/:id")) { request, context in
            let resource = try await service.get(kind, id: try context.parameters.require("id"))
            if let ifNoneMatch = request.headers[.ifNoneMatch], ifNoneMatch.split(separator: ",").contains(where: {
                String($0).trimmingWhitespace == resource.etag || String($0).trimmingWhitespace == "*"
            }) {
                return Response(status: .notModified, headers: [.eTag: resource.etag])
            }
            return try respond(with: resource, to: request, status: .ok)
        }
        group.put(RouterPath(stringLiteral: endpoint + "/:id")) { request, context in
            var request = request
            let body = try await request.scimJSONBody(limit: SCIMService.maximumPayloadSize)
            let resource = try await service.replace(
                kind, id: try context.parameters.require("id"), body: body, ifMatch: request.headers[.ifMatch])
            return try respond(with: resource, to: request, status: .ok)
        }
        group.patch(RouterPath(stringLiteral: endpoint + "/:id")) { request, context in
            var request = request
            let body = try await request.scimJSONBody(limit: SCIMService.maximumPayloadSize)
            let resource = try await service.patch(
                kind, id: try context.parameters.require("id"), body: body, ifMatch: request.headers[.ifMatch])
            return try respond(with: resource, to: request, status: .ok)
        }
        group.delete(RouterPath(stringLiteral: endpoint + "/:id")) { request, context in
            try await service.delete(kind, id: try context.parameters.require("id"), ifMatch: request.headers[.ifMatch])
            return SCIMResponse.noContent()
        }
        registerMethodNotAllowed(endpoint, methods: [.put, .patch, .delete], on: group)
        registerMethodNotAllowed(endpoint + "/:id", methods: [.post], on: group)
    }

    private func registerMethodNotAllowed(_ path: String, methods: [HTTPRequest.Method], on group: RouterGroup<PortcullisRequestContext>) {
        for method in methods {
            group.on(RouterPath(stringLiteral: path), method: method) { request, _ -> Response in
                throw SCIMError(status: 405, detail: "\(request.method.rawValue) is not allowed on \(request.uri.path)")
            }
        }
    }

    private func search(_ kinds: [ResourceType.Kind], request: Request) async throws -> Response {
        var request = request
        let body = try await request.scimJSONBody(limit: SCIMService.maximumPayloadSize)
        let query = try ListQuery(searchRequest: body)
        return SCIMResponse.json(try await service.list(kinds, query: query, baseURL: request.scimBaseURL))
    }

    /// A resource response with `attributes`/`excludedAttributes` applied, its ETag, and on create its Location.
    private func respond(with resource: Resource, to request: Request, status: HTTPResponse.Status) throws -> Response {
        let query = try ListQuery(queryParameters: request.decodedQueryParameters)
        let type = resource.resourceType
        let selection = try AttributeSelection(attributes: query.attributes, excludedAttributes: query.excludedAttributes, for: type)
        let baseURL = request.scimBaseURL
        var headers: HTTPFields = [.eTag: resource.etag]
        if status == .created {
            headers[.location] = resource.location(baseURL: baseURL)
        }
        let body = selection.apply(to: resource.representation(baseURL: baseURL), resourceType: type)
        return SCIMResponse.json(.object(body), status: status, headers: headers)
    }
}
