import Foundation
import Policy
public import Reconciler
import SCIM
public import Store

/// Enrollment links: made on request (API, CLI) or automatically when the identity provider
/// provisions a user or changes their routes, and then announced by webhook.
public struct EnrollmentService: Sendable {
    public let store: Store
    public let settings: EnrollmentSettings
    /// The devices service, for what a user's config routes (announcing route changes needs it).
    public let devices: DeviceService?

    public init(store: Store, settings: EnrollmentSettings, devices: DeviceService? = nil) {
        self.store = store
        self.settings = settings
        self.devices = devices
    }

    /// A new link for `userID`: its URL (the only place the secret exists) and when it expires. A
    /// lifetime beyond the settings' maximum throws ``EnrollmentLifetimeError``.
    public func createLink(userID: String, lifetime: Int64? = nil, baseURL: String?) async throws -> (url: String, expires: Int64) {
        let lifetime = lifetime ?? settings.linkLifetime
        guard lifetime <= settings.maximumLinkLifetime else {
            throw EnrollmentLifetimeError(requested: lifetime, maximum: settings.maximumLinkLifetime)
        }
        let (secret, enrollment) = try await store.createEnrollment(userID: userID, ttl: lifetime)
        let base = (settings.publicURL ?? baseURL ?? "").trimmingSuffix("/")
        return (base + "/enroll/" + secret, enrollment.expires)
    }

    /// Whether changes to users and groups are watched for route changes: only when links are announced
    /// automatically and configs route the user's own access (in the other modes a user's routes do not
    /// depend on their groups).
    var watchesRoutes: Bool {
        settings.automatic && settings.webhookURL != nil && devices?.issuer.allowedIPsMode == .user
    }

    /// What each of these users' configs routes now; empty unless ``watchesRoutes``.
    func routes(of users: Set<String>) async -> [String: [String]] {
        guard watchesRoutes, let devices else { return [:] }
        var routes: [String: [String]] = [:]
        for user in users {
            routes[user] = try? await devices.routes(of: user)
        }
        return routes
    }

    /// Announces a fresh link to every user whose routes differ from `before`.
    func announceRouteChanges(before: [String: [String]]) async {
        guard watchesRoutes else { return }
        let after = await routes(of: Set(before.keys))
        for (userID, routes) in after where routes != before[userID] {
            guard let user = try? await store.resource(.user, id: userID) else { continue }
            await announce("user.routes_changed", user: user, routes: routes)
        }
    }

    /// After the identity provider created a user, or changed what they may reach: a fresh link, and a
    /// webhook message for the company's mailer or chat bot.
    func announce(_ event: String, user: Resource, routes: [String]? = nil) async {
        guard settings.automatic, settings.webhookURL != nil, user.attributes["active"]?.boolValue ?? true else { return }
        do {
            let link = try await createLink(userID: user.id, baseURL: nil)
            var payload: JSONObject = [
                "event": .string(event),
                "user": [
                    "id": .string(user.id),
                    "userName": .string(user.attributes["userName"]?.stringValue ?? ""),
                    "displayName": user.attributes["displayName"] ?? .null,
                    "emails": .array((user.attributes["emails"]?.arrayValue ?? []).compactMap { $0.objectValue?["value"] }),
                ],
                "enrollment": ["url": .string(link.url), "expiresAt": .string(SCIMDateTime.format(link.expires))],
            ]
            if let routes { payload["routes"] = .array(routes.map(JSON.string)) }
            payload["sentAt"] = .string(SCIMDateTime.format(Int64(Date().timeIntervalSince1970 * 1000)))
            try await store.enqueueWebhook(event: event, payload: JSON.object(payload).jsonText)
        } catch {
            // The identity change itself succeeded; the announcement is best effort and logged by the caller.
        }
    }
}

extension String {
    func trimmingSuffix(_ suffix: String) -> String {
        var text = self
        while text.hasSuffix(suffix) { text.removeLast(suffix.count) }
        return text
    }
}
