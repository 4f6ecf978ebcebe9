import Foundation
import Hummingbird
import Policy
import Reconciler
import SCIM
import Store
import WireGuard

/// The admin API at `/api/v1`, for `admin`-scope tokens: the policy in force, users with their
/// devices and access, devices (issue, revoke at once, rotate), and enrollment links.
struct AdminRoutes {
    static let basePath = "/api/v1"

    let store: Store
    let policies: PolicyService?
    let devices: DeviceService?
    let enrollments: EnrollmentService?

    func register(on router: Router<PortcullisRequestContext>) {
        let group = router.group(RouterPath(stringLiteral: Self.basePath))
            .add(middleware: APIErrorMiddleware())
            .add(middleware: BearerAuthMiddleware(store: store, scope: .admin))
        group.get("policy") { _, _ in
            guard let policies else {
                throw APIErrorResponse(.serviceUnavailable, "This server runs without a policy folder")
            }
            return APIResponse.json(PolicyStatusDocument.json(policies))
        }
        group.get("users") { request, _ in try await listUsers(request) }
        group.get("users/:id") { _, context in try await getUser(try context.parameters.require("id")) }
        group.post("users/:id/devices") { request, context in
            var request = request
            return try await issueDevice(userID: try context.parameters.require("id"), body: try await request.apiJSONBody())
        }
        group.get("devices/:id") { _, context in
            let id = try context.parameters.require("id")
            guard let device = try await store.device(id: id) else { throw APIErrorResponse(.notFound, "No device \(id)") }
            return APIResponse.json(AdminDocuments.device(device))
        }
        group.delete("devices/:id") { _, context in
            let service = try requireDevices()
            do {
                try await service.revoke(deviceID: try context.parameters.require("id"))
            } catch let error as DeviceError {
                throw APIErrorResponse(.notFound, "\(error)")
            }
            return Response(status: .noContent)
        }
        group.post("devices/:id/rotate") { request, context in
            var request = request
            let body = try await request.apiJSONBody(allowEmpty: true)
            let publicKey = try Self.publicKey(body)
            do {
                let (device, config) = try await requireDevices().rotate(deviceID: try context.parameters.require("id"), publicKey: publicKey)
                return Self.withConfig(APIResponse.json(["device": AdminDocuments.device(device), "config": .string(config)]))
            } catch let error as DeviceError {
                switch error {
                case .unknownUser, .unknownDevice: throw APIErrorResponse(.notFound, "\(error)")
                case .duplicate: throw APIErrorResponse(.conflict, "\(error)")
                case .poolExhausted: throw APIErrorResponse(.serviceUnavailable, "\(error)")
                }
            }
        }
        group.post("users/:id/enrollments") { request, context in
            var request = request
            let body = try await request.apiJSONBody(allowEmpty: true)
            guard let enrollments else { throw APIErrorResponse(.serviceUnavailable, "Enrollment links are not set up on this server") }
            let lifetime = try Self.duration(body.objectValue?["ttl"], name: "ttl")
            do {
                let link = try await enrollments.createLink(
                    userID: try context.parameters.require("id"), lifetime: lifetime, baseURL: request.publicBaseURL)
                return APIResponse.json(["url": .string(link.url), "expiresAt": .string(SCIMDateTime.format(link.expires))], status: .created)
            } catch DeviceError.unknownUser(let id) {
                throw APIErrorResponse(.notFound, "No user \(id)")
            } catch let error as EnrollmentLifetimeError {
                throw APIErrorResponse(.badRequest, "'ttl' is too long: \(error)")
            }
        }
        AuditRoutes(store: store).register(on: group)
        for method in [HTTPRequest.Method.get, .post, .put, .patch, .delete] {
            group.on("**", method: method) { _, _ -> Response in throw HTTPError(.notFound) }
        }
    }

    private func listUsers(_ request: Request) async throws -> Response {
        let parameters = Dictionary(request.decodedQueryParameters, uniquingKeysWith: { _, last in last })
        let startIndex = max(1, Int(parameters["startIndex"] ?? "") ?? 1)
        let count = min(max(0, Int(parameters["count"] ?? "") ?? 100), 1000)
        let directory = try await store.directory()
        let page = Array(directory.dropFirst(startIndex - 1).prefix(count))
        let devices = Dictionary(grouping: try await store.devices(ofUsers: page.map(\.user.id)), by: \.userID)
        let policy = policies?.current?.policy
        let now = Reconciler.now()
        let users = page.map { AdminDocuments.user($0, devices: devices[$0.user.id] ?? [], policy: policy, now: now) }
        return APIResponse.json(["totalResults": .integer(directory.count), "startIndex": .integer(startIndex), "users": .array(users)])
    }

    private func getUser(_ id: String) async throws -> Response {
        guard let entry = try await store.directory(userIDs: [id]).first else { throw APIErrorResponse(.notFound, "No user \(id)") }
        let devices = try await store.devices(ofUser: id)
        return APIResponse.json(AdminDocuments.user(entry, devices: devices, policy: policies?.current?.policy, now: Reconciler.now()))
    }

    private func issueDevice(userID: String, body: JSON) async throws -> Response {
        guard case .object(let object) = body else { throw APIErrorResponse(.badRequest, "The body must be a JSON object with at least 'name'") }
        for key in object.keys where !["name", "publicKey", "presharedKey", "keyTTL"].contains(key) {
            throw APIErrorResponse(.badRequest, "Unknown field '\(key)'; expected name, publicKey, presharedKey, keyTTL")
        }
        guard case .string(let name)? = object["name"], Self.isValidDeviceName(name) else {
            throw APIErrorResponse(.badRequest, "'name' is required: 1 to 64 letters, digits, spaces, '-', '_' or '.'")
        }
        let publicKey = try Self.publicKey(body)
        let withPresharedKey: Bool
        switch object["presharedKey"] {
        case nil, .null?: withPresharedKey = false
        case .bool(let value)?: withPresharedKey = value
        default: throw APIErrorResponse(.badRequest, "'presharedKey' must be true or false")
        }
        let lifetime = try Self.duration(object["keyTTL"], name: "keyTTL")
        do {
            let (device, config) = try await requireDevices().issue(
                userID: userID, name: name, publicKey: publicKey, withPresharedKey: withPresharedKey, keyLifetime: lifetime)
            return Self.withConfig(APIResponse.json(["device": AdminDocuments.device(device), "config": .string(config)], status: .created))
        } catch let error as DeviceError {
            switch error {
            case .unknownUser, .unknownDevice: throw APIErrorResponse(.notFound, "No user \(userID)")
            case .duplicate: throw APIErrorResponse(.conflict, "\(error)")
            case .poolExhausted: throw APIErrorResponse(.serviceUnavailable, "\(error)")
            }
        }
    }

    /// An answer that carries a wg-quick config, which may hold a freshly generated private key and
    /// holds the preshared key: no cache (a browser's, a proxy's) may keep a copy.
    private static func withConfig(_ response: Response) -> Response {
        var response = response
        response.headers[.cacheControl] = "no-store"
        return response
    }

    private func requireDevices() throws -> DeviceService {
        guard let devices else { throw APIErrorResponse(.serviceUnavailable, "Devices are not managed by this server") }
        return devices
    }

    static func publicKey(_ body: JSON) throws -> WireGuardKey? {
        switch body.objectValue?["publicKey"] {
        case nil, .null?: return nil
        case .string(let text)?:
            guard let key = WireGuardKey(base64: text) else {
                throw APIErrorResponse(.badRequest, "'publicKey' must be a WireGuard public key: 32 bytes in base64, as `wg pubkey` prints it")
            }
            return key
        default:
            throw APIErrorResponse(.badRequest, "'publicKey' must be a string")
        }
    }

    static func duration(_ value: JSON?, name: String) throws -> Int64? {
        switch value {
        case nil, .null?: return nil
        case .integer(let seconds)? where seconds > 0 && Int64(seconds) <= DurationText.maximum / 1000: return Int64(seconds) * 1000
        case .string(let text)?:
            guard let milliseconds = DurationText.milliseconds(text) else {
                throw APIErrorResponse(.badRequest, "'\(name)' must be a duration such as 90d, 72h or 30m, not '\(text)'")
            }
            return milliseconds
        default:
            throw APIErrorResponse(.badRequest, "'\(name)' must be a duration such as \"90d\" or a number of seconds")
        }
    }

    static func isValidDeviceName(_ name: String) -> Bool {
        (1...64).contains(name.count) && name.allSatisfy { $0.isLetter || $0.isNumber || " -_.".contains($0) }
    }
}

extension Request {
    /// The server's base URL as the client addressed it (for links), e.g. `https://vpn.example.com`.
    var publicBaseURL: String {
        String(scimBaseURL.dropLast(SCIMRoutes.basePath.count))
    }

    /// Reads an admin API body as JSON; an empty body is `{}` when allowed.
    mutating func apiJSONBody(allowEmpty: Bool = false) async throws -> JSON {
        let buffer: ByteBuffer
        do {
            buffer = try await collectBody(within: 65536)
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw APIErrorResponse(.contentTooLarge, "The body is larger than 64 KiB")
        }
        let bytes = Array(buffer.readableBytesView)
        if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) {
            guard allowEmpty else { throw APIErrorResponse(.badRequest, "The body is empty; a JSON object was expected") }
            return .object([:])
        }
        do {
            return try JSONParser.parse(bytes)
        } catch {
            throw APIErrorResponse(.badRequest, "The body is not valid JSON: \(error.description)")
        }
    }
}
