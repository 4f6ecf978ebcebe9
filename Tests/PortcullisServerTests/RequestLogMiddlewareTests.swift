import Store
import Testing
@testable import PortcullisServer

/// The request log's path: an enrollment link's secret never reaches it, in any spelling that carries it.
struct RequestLogMiddlewareTests {
    @Test(arguments: [
        ("/enroll/abc", "/enroll/…", "abc"),
        ("/Enroll/abc", "/Enroll/…", "abc"),
        ("//enroll//abc/more", "/enroll/…", "abc"),
        ("/ENROLL/abc/", "/ENROLL/…", "abc"),
    ])
    func enrollmentLinksAreLoggedByFingerprint(path: String, logged: String, secret: String) {
        let redacted = RequestLogMiddleware.redacted(path)
        #expect(redacted.path == logged)
        #expect(redacted.link == Store.enrollmentFingerprint(secret: secret))
        #expect(!redacted.path.contains(secret))
    }

    @Test(arguments: ["/enroll/", "/enroll", "/scim/v2/Users", "/api/v1/users/abc/enrollments", "/enrollments/abc", "/"])
    func otherPathsAreLoggedAsTheyAre(path: String) {
        let redacted = RequestLogMiddleware.redacted(path)
        #expect(redacted.path == path)
        #expect(redacted.link == nil)
    }
}
