import Firewall
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import PortcullisServer
import Reconciler
import SCIM
import Store
import Testing
import WireGuard

/// `/api/v1/users/{id}/devices` and `/api/v1/devices/{id}`: issuing with and without the user's own
/// key, preshared keys, key lifetimes, refusals, revocation and rotation, applied to a dry-run gateway.
@Suite("Admin API: devices")
struct AdminDeviceTests {
    @Test func issuingWithoutAKeyGivesAPrivateKeyOnceAndStoresOnlyThePublicKey() async throws {
        try await GatewayTestServer.run { server in
            let user = try await server.createUser("ada")
            let response = try await server.api(.post, "/users/\(user)/devices", ["name": "laptop"])
            #expect(response.status == .created, "\(response.text)")
            let device = try #require(response.json.field("device"))
            let config = try #require(response.json.field("config")?.stringValue)
            let privateKeyText = try #require(configValue(config, "PrivateKey"))
            let privateKey = try #require(WireGuardKey(base64: privateKeyText))
            let publicKey = try WireGuardKeyPair(privateKey: privateKey).publicKey.base64
            #expect(device.field("publicKey")?.stringValue == publicKey)
            #expect(device.field("userId")?.stringValue == user)
            #expect(device.field("name") == "laptop")
            #expect(device.field("presharedKey") == false)
            #expect(device.field("expires") == .null)
            #expect(configValue(config, "PresharedKey") == nil)
            #expect(configValue(config, "PublicKey") == server.gatewayKey.publicKey.base64)
            #expect(configValue(config, "Endpoint") == "vpn.example.com:51820")

            let id = try #require(device.field("id")?.stringValue)
            let stored = try #require(try await server.store.device(id: id))
            #expect(stored.publicKey == publicKey)
            #expect(stored.presharedKey == nil)
            #expect(try server.dataFilesContain(privateKeyText) == false, "the private key must not reach the database")
            #expect(try server.wireGuardFile().contains("PublicKey = \(publicKey)"))

            let fetched = try await server.api(.get, "/devices/\(id)")
            #expect(fetched.status == .ok)
            #expect(fetched.json == device)
            #expect(!fetched.text.contains(privateKeyText))
        }
    }

    @Test func issuingWithTheUsersOwnKeyLeavesThePrivateKeyLineToThem() async throws {
        try await GatewayTestServer.run { server in
            let user = try await server.createUser("ada")
            let own = WireGuardKeyPair.generate()
            let response = try await server.api(.post, "/users/\(user)/devices", ["name": "phone", "publicKey": .string(own.publicKey.base64)])
            #expect(response.status == .created, "\(response.text)")
            let config = try #require(response.json.field("config")?.stringValue)
            #expect(configValue(config, "PrivateKey") == nil)
            #expect(config.contains("# PrivateKey = <the private key that matches the public key you registered>"))
            #expect(!config.contains(own.privateKey.base64))
            #expect(response.json.field("device")?.field("publicKey")?.stringValue == own.publicKey.base64)
            #expect(try server.wireGuardFile().contains("PublicKey = \(own.publicKey.base64)"))
        }
    }

    @Test func aPresharedKeyIsInTheConfigButNeverInTheDeviceDocument() async throws {
        try await GatewayTestServer.run { server in
            let user = try await server.createUser("ada")
            let response = try await server.api(.post, "/users/\(user)/devices", ["name": "laptop", "presharedKey": true])
            #expect(response.status == .created, "\(response.text)")
            let config = try #require(response.json.field("config")?.stringValue)
            let presharedKey = try #require(configValue(config, "PresharedKey"))
            #expect(WireGuardKey(base64: presharedKey) != nil)
            let device = try #require(response.json.field("device"))
            #expect(device.field("presharedKey") == true)
            let id = try #require(device.field("id")?.stringValue)
            #expect(try await server.store.device(id: id)?.presharedKey == presharedKey)
            let fetched = try await server.api(.get, "/devices/\(id)")
            #expect(!fetched.text.contains(presharedKey))
            #expect(try server.wireGuardFile().contains("PresharedKey = (set)"))
        }
    }

    @Test(arguments: [
        (JSON.string("90d"), Int64(90 * 86_400_000)),
        (JSON.string("72h"), Int64(72 * 3_600_000)),
        (JSON.string("30m"), Int64(30 * 60_000)),
        (JSON.string(" 45 s "), Int64(45_000)),
        (JSON.string("600"), Int64(600_000)),
        (JSON.integer(3600), Int64(3_600_000)),
    ])
    func keyLifetimeSetsTheExpiry(keyTTL: JSON, milliseconds: Int64) async throws {
        try await GatewayTestServer.run { server in
            let user = try await server.createUser("ada")
            let before = Reconciler.now()
            let response = try await server.api(.post, "/users/\(user)/devices", ["name": "laptop", "keyTTL": keyTTL])
            let after = Reconciler.now()
            #expect(response.status == .created, "\(response.text)")
            let id = try #require(response.json.field("device")?.field("id")?.stringValue)
            let stored = try #require(try await server.store.device(id: id))
            let expires = try #require(stored.expires)
            #expect((before + milliseconds)...(after + milliseconds) ~= expires)
            #expect(expires - stored.created == milliseconds, "the lifetime counts from the device's creation instant")
            let text = try #require(response.json.field("device")?.field("expires")?.stringValue)
            #expect(SCIMDateTime.parse(text).map { abs($0 - expires) < 1000 } == true, "expires: \(text)")
        }
    }

    @Test(arguments: [
        (JSON.string("soon"), "'keyTTL' must be a duration such as 90d, 72h or 30m, not 'soon'"),
        (JSON.string("0d"), "not '0d'"),
        (JSON.string("-5m"), "not '-5m'"),
        (JSON.string(""), "not ''"),
        (JSON.string("10y"), "not '10y'"),
        (JSON.string("9223372036854775s"), "not '9223372036854775s'"),
        (JSON.integer(0), "'keyTTL' must be a duration such as \"90d\" or a number of seconds"),
        (JSON.integer(-60), "a number of seconds"),
        (JSON.integer(Int.max), "a number of seconds"),
        (JSON.decimal(1.5), "a number of seconds"),
        (JSON.bool(true), "a number of seconds"),
    ])
    func badKeyLifetimesAreClearBadRequests(keyTTL: JSON, message: String) async throws {
        try await GatewayTestServer.run { server in
            let user = try await server.createUser("ada")
            let response = try await server.api(.post, "/users/\(user)/devices", ["name": "laptop", "keyTTL": keyTTL])
            expectAPIError(response, status: 400, containing: message)
            #expect(try await server.store.devices(ofUser: user).isEmpty)
        }
    }

    @Test(arguments: [
        ("{\"name\": \"laptop\", \"privateKey\": \"x\"}", "Unknown field 'privateKey'; expected name, publicKey, presharedKey, keyTTL"),
        ("{}", "'name' is required"),
        ("{\"name\": \"\"}", "'name' is required"),
        ("{\"name\": \"a/b\"}", "'name' is required: 1 to 64 letters"),
        ("{\"name\": 7}", "'name' is required"),
        ("{\"name\": \"\(String(repeating: "x", count: 65))\"}", "'name' is required"),
        ("{\"name\": \"laptop\", \"publicKey\": \"not-a-key\"}", "'publicKey' must be a WireGuard public key"),
        ("{\"name\": \"laptop\", \"publicKey\": 5}", "'publicKey' must be a string"),
        ("{\"name\": \"laptop\", \"presharedKey\": \"yes\"}", "'presharedKey' must be true or false"),
        ("[]", "The body must be a JSON object"),
        ("{\"name\": ", "The body is not valid JSON"),
        ("", "The body is empty"),
    ])
    func badDeviceRequestsAreClearBadRequests(body: String, message: String) async throws {
        try await GatewayTestServer.run { server in
            let user = try await server.createUser("ada")
            let response = try await server.send(.post, "/api/v1/users/\(user)/devices", body: body)
            expectAPIError(response, status: 400, containing: message)
            #expect(try await server.store.devices(ofUser: user).isEmpty)
        }
    }

    @Test func onlyAdminTokensMayManageDevices() async throws {
        try await GatewayTestServer.run { server in
            let user = try await server.createUser("ada")
            let body = JSON.object(["name": "laptop"]).jsonText
            let path = "/api/v1/users/\(user)/devices"

            let missing = try await server.send(.post, path, body: body, bearer: .none)
            expectAPIError(missing, status: 401, containing: "Send a bearer token")
            #expect(missing.headers[.wwwAuthenticate] == "Bearer realm=\"portcullis\"")

            let wrong = try await server.send(.post, path, body: body, bearer: .token("pcl_not-a-token"))
            expectAPIError(wrong, status: 401, containing: "not valid")
            #expect(wrong.headers[.wwwAuthenticate] == "Bearer realm=\"portcullis\", error=\"invalid_token\"")

            let scim = try await server.send(.post, path, body: body, bearer: .token(server.scimToken))
            expectAPIError(scim, status: 403, containing: "this endpoint needs 'admin'")
            #expect(scim.headers[.wwwAuthenticate] == "Bearer realm=\"portcullis\", error=\"insufficient_scope\"")

            #expect(try await server.store.devices(ofUser: user).isEmpty)
            let device = try await server.issue(user, name: "laptop")
            for method in [HTTPRequest.Method.get, .delete] {
                let response = try await server.send(method, "/api/v1/devices/\(device)", bearer: .token(server.scimToken))
                expectAPIError(response, status: 403, containing: "scope 'scim'")
            }
            let rotate = try await server.send(.post, "/api/v1/devices/\(device)/rotate", bearer: .token(server.scimToken))
            expectAPIError(rotate, status: 403, containing: "scope 'scim'")
            #expect(try await server.store.device(id: device) != nil)
        }
    }

    @Test func duplicateNamesAndKeysConflict() async throws {
        try await GatewayTestServer.run { server in
            let ada = try await server.createUser("ada")
            let bob = try await server.createUser("bob")
            let own = WireGuardKeyPair.generate().publicKey.base64
            _ = try await server.issue(ada, name: "laptop", publicKey: own)

            let sameName = try await server.api(.post, "/users/\(ada)/devices", ["name": "laptop"])
            expectAPIError(sameName, status: 409, containing: "already has a device named 'laptop'")
            let sameKey = try await server.api(.post, "/users/\(bob)/devices", ["name": "desktop", "publicKey": .string(own)])
            expectAPIError(sameKey, status: 409, containing: "public key is already registered")

            let otherUser = try await server.api(.post, "/users/\(bob)/devices", ["name": "laptop"])
            #expect(otherUser.status == .created, "another user may use the same name: \(otherUser.text)")
            #expect(try await server.store.devices(ofUser: ada).count == 1)
        }
    }

    @Test func issuingForAnUnknownUserIsNotFound() async throws {
        try await GatewayTestServer.run { server in
            let response = try await server.api(.post, "/users/nobody/devices", ["name": "laptop"])
            expectAPIError(response, status: 404, containing: "No user nobody")
        }
    }

    @Test func revokedDevicesAreGoneFromTheAPIAndTheGateway() async throws {
        try await GatewayTestServer.run { server in
            let user = try await server.createUser("ada")
            let response = try await server.api(.post, "/users/\(user)/devices", ["name": "laptop"])
            let id = try #require(response.json.field("device")?.field("id")?.stringValue)
            let publicKey = try #require(response.json.field("device")?.field("publicKey")?.stringValue)
            #expect(try server.wireGuardFile().contains(publicKey))

            let revoked = try await server.send(.delete, "/api/v1/devices/\(id)")
            #expect(revoked.status == .noContent, "\(revoked.text)")
            #expect(revoked.text.isEmpty)
            #expect(!(try server.wireGuardFile().contains(publicKey)), "the peer must be gone when DELETE answers")

            expectAPIError(try await server.api(.get, "/devices/\(id)"), status: 404, containing: "No device \(id)")
            expectAPIError(try await server.send(.delete, "/api/v1/devices/\(id)"), status: 404, containing: "no device \(id)")
            expectAPIError(try await server.send(.post, "/api/v1/devices/\(id)/rotate"), status: 404, containing: "no device \(id)")
            let listed = try await server.api(.get, "/users/\(user)")
            #expect(listed.json.field("devices") == [])
        }
    }

    @Test func rotationReplacesTheKeyOnTheGateway() async throws {
        try await GatewayTestServer.run { server in
            let user = try await server.createUser("ada")
            let issued = try await server.api(.post, "/users/\(user)/devices", ["name": "laptop", "presharedKey": true, "keyTTL": "1h"])
            let device = try #require(issued.json.field("device"))
            let id = try #require(device.field("id")?.stringValue)
            let oldKey = try #require(device.field("publicKey")?.stringValue)
            let oldConfig = try #require(issued.json.field("config")?.stringValue)

            let rotated = try await server.send(.post, "/api/v1/devices/\(id)/rotate")
            #expect(rotated.status == .ok, "\(rotated.text)")
            let newDevice = try #require(rotated.json.field("device"))
            let newKey = try #require(newDevice.field("publicKey")?.stringValue)
            let config = try #require(rotated.json.field("config")?.stringValue)
            #expect(newKey != oldKey)
            #expect(newDevice.field("id")?.stringValue == id)
            #expect(newDevice.field("addresses") == device.field("addresses"), "the tunnel address stays")
            let privateKey = try #require(configValue(config, "PrivateKey").flatMap(WireGuardKey.init(base64:)))
            #expect(try WireGuardKeyPair(privateKey: privateKey).publicKey.base64 == newKey)
            #expect(configValue(config, "PresharedKey") != nil)
            #expect(configValue(config, "PresharedKey") != configValue(oldConfig, "PresharedKey"), "the preshared key is renewed")
            let stored = try #require(try await server.store.device(id: id))
            #expect(stored.expires.map { $0 - stored.created } == 3_600_000, "the key lifetime starts again")

            let file = try server.wireGuardFile()
            #expect(!file.contains(oldKey), "the old key must be gone from the gateway")
            #expect(file.contains("PublicKey = \(newKey)"))
        }
    }

    @Test func rotationToTheUsersOwnKey() async throws {
        try await GatewayTestServer.run { server in
            let user = try await server.createUser("ada")
            let id = try await server.issue(user, name: "laptop")
            let own = WireGuardKeyPair.generate().publicKey.base64
            let rotated = try await server.api(.post, "/devices/\(id)/rotate", ["publicKey": .string(own)])
            #expect(rotated.status == .ok, "\(rotated.text)")
            #expect(rotated.json.field("device")?.field("publicKey")?.stringValue == own)
            let config = try #require(rotated.json.field("config")?.stringValue)
            #expect(configValue(config, "PrivateKey") == nil)
            #expect(try server.wireGuardFile().contains("PublicKey = \(own)"))

            let bad = try await server.api(.post, "/devices/\(id)/rotate", ["publicKey": "short"])
            expectAPIError(bad, status: 400, containing: "'publicKey' must be a WireGuard public key")
            #expect(try await server.store.device(id: id)?.publicKey == own)

            let other = try await server.issue(try await server.createUser("bob"), name: "laptop")
            let taken = try await server.api(.post, "/devices/\(other)/rotate", ["publicKey": .string(own)])
            expectAPIError(taken, status: 409, containing: "public key is already registered")
            #expect(try await server.store.device(id: other)?.publicKey != own)
        }
    }

    @Test func devicesIssuedWithoutAKeyLifetimeGetTheDefault() async throws {
        let ninetyDays: Int64 = 90 * 86_400_000
        try await GatewayTestServer.run(defaultKeyLifetime: ninetyDays) { server in
            let user = try await server.createUser("ada")
            let plain = try #require(try await server.store.device(id: try await server.issue(user, name: "laptop")))
            #expect(plain.expires.map { $0 - plain.created } == ninetyDays)
            let response = try await server.api(.post, "/users/\(user)/devices", ["name": "phone", "keyTTL": "1h"])
            let id = try #require(response.json.field("device")?.field("id")?.stringValue)
            let own = try #require(try await server.store.device(id: id))
            #expect(own.expires.map { $0 - own.created } == 3_600_000, "a keyTTL given wins over the default")
        }
        try await GatewayTestServer.run { server in
            let user = try await server.createUser("ada")
            #expect(try await server.store.device(id: try await server.issue(user, name: "laptop"))?.expires == nil, "no default: keys do not expire")
        }
    }

    @Test func answersThatCarryAConfigAreNeverCached() async throws {
        try await GatewayTestServer.run { server in
            let user = try await server.createUser("ada")
            let issued = try await server.api(.post, "/users/\(user)/devices", ["name": "laptop", "presharedKey": true])
            #expect(issued.status == .created, "\(issued.text)")
            #expect(configValue(issued.json.field("config")?.stringValue ?? "", "PrivateKey") != nil)
            #expect(issued.headers[.cacheControl] == "no-store", "a generated private key must not stay in a cache")
            let ownKey = try await server.api(
                .post, "/users/\(user)/devices", ["name": "phone", "publicKey": .string(WireGuardKeyPair.generate().publicKey.base64)])
            #expect(ownKey.status == .created, "\(ownKey.text)")
            #expect(ownKey.headers[.cacheControl] == "no-store")

            let id = try #require(issued.json.field("device")?.field("id")?.stringValue)
            let rotated = try await server.send(.post, "/api/v1/devices/\(id)/rotate")
            #expect(rotated.status == .ok, "\(rotated.text)")
            #expect(configValue(rotated.json.field("config")?.stringValue ?? "", "PrivateKey") != nil)
            #expect(rotated.headers[.cacheControl] == "no-store")
        }
    }

    @Test func theUserDocumentListsDevicesWithoutSecrets() async throws {
        try await GatewayTestServer.run { server in
            let user = try await server.createUser("ada", ["displayName": "Ada Lovelace"])
            _ = try await server.issue(user, name: "laptop")
            let response = try await server.api(.get, "/users/\(user)")
            #expect(response.status == .ok)
            #expect(response.json.field("userName") == "ada")
            #expect(response.json.field("displayName") == "Ada Lovelace")
            #expect(response.json.field("active") == true)
            let devices = try #require(response.json.field("devices")?.arrayValue)
            #expect(devices.count == 1)
            #expect(devices.first?.keys == ["id", "userId", "name", "publicKey", "addresses", "presharedKey", "created", "expires"])
            #expect(response.json.field("access")?.keys == ["rules", "grants", "allowedIPs"])

            let list = try await server.api(.get, "/users?count=1")
            #expect(list.json.field("totalResults") == 1)
            #expect(list.json.field("users")?.item(0)?.field("id")?.stringValue == user)
            expectAPIError(try await server.api(.get, "/users/nobody"), status: 404, containing: "No user nobody")
        }
    }
}

// MARK: - A server with a dry-run gateway

/// Runs tests against the whole router with a dry-run gateway (WireGuard peers written to a file),
/// a device service and an enrollment service, on a fresh store in a temporary folder.
enum GatewayTestServer {
    static let logger = Logger(label: "portcullis-gateway-tests") { _ in SwiftLogNoOpLogHandler() }

    static func run<Value: Sendable>(
        enrollment: EnrollmentSettings = EnrollmentSettings(), allowedIPsMode: DeviceIssuer.AllowedIPsMode = .resources,
        defaultKeyLifetime: Int64? = nil, _ body: @Sendable (GatewayTestClient) async throws -> Value
    ) async throws -> Value {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("portcullis-gateway-tests-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let data = directory + "/data"
        let store = try Store(directory: data)
        let policyFolder = directory + "/policies"
        try FileManager.default.createDirectory(atPath: policyFolder, withIntermediateDirectories: true)
        try PolicyServiceTests.base.write(toFile: policyFolder + "/policy.yaml", atomically: true, encoding: .utf8)
        let policies = PolicyService(directory: policyFolder, logger: logger)

        let configuration = GatewayConfiguration(pool: try AddressPool.parse("10.100.0.0/24,fd00:100::/64"))
        let gatewayKey = WireGuardKeyPair.generate()
        let wireGuardPath = directory + "/wg0.conf"
        let wireGuard = FileControl(interfaceName: "wg0", path: wireGuardPath)
        try await wireGuard.configure(privateKey: gatewayKey.privateKey, listenPort: configuration.listenPort)
        let reconciler = Reconciler(
            configuration: configuration, store: store, policies: policies, wireGuard: wireGuard,
            firewall: DryRunFirewall(path: directory + "/nftables.conf"), logger: logger)
        try await reconciler.synchronize(readingGateway: true, reason: "test start")

        var issuer = DeviceIssuer(store: store, configuration: configuration, gatewayPublicKey: gatewayKey.publicKey)
        issuer.allowedIPsMode = allowedIPsMode
        issuer.defaultKeyLifetime = defaultKeyLifetime
        let devices = DeviceService(store: store, reconciler: reconciler, issuer: issuer) { policies.current?.policy }
        let enrollments = EnrollmentService(store: store, settings: enrollment, devices: devices)
        let router = buildRouter(store: store, policies: policies, reconciler: reconciler, devices: devices, enrollments: enrollments)
        let client = GatewayTestClient.Setup(
            store: store, dataDirectory: data, wireGuardPath: wireGuardPath, gatewayKey: gatewayKey,
            adminToken: try store.createToken(name: "ops", scope: .admin), scimToken: try store.createToken(name: "idp", scope: .scim),
            enrollments: enrollments)
        let app = Application(router: router, logger: logger)
        return try await app.test(.router) { testClient in
            try await body(GatewayTestClient(client: testClient, setup: client))
        }
    }
}

/// Speaks to the gateway test server: admin API calls with the admin token, SCIM users, and the files
/// the dry-run gateway and the store write.
struct GatewayTestClient: Sendable {
    struct Setup: Sendable {
        let store: Store
        let dataDirectory: String
        let wireGuardPath: String
        let gatewayKey: WireGuardKeyPair
        let adminToken: String
        let scimToken: String
        let enrollments: EnrollmentService
    }

    let client: any TestClientProtocol
    let setup: Setup

    var store: Store { setup.store }
    var gatewayKey: WireGuardKeyPair { setup.gatewayKey }
    var adminToken: String { setup.adminToken }
    var scimToken: String { setup.scimToken }
    var enrollments: EnrollmentService { setup.enrollments }

    /// What a request presents in `Authorization`.
    enum Bearer: Sendable {
        case admin
        case token(String)
        case none
    }

    /// Sends a request to `uri`, by default with the admin token.
    func send(
        _ method: HTTPRequest.Method, _ uri: String, body: String? = nil, contentType: String = "application/json", bearer: Bearer = .admin,
        headers extraHeaders: HTTPFields = [:]
    ) async throws -> HTTPResult {
        var headers = extraHeaders
        switch bearer {
        case .admin: headers[.authorization] = "Bearer \(adminToken)"
        case .token(let token): headers[.authorization] = "Bearer \(token)"
        case .none: break
        }
        if body != nil { headers[.contentType] = contentType }
        let response = try await client.execute(uri: uri, method: method, headers: headers, body: body.map { ByteBuffer(string: $0) })
        return HTTPResult(response)
    }

    /// An admin API call with a JSON body (none for GET).
    func api(_ method: HTTPRequest.Method, _ path: String, _ body: JSONObject? = nil) async throws -> HTTPResult {
        try await send(method, "/api/v1" + path, body: body.map { JSON.object($0).jsonText })
    }

    /// A request without credentials, e.g. to the enrollment page.
    func anonymous(_ method: HTTPRequest.Method, _ uri: String, form: [(String, String)]? = nil) async throws -> HTTPResult {
        let body = form.map { fields in fields.map { percentEncode($0.0) + "=" + percentEncode($0.1) }.joined(separator: "&") }
        return try await send(method, uri, body: body, contentType: "application/x-www-form-urlencoded", bearer: .none)
    }

    /// Creates a user through SCIM and returns its id.
    func createUser(_ userName: String, _ attributes: JSONObject = [:], sourceLocation: SourceLocation = #_sourceLocation) async throws -> String {
        var body: JSONObject = ["schemas": [.string(URN.user)], "userName": .string(userName)]
        for member in attributes { body[member.key] = member.value }
        let response = try await send(.post, "/scim/v2/Users", body: JSON.object(body).jsonText, bearer: .token(scimToken))
        try #require(response.status == .created, "creating \(userName): \(response.text)", sourceLocation: sourceLocation)
        return try #require(response.json.field("id")?.stringValue, sourceLocation: sourceLocation)
    }

    /// Issues a device through the API and returns its id.
    func issue(_ userID: String, name: String, publicKey: String? = nil, sourceLocation: SourceLocation = #_sourceLocation) async throws -> String {
        var body: JSONObject = ["name": .string(name)]
        if let publicKey { body["publicKey"] = .string(publicKey) }
        let response = try await api(.post, "/users/\(userID)/devices", body)
        try #require(response.status == .created, "issuing \(name): \(response.text)", sourceLocation: sourceLocation)
        return try #require(response.json.field("device")?.field("id")?.stringValue, sourceLocation: sourceLocation)
    }

    /// The dry-run gateway's WireGuard configuration as last written.
    func wireGuardFile() throws -> String {
        try String(contentsOfFile: setup.wireGuardPath, encoding: .utf8)
    }

    /// Whether any file of the store (database, WAL, shared memory) contains `text`.
    func dataFilesContain(_ text: String) throws -> Bool {
        let needle = Data(text.utf8)
        for name in try FileManager.default.contentsOfDirectory(atPath: setup.dataDirectory) {
            let contents = try Data(contentsOf: URL(fileURLWithPath: setup.dataDirectory + "/" + name))
            if contents.range(of: needle) != nil { return true }
        }
        return false
    }
}

/// The value of `Key = value` in a wg-quick config, or nil when no such line is set (comments do not count).
func configValue(_ config: String, _ key: String) -> String? {
    for line in config.split(separator: "\n") where line.hasPrefix(key + " = ") {
        return String(line.dropFirst(key.count + 3))
    }
    return nil
}

/// Checks that `response` is an admin API error: this status, `application/json`, and
/// `{"error": {"status": <status>, "message": "…<containing>…"}}`.
func expectAPIError(_ response: HTTPResult, status: Int, containing text: String, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(response.code == status, "body: \(response.text)", sourceLocation: sourceLocation)
    #expect(response.mediaType == "application/json", sourceLocation: sourceLocation)
    let error = response.json.field("error")
    #expect(error?.keys == ["status", "message"], "body: \(response.text)", sourceLocation: sourceLocation)
    #expect(error?.field("status") == .integer(status), "body: \(response.text)", sourceLocation: sourceLocation)
    let message = error?.field("message")?.stringValue ?? ""
    #expect(message.contains(text), "message: \(message)", sourceLocation: sourceLocation)
}
