import Foundation
import Hummingbird
import Policy
import QRCode
import Reconciler
import SCIM
import Store
import WireGuard

/// The enrollment page at `/enroll/{token}`: server-rendered HTML that works without JavaScript and
/// reads well on a phone. GET shows whom the link is for and asks for a device name (and, optionally,
/// the user's own public key); POST uses the link, issues the device, and shows the wg-quick config
/// once, with a download link and a QR code for the WireGuard mobile app. A used or expired link, or
/// one for a user who is no longer active, says so and gives nothing.
struct EnrollmentPage {
    let store: Store
    let devices: DeviceService

    func register(on router: Router<PortcullisRequestContext>) {
        router.get("enroll/:token") { _, context in
            try await show(secret: try context.parameters.require("token"))
        }
        router.post("enroll/:token") { request, context in
            var request = request
            let form = try await request.formBody()
            let received = Reconciler.now()
            return try await AuditContext.$actor.withValue("enrollment-link") {
                try await AuditContext.$requestReceived.withValue(received) {
                    try await enroll(secret: try context.parameters.require("token"), form: form)
                }
            }
        }
    }

    private func show(secret: String) async throws -> Response {
        guard let enrollment = try await store.enrollment(secret: secret) else { return notFoundPage() }
        if let refusal = refusal(enrollment) { return refusal }
        // A deleted user's links are deleted with them; a deactivated user's stay, unusable while they are.
        guard let user = try await store.resource(.user, id: enrollment.userID) else { return notFoundPage() }
        guard user.attributes["active"]?.boolValue ?? true else { return inactivePage() }
        let name = user.attributes["displayName"]?.stringValue ?? user.attributes["userName"]?.stringValue ?? "you"
        let body = """
            <p>This link sets up VPN access for <strong>\(HTML.escape(name))</strong>. It works once.</p>
            <form method="post">
              <label for="name">Name this device</label>
              <input id="name" name="name" required maxlength="64" pattern="[A-Za-z0-9 ._-]{1,64}" placeholder="e.g. laptop or phone" autocomplete="off">
              <details>
                <summary>I have my own public key</summary>
                <p>Paste the public key of a WireGuard key pair you made yourself (e.g. <code>wg genkey | tee private.key | wg pubkey</code>). Your private key then never leaves your device, and the config below will leave its line for you to fill in.</p>
                <label for="publicKey">Public key</label>
                <input id="publicKey" name="publicKey" maxlength="44" autocomplete="off" spellcheck="false">
              </details>
              <button type="submit">Create my VPN configuration</button>
            </form>
            <p class="note">The link expires \(HTML.escape(SCIMDateTime.format(enrollment.expires))).</p>
            """
        return page(status: .ok, title: "Set up your VPN", body: body)
    }

    private func enroll(secret: String, form: [String: String]) async throws -> Response {
        let name = (form["name"] ?? "").trimmingCharacters(in: .whitespaces)
        guard AdminRoutes.isValidDeviceName(name) else {
            return page(status: .badRequest, title: "Device name needed", body: "<p>Give the device a name of 1 to 64 letters, digits, spaces, '-', '_' or '.'. <a href=\"\">Back</a></p>")
        }
        let text = form["publicKey"]?.trimmingCharacters(in: .whitespaces) ?? ""
        let publicKey = text.isEmpty ? nil : WireGuardKey(base64: text)
        if !text.isEmpty, publicKey == nil {
            return page(status: .badRequest, title: "That is not a public key", body: "<p>A WireGuard public key is 44 characters of base64, as <code>wg pubkey</code> prints it. <a href=\"\">Back</a></p>")
        }
        let now = Reconciler.now()
        let issued = IssuedConfig()
        let device: Device
        do {
            (_, device) = try await store.consumeEnrollment(secret: secret, now: now) { enrollment in
                let (device, config) = try await devices.issue(userID: enrollment.userID, name: name, publicKey: publicKey)
                await issued.set(config)
                return device
            }
        } catch EnrollmentError.unknown {
            return notFoundPage()
        } catch EnrollmentError.used {
            return usedPage()
        } catch EnrollmentError.expired {
            return expiredPage()
        } catch EnrollmentError.userInactive {
            return inactivePage()
        } catch DeviceError.duplicate {
            return page(status: .conflict, title: "Name or key already used", body: "<p>You already have a device with that name, or that public key is registered. <a href=\"\">Choose another</a>.</p>")
        }
        let config = await issued.config ?? ""
        let download = "data:text/plain;charset=utf-8;base64," + Data(config.utf8).base64EncodedString()
        let fileName = name.filter { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }.prefix(15)
        var body = """
            <p>Your device <strong>\(HTML.escape(name))</strong> is set up. <strong>This page is shown once</strong>: save the configuration now\(publicKey == nil ? "; it holds your private key, which Portcullis does not keep" : "").</p>
            <p><a class="button" download="\(fileName.isEmpty ? "wg0" : String(fileName)).conf" href="\(download)">Download \(fileName.isEmpty ? "wg0" : String(fileName)).conf</a></p>
            """
        if let expires = device.expires {
            let until = HTML.escape(SCIMDateTime.format(expires))
            body += "<p class=\"note\">The key works until \(until); ask your administrator for a new link before then.</p>\n"
        }
        if let svg = try? QRCode(text: config).svg(title: "WireGuard configuration") {
            body += """
                <h2>On a phone</h2>
                <p>In the WireGuard app, add a tunnel and scan this code:</p>
                <div class="qr">\(svg)</div>
                """
        }
        body += """
            <h2>The configuration</h2>
            <pre id="config">\(HTML.escape(config))</pre>
            """
        return page(status: .created, title: "Your VPN configuration", body: body)
    }

    private func refusal(_ enrollment: Enrollment) -> Response? {
        if enrollment.used != nil { return usedPage() }
        if enrollment.expires <= Reconciler.now() { return expiredPage() }
        return nil
    }

    private func notFoundPage() -> Response {
        page(status: .notFound, title: "Link not found", body: "<p>This enrollment link does not exist. Ask your administrator for a new one.</p>")
    }

    private func inactivePage() -> Response {
        page(
            status: .forbidden, title: "Link cannot be used",
            body: "<p>This link cannot be used: the account it is for is not active. Ask your administrator.</p>")
    }

    private func usedPage() -> Response {
        page(status: .gone, title: "Link already used", body: "<p>This link was already used and gives nothing again. If that was not you, tell your administrator now; they can revoke the device and send you a new link.</p>")
    }

    private func expiredPage() -> Response {
        page(status: .gone, title: "Link expired", body: "<p>This link has expired. Ask your administrator for a new one.</p>")
    }

    private func page(status: HTTPResponse.Status, title: String, body: String) -> Response {
        let html = """
            <!doctype html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <meta name="referrer" content="no-referrer">
            <title>\(HTML.escape(title)) · Portcullis</title>
            <style>
            body { font-family: system-ui, sans-serif; max-width: 40rem; margin: 0 auto; padding: 1rem; line-height: 1.5; color: #1a1a1a; }
            h1 { font-size: 1.5rem; } h2 { font-size: 1.15rem; margin-top: 1.5rem; }
            label { display: block; font-weight: 600; margin-top: 1rem; }
            input { width: 100%; box-sizing: border-box; font-size: 1rem; padding: .6rem; margin-top: .25rem; }
            button, .button { display: inline-block; margin-top: 1rem; font-size: 1rem; padding: .7rem 1.2rem; background: #1d4ed8; color: #fff; border: 0; border-radius: .4rem; text-decoration: none; }
            details { margin-top: 1rem; } pre { background: #f3f4f6; padding: 1rem; overflow-x: auto; font-size: .85rem; }
            .qr svg { width: 100%; max-width: 20rem; height: auto; } .note { color: #555; font-size: .9rem; }
            </style>
            </head>
            <body>
            <h1>\(HTML.escape(title))</h1>
            \(body)
            </body>
            </html>
            """
        return Response(
            status: status,
            headers: [
                .contentType: "text/html; charset=utf-8",
                .cacheControl: "no-store",
                .contentSecurityPolicy: "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; frame-ancestors 'none'",
            ],
            body: .init(byteBuffer: ByteBuffer(string: html)))
    }
}

/// Carries the config text out of the device-creating closure.
actor IssuedConfig {
    var config: String?

    func set(_ config: String) {
        self.config = config
    }
}

/// Escaping for HTML text and attribute values.
enum HTML {
    static func escape(_ text: String) -> String {
        var result = ""
        result.reserveCapacity(text.count)
        for character in text {
            switch character {
            case "&": result += "&amp;"
            case "<": result += "&lt;"
            case ">": result += "&gt;"
            case "\"": result += "&quot;"
            case "'": result += "&#39;"
            default: result.append(character)
            }
        }
        return result
    }
}

extension Request {
    /// An `application/x-www-form-urlencoded` body (at most 16 KiB).
    mutating func formBody() async throws -> [String: String] {
        let buffer: ByteBuffer
        do {
            buffer = try await collectBody(within: 16384)
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw HTTPError(.contentTooLarge, message: "The form is larger than 16 KiB")
        }
        let text = String(decoding: buffer.readableBytesView, as: UTF8.self)
        var fields: [String: String] = [:]
        for pair in text.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = Self.formDecode(parts[0])
            fields[name] = parts.count > 1 ? Self.formDecode(parts[1]) : ""
        }
        return fields
    }
}
