import Foundation
import SCIM
@testable import Store

/// A store in a fresh temporary folder, removed when the test ends.
final class TemporaryStore {
    let directory: String
    let store: Store

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("portcullis-store-\(UUID().uuidString)").path
        store = try Store(directory: directory)
    }

    var databasePath: String { directory + "/" + Store.fileName }

    deinit {
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Creates a user from JSON text, through the same normalizer the HTTP layer uses.
    func createUser(_ json: String) async throws -> Resource {
        try await store.create(.user, attributes: ResourceNormalizer(.user).normalize(JSONParser.parse(json)))
    }

    func createUser(userName: String, active: Bool = true) async throws -> Resource {
        try await createUser(#"{"userName": "\#(userName)", "active": \#(active)}"#)
    }

    func createGroup(_ displayName: String, members: [Resource] = []) async throws -> Resource {
        let memberList = members.map { #"{"value": "\#($0.id)"}"# }.joined(separator: ",")
        let json = #"{"displayName": "\#(displayName)", "members": [\#(memberList)]}"#
        return try await store.create(.group, attributes: ResourceNormalizer(.group).normalize(JSONParser.parse(json)))
    }
}

extension JSON {
    /// The member `key` of an object, or nil.
    func field(_ key: String) -> JSON? {
        objectValue?[key]
    }
}
