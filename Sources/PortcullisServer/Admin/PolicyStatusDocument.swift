import Policy
import SCIM

/// The body of `GET /api/v1/policy`: the version in force and the outcome of the last load.
enum PolicyStatusDocument {
    static func json(_ service: PolicyService) -> JSON {
        var object: JSONObject = ["directory": .string(service.directory)]
        if let current = service.current {
            object["inForce"] = [
                "version": .integer(current.number),
                "hash": .string(current.hash),
                "loadedAt": .string(SCIMDateTime.format(current.loadedAt)),
                "files": .array(current.policy.policy.files.map { .string($0.name) }),
                "resources": .integer(current.policy.policy.resources.count),
                "rules": .integer(current.policy.rules.count),
                "tests": .integer(current.policy.policy.tests.count),
            ]
        } else {
            object["inForce"] = .null
        }
        if let attempt = service.lastAttempt {
            object["status"] = attempt.accepted ? "ok" : "error"
            object["lastAttempt"] = [
                "at": .string(SCIMDateTime.format(attempt.at)),
                "hash": .string(attempt.hash),
                "accepted": .bool(attempt.accepted),
                "errors": .array(attempt.errors.map(diagnostic)),
                "warnings": .array(attempt.warnings.map(diagnostic)),
                "testFailures": .array(
                    attempt.testFailures.map { outcome in
                        [
                            "test": .string(outcome.test.name),
                            "location": .string(outcome.test.location.description),
                            "failures": .array(outcome.failures.map(JSON.string)),
                        ]
                    }),
            ]
        }
        return .object(object)
    }

    private static func diagnostic(_ diagnostic: PolicyDiagnostic) -> JSON {
        var object: JSONObject = [
            "file": .string(diagnostic.location.file),
            "line": .integer(diagnostic.location.line),
            "column": .integer(diagnostic.location.column),
            "message": .string(diagnostic.message),
        ]
        if let hint = diagnostic.hint { object["hint"] = .string(hint) }
        object["text"] = .string(diagnostic.description)
        return .object(object)
    }
}
