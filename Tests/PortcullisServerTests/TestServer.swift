import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import PortcullisServer
import SCIM
import Store
import Testing

// Shared helpers of the HTTP tests: a server on a fresh SQLite store per test, a client that speaks
// SCIM to it through `app.test(.router)`, and checks for the shapes RFC 7644 prescribes.

/// The SCIM service root (RFC 7644 §3.2) as Portcullis serves it.
let scimBasePath = "/scim/v2"

/// The base URL responses use in the router tests: Hummingbird's test client sends `localhost` as the authority.
let scimBaseURL = "http://localhost/scim/v2"

enum URN {
    static let user = "urn:ietf:params:scim:schemas:core:2.0:User"
    static let group = "urn:ietf:params:scim:schemas:core:2.0:Group"
    static let enterpriseUser = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
    static let listResponse = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
    static let searchRequest = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
    static let patchOp = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
    static let error = "urn:ietf:params:scim:api:messages:2.0:Error"
    static let serviceProviderConfig = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
    static let resourceType = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
    static let schema = "urn:ietf:params:scim:schemas:core:2.0:Schema"
    /// The extension Microsoft Entra ID sends with every user; Portcullis does not serve it.
    static let entraExtension = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/User"
}

/// Runs `body` against a server on its own SQLite store, in a temporary folder removed afterwards.
enum TestServer {
    static func run<Value: Sendable>(_ body: @Sendable (SCIMTestClient) async throws -> Value) async throws -> Value {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("portcullis-server-tests-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try Store(directory: directory)
        let token = try store.createToken(name: "test-idp", scope: .scim)
        let logger = Logger(label: "portcullis-server-tests") { _ in SwiftLogNoOpLogHandler() }
        let app = Application(router: buildRouter(store: store), logger: logger)
        return try await app.test(.router) { client in
            try await body(SCIMTestClient(client: client, store: store, token: token))
        }
    }
}

/// What a request presents in `Authorization`.
enum Credentials: Sendable {
    /// `Bearer <the test's SCIM token>`.
    case scimToken
    /// No `Authorization` header.
    case none
    /// This exact header value.
    case header(String)
}

/// A response, with its body read as text and, when it is JSON, parsed.
struct HTTPResult: Sendable {
    let status: HTTPResponse.Status
    let headers: HTTPFields
    let text: String
    /// The parsed body, or `.null` when the body is not JSON.
    let json: JSON

    init(_ response: TestResponse) {
        status = response.status
        headers = response.headers
        text = String(decoding: Array(response.body.readableBytesView), as: UTF8.self)
        json = (try? JSONParser.parse(text)) ?? .null
    }

    var code: Int { status.code }
    var contentType: String? { headers[.contentType] }
    /// The media type of `Content-Type` without parameters, lowercased.
    var mediaType: String? {
        contentType.map {
            String($0.split(separator: ";", omittingEmptySubsequences: false)[0]).trimmingCharacters(in: .whitespaces).lowercased()
        }
    }
    var etag: String? { headers[.eTag] }
    var location: String? { headers[.location] }

    /// `Resources` of a ListResponse.
    var resources: [JSON] { json.field("Resources")?.arrayValue ?? [] }
    /// The `id` of each of `Resources`, in order.
    var resourceIDs: [String] { resources.compactMap { $0.field("id")?.stringValue } }
    var totalResults: Int? { json.field("totalResults")?.intValue }
    var itemsPerPage: Int? { json.field("itemsPerPage")?.intValue }
    var id: String? { json.field("id")?.stringValue }
    var version: String? { json.field("meta")?.field("version")?.stringValue }
    var detail: String { json.field("detail")?.stringValue ?? "" }
}

/// Speaks SCIM to the router: bearer token, `application/scim+json` bodies, paths below `/scim/v2`.
struct SCIMTestClient: Sendable {
    let client: any TestClientProtocol
    let store: Store
    let token: String

    /// Sends a request to `uri` exactly as given (a path from the server root, with any query).
    func send(
        _ method: HTTPRequest.Method, uri: String, body: String? = nil, contentType: String? = "application/scim+json",
        headers extraHeaders: HTTPFields = [:], credentials: Credentials = .scimToken
    ) async throws -> HTTPResult {
        var headers = extraHeaders
        switch credentials {
        case .scimToken: headers[.authorization] = "Bearer \(token)"
        case .none: break
        case .header(let value): headers[.authorization] = value
        }
        if body != nil, let contentType {
            headers[.contentType] = contentType
        }
        let response = try await client.execute(uri: uri, method: method, headers: headers, body: body.map { ByteBuffer(string: $0) })
        return HTTPResult(response)
    }

    /// Sends a request to `path` below the SCIM base, e.g. `/Users?count=2`.
    func send(
        _ method: HTTPRequest.Method, _ path: String, body: String? = nil, contentType: String? = "application/scim+json",
        headers: HTTPFields = [:], credentials: Credentials = .scimToken
    ) async throws -> HTTPResult {
        try await send(
            method, uri: scimBasePath + path, body: body, contentType: contentType, headers: headers, credentials: credentials)
    }

    func get(_ path: String, headers: HTTPFields = [:]) async throws -> HTTPResult {
        try await send(.get, path, headers: headers)
    }

    func post(_ path: String, _ json: JSON, headers: HTTPFields = [:]) async throws -> HTTPResult {
        try await send(.post, path, body: json.jsonText, headers: headers)
    }

    func put(_ path: String, _ json: JSON, headers: HTTPFields = [:]) async throws -> HTTPResult {
        try await send(.put, path, body: json.jsonText, headers: headers)
    }

    /// PATCH with a PatchOp message holding `operations`.
    func patch(_ path: String, _ operations: [JSON], headers: HTTPFields = [:]) async throws -> HTTPResult {
        try await send(.patch, path, body: patchBody(operations).jsonText, headers: headers)
    }

    func delete(_ path: String, headers: HTTPFields = [:]) async throws -> HTTPResult {
        try await send(.delete, path, headers: headers)
    }

    /// GET on a list endpoint with these query parameters, percent-encoded.
    func list(_ endpoint: String, _ parameters: [(String, String)]) async throws -> HTTPResult {
        try await get(endpoint + queryString(parameters))
    }

    /// POST `.search` with a SearchRequest holding `members`.
    func search(_ endpoint: String, _ members: JSONObject) async throws -> HTTPResult {
        var request: JSONObject = ["schemas": [.string(URN.searchRequest)]]
        for member in members { request[member.key] = member.value }
        return try await post(endpoint + "/.search", .object(request))
    }

    /// Creates a user (expecting 201) and returns its representation.
    @discardableResult
    func createUser(_ userName: String, _ attributes: JSONObject = [:], sourceLocation: SourceLocation = #_sourceLocation) async throws
        -> JSON
    {
        var body: JSONObject = ["schemas": [.string(URN.user)], "userName": .string(userName)]
        for member in attributes { body[member.key] = member.value }
        let response = try await post("/Users", .object(body))
        try #require(
            response.status == .created, "creating user \(userName): \(response.code) \(response.text)", sourceLocation: sourceLocation)
        return response.json
    }

    /// Creates a group with these members (ids; users and groups alike) and returns its representation.
    @discardableResult
    func createGroup(
        _ displayName: String, members: [String] = [], _ attributes: JSONObject = [:], sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> JSON {
        var body: JSONObject = ["schemas": [.string(URN.group)], "displayName": .string(displayName)]
        if !members.isEmpty {
            body["members"] = .array(members.map { ["value": .string($0)] })
        }
        for member in attributes { body[member.key] = member.value }
        let response = try await post("/Groups", .object(body))
        try #require(
            response.status == .created, "creating group \(displayName): \(response.code) \(response.text)", sourceLocation: sourceLocation)
        return response.json
    }
}

/// A PatchOp message (RFC 7644 §3.5.2).
func patchBody(_ operations: [JSON]) -> JSON {
    ["schemas": [.string(URN.patchOp)], "Operations": .array(operations)]
}

/// One PATCH operation.
func operation(_ op: String, path: String? = nil, value: JSON? = nil) -> JSON {
    var object: JSONObject = ["op": .string(op)]
    if let path { object["path"] = .string(path) }
    if let value { object["value"] = value }
    return .object(object)
}

/// `?name=value&…`, each part percent-encoded (spaces as `%20`).
func queryString(_ parameters: [(String, String)]) -> String {
    guard !parameters.isEmpty else { return "" }
    return "?" + parameters.map { percentEncode($0.0) + "=" + percentEncode($0.1) }.joined(separator: "&")
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
func percentEncode(_ text: String) -> String {
    let allowed = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
    return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
}

/// Path to a resource by id, e.g. `/Users/<id>`.
func path(_ endpoint: String, _ resource: JSON) -> String {
    endpoint + "/" + (resource.field("id")?.stringValue ?? "<no id>")
}

extension JSON {
    /// The member `key` of an object, or nil.
    func field(_ key: String) -> JSON? {
        objectValue?[key]
    }

    /// Element `index` of an array, or nil.
    func item(_ index: Int) -> JSON? {
        guard let array = arrayValue, array.indices.contains(index) else { return nil }
        return array[index]
    }

    /// The keys of an object, or none.
    var keys: Set<String> {
        Set(objectValue?.keys ?? [])
    }

    var intValue: Int? {
        if case .integer(let value) = self { return value }
        return nil
    }

    /// The strings of an array of strings.
    var strings: [String] {
        arrayValue?.compactMap(\.stringValue) ?? []
    }

    /// The elements of an array whose `key` equals `value`.
    func elements(where key: String, is value: String) -> [JSON] {
        (arrayValue ?? []).filter { $0.field(key)?.stringValue == value }
    }
}

/// Checks that `response` is a SCIM error (RFC 7644 §3.12): this status, an `application/scim+json`
/// Error message whose `status` is the code as a string, a detail, and the given `scimType` if any.
func expectSCIMError(
    _ response: HTTPResult, status: Int, scimType: String? = nil, sourceLocation: SourceLocation = #_sourceLocation
) {
    #expect(response.code == status, "body: \(response.text)", sourceLocation: sourceLocation)
    #expect(response.mediaType == "application/scim+json", sourceLocation: sourceLocation)
    #expect(response.json.field("schemas")?.strings == [URN.error], "body: \(response.text)", sourceLocation: sourceLocation)
    #expect(response.json.field("status") == .string(String(status)), "body: \(response.text)", sourceLocation: sourceLocation)
    #expect(!response.detail.isEmpty, "body: \(response.text)", sourceLocation: sourceLocation)
    if let scimType {
        #expect(response.json.field("scimType")?.stringValue == scimType, "body: \(response.text)", sourceLocation: sourceLocation)
    }
}

/// Checks that `response` is a ListResponse (RFC 7644 §3.4.2) and returns its resources' ids.
@discardableResult
func expectListResponse(
    _ response: HTTPResult, totalResults: Int? = nil, sourceLocation: SourceLocation = #_sourceLocation
) -> [String] {
    #expect(response.status == .ok, "body: \(response.text)", sourceLocation: sourceLocation)
    #expect(response.mediaType == "application/scim+json", sourceLocation: sourceLocation)
    #expect(response.json.field("schemas")?.strings == [URN.listResponse], "body: \(response.text)", sourceLocation: sourceLocation)
    #expect(response.itemsPerPage == response.resources.count, sourceLocation: sourceLocation)
    if let totalResults {
        #expect(response.totalResults == totalResults, "body: \(response.text)", sourceLocation: sourceLocation)
    }
    return response.resourceIDs
}
