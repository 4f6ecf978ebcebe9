import Foundation
public import SCIM
public import Store

/// The shapes audit answers take: JSON for the API and `--json`, CSV for spreadsheets, Markdown for
/// reports. Times are RFC 3339 in UTC, as SCIM writes them. Names come from identity providers, so
/// every CSV cell goes through `CSV.cell` and every Markdown cell through `Markdown.text`.
public enum AuditDocuments {
    public static func record(_ record: AuditRecord) -> JSON {
        [
            "seq": .integer(Int(record.seq)),
            "at": .string(SCIMDateTime.format(record.at)),
            "actor": .string(record.actor),
            "action": .string(record.action),
            "target": .string(record.target),
            "userId": record.userID.map(JSON.string) ?? .null,
            "details": (try? JSONParser.parse(record.details)) ?? .string(record.details),
            "hash": .string(record.hash),
        ]
    }

    public static func row(_ row: AccessRow) -> JSON {
        [
            "userId": .string(row.userID),
            "userName": .string(row.userName),
            "deviceId": .string(row.deviceID),
            "address": .string(row.address),
            "rule": .string(row.rule),
            "effect": .string(row.effect),
            "destinations": .array(row.destinations.map(JSON.string)),
            "from": .string(SCIMDateTime.format(row.since)),
            "until": row.until.map { .string(SCIMDateTime.format($0)) } ?? .null,
        ]
    }

    public static let csvHeader = ["userName", "userId", "deviceId", "address", "rule", "effect", "destinations", "from", "until"]

    public static func csv(_ rows: [AccessRow]) -> String {
        CSV.document([csvHeader] + rows.map { row in
            [
                row.userName, row.userID, row.deviceID, row.address, row.rule, row.effect, row.destinations.joined(separator: " "),
                SCIMDateTime.format(row.since), row.until.map(SCIMDateTime.format) ?? "",
            ]
        })
    }

    public static func report(_ report: AuditReport) -> JSON {
        [
            "from": .string(SCIMDateTime.format(report.from)),
            "until": .string(SCIMDateTime.format(report.until)),
            "joiners": .array(
                report.joiners.map { ["userId": .string($0.userID), "userName": .string($0.userName), "at": .string(SCIMDateTime.format($0.at)), "actor": .string($0.actor)] }),
            "leavers": .array(
                report.leavers.map { leaver in
                    [
                        "userId": .string(leaver.userID), "userName": .string(leaver.userName), "how": .string(leaver.how),
                        "at": .string(SCIMDateTime.format(leaver.at)), "actor": .string(leaver.actor), "hadAccess": .bool(leaver.hadAccess),
                        "revokedAt": leaver.revokedAt.map { .string(SCIMDateTime.format($0)) } ?? .null,
                        "delayMilliseconds": leaver.delayMilliseconds.map { .integer(Int($0)) } ?? .null,
                    ]
                }),
            "accessChanges": .array(
                report.accessChanges.map { change in
                    [
                        "rule": .string(change.rule), "effect": .string(change.effect), "destinations": .array(change.destinations.map(JSON.string)),
                        "granted": .integer(change.granted), "revoked": .integer(change.revoked),
                    ]
                }),
            "driftRepairs": .array(
                report.driftRepairs.map { ["at": .string(SCIMDateTime.format($0.at)), "details": (try? JSONParser.parse($0.details)) ?? .null] }),
        ]
    }

    public static func reportCSV(_ report: AuditReport) -> String {
        var table = [["section", "at", "user", "what", "detail", "delay_ms"]]
        for joiner in report.joiners { table.append(["joiner", SCIMDateTime.format(joiner.at), joiner.userName, "created", "by " + joiner.actor, ""]) }
        for leaver in report.leavers {
            table.append([
                "leaver", SCIMDateTime.format(leaver.at), leaver.userName, leaver.how, revocationText(leaver), leaver.delayMilliseconds.map(String.init) ?? "",
            ])
        }
        for change in report.accessChanges {
            table.append([
                "access", "", "", change.rule + " (" + change.effect + ")", change.destinations.joined(separator: " "),
                "\(change.granted) granted, \(change.revoked) revoked",
            ])
        }
        for repair in report.driftRepairs { table.append(["drift", SCIMDateTime.format(repair.at), "", "repaired", repair.details, ""]) }
        return CSV.document(table)
    }

    public static func reportMarkdown(_ report: AuditReport) -> String {
        var text = "# Access report\n\n\(SCIMDateTime.format(report.from)) to \(SCIMDateTime.format(report.until))\n\n"
        text += "## Joiners (\(report.joiners.count))\n\n"
        text += report.joiners.isEmpty ? "None.\n\n" : markdownTable(["User", "Created", "By"], report.joiners.map { [$0.userName, SCIMDateTime.format($0.at), $0.actor] })
        text += "## Leavers (\(report.leavers.count))\n\n"
        text += report.leavers.isEmpty
            ? "None.\n\n"
            : markdownTable(
                ["User", "How", "Requested", "By", "Access revoked", "Delay"],
                report.leavers.map { leaver in
                    [
                        leaver.userName, leaver.how, SCIMDateTime.format(leaver.at), leaver.actor, revocationText(leaver),
                        leaver.delayMilliseconds.map { "\($0) ms" } ?? "-",
                    ]
                })
        text += "## Access changes per rule (\(report.accessChanges.count))\n\n"
        text += report.accessChanges.isEmpty
            ? "None.\n\n"
            : markdownTable(
                ["Rule", "Effect", "Destinations", "Granted", "Revoked"],
                report.accessChanges.map { [$0.rule, $0.effect, $0.destinations.joined(separator: ", "), String($0.granted), String($0.revoked)] })
        text += "## Drift repairs (\(report.driftRepairs.count))\n\n"
        text += report.driftRepairs.isEmpty ? "None.\n" : markdownTable(["At", "What"], report.driftRepairs.map { [SCIMDateTime.format($0.at), $0.details] })
        return text
    }

    private static func revocationText(_ leaver: AuditReport.Leaver) -> String {
        if let revokedAt = leaver.revokedAt { return SCIMDateTime.format(revokedAt) }
        return leaver.hadAccess ? "NOT REVOKED within a minute" : "had no access"
    }

    /// A table whose cells are text (`Markdown.text`): a name cannot add a column, a row or a link.
    private static func markdownTable(_ header: [String], _ rows: [[String]]) -> String {
        var text = "| " + header.joined(separator: " | ") + " |\n|" + String(repeating: " --- |", count: header.count) + "\n"
        for row in rows { text += "| " + row.map(Markdown.text).joined(separator: " | ") + " |\n" }
        return text + "\n"
    }
}
