import Foundation
import Hummingbird
import PortcullisServer
import Reconciler
import Store
import Testing
import WireGuard
import Yams

/// `docs/openapi.yaml` describes exactly the admin API and enrollment routes the router registers.
@Suite("OpenAPI document")
struct OpenAPITests {
    /// The route prefixes the document covers.
    static let documentedPrefixes = ["/api/v1/", "/enroll/"]

    static let documentPath = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("docs/openapi.yaml").path

    static let methods: Set<String> = ["get", "put", "post", "delete", "options", "head", "patch", "trace"]

    @Test func documentsEveryRouteAndNoOther() throws {
        let documented = try Self.documentedOperations()
        let registered = try Self.registeredOperations()
        let missingFromDocument = registered.subtracting(documented).sorted()
        let notRegistered = documented.subtracting(registered).sorted()
        #expect(
            missingFromDocument.isEmpty,
            "routes the router registers that docs/openapi.yaml does not describe:\n\(missingFromDocument.joined(separator: "\n"))")
        #expect(
            notRegistered.isEmpty, "operations in docs/openapi.yaml the router does not register:\n\(notRegistered.joined(separator: "\n"))")
        #expect(registered.count >= 11, "the router should have the admin and enrollment routes: \(registered.sorted())")
    }

    @Test func isOpenAPI31WithBearerSecurity() throws {
        let document = try Self.document()
        #expect((document["openapi"] as? String)?.hasPrefix("3.1") == true)
        let schemes = (document["components"] as? [String: Any])?["securitySchemes"] as? [String: Any]
        let bearer = try #require(schemes?["bearerAuth"] as? [String: Any])
        #expect(bearer["type"] as? String == "http")
        #expect(bearer["scheme"] as? String == "bearer")
    }

    @Test func everyOperationHasAnIdAndResponses() throws {
        let paths = try #require(try Self.document()["paths"] as? [String: Any])
        var operationIDs: [String] = []
        for (path, item) in paths {
            for (method, operation) in (item as? [String: Any]) ?? [:] where Self.methods.contains(method) {
                let operation = try #require(operation as? [String: Any], "\(method) \(path)")
                let id = try #require(operation["operationId"] as? String, "\(method.uppercased()) \(path) has no operationId")
                operationIDs.append(id)
                #expect((operation["responses"] as? [AnyHashable: Any])?.isEmpty == false, "\(method.uppercased()) \(path) has no responses")
            }
        }
        #expect(Set(operationIDs).count == operationIDs.count, "operationIds must be unique: \(operationIDs.sorted())")
    }

    /// `METHOD /path/{parameter}` of every operation in the document under the covered prefixes.
    static func documentedOperations() throws -> Set<String> {
        let paths = try #require(try document()["paths"] as? [String: Any], "docs/openapi.yaml has no paths")
        var operations = Set<String>()
        for (path, item) in paths where documentedPrefixes.contains(where: path.hasPrefix) {
            for method in ((item as? [String: Any]) ?? [:]).keys where methods.contains(method) {
                operations.insert("\(method.uppercased()) \(path)")
            }
        }
        return operations
    }

    /// `METHOD /path/{parameter}` of every route the full router registers under the covered prefixes,
    /// without the catch-all routes that answer 404.
    static func registeredOperations() throws -> Set<String> {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("portcullis-openapi-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try Store(directory: directory)
        let configuration = GatewayConfiguration(pool: .standard)
        let issuer = DeviceIssuer(store: store, configuration: configuration, gatewayPublicKey: WireGuardKeyPair.generate().publicKey)
        let devices = DeviceService(store: store, reconciler: nil, issuer: issuer) { nil }
        let enrollments = EnrollmentService(store: store, settings: EnrollmentSettings(), devices: devices)
        let router = buildRouter(store: store, devices: devices, enrollments: enrollments)
        var operations = Set<String>()
        for route in router.routes {
            let path = openAPIPath(route.path.description)
            guard documentedPrefixes.contains(where: path.hasPrefix), !path.contains("*") else { continue }
            operations.insert("\(route.method.rawValue) \(path)")
        }
        return operations
    }

    /// A router path in OpenAPI's form: `:id` and `{id}` both become `{id}`.
    static func openAPIPath(_ path: String) -> String {
        "/" + path.split(separator: "/").map { $0.hasPrefix(":") ? "{\($0.dropFirst())}" : String($0) }.joined(separator: "/")
    }

    static func document() throws -> [String: Any] {
        let text = try String(contentsOfFile: documentPath, encoding: .utf8)
        return try #require(try Yams.load(yaml: text) as? [String: Any], "docs/openapi.yaml is not a YAML mapping")
    }
}
