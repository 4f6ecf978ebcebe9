import Foundation
import Testing

import QRCode

#if canImport(FoundationXML)
import FoundationXML
#endif

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A text to encode, named for the test report.
struct Sample: Sendable, CustomTestStringConvertible {
    let name: String
    let text: String

    var testDescription: String { name }

    static let wireGuardConfig = Sample(name: "wg-quick config", text: """
        [Interface]
        PrivateKey = yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=
        Address = 10.100.0.7/32, fd00:100::7/128
        DNS = 10.100.0.1, fd00:100::1

        [Peer]
        PublicKey = xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=
        PresharedKey = /UwcSPg38hW/D9Y3tcS1FOV0K1wuURMbS0sesJEP5ak=
        Endpoint = vpn.example.com:51820
        AllowedIPs = 10.0.0.0/8, 172.16.0.0/12, 192.168.10.0/24, fd00::/8
        PersistentKeepalive = 25

        """)

    static let all: [Sample] = [
        Sample(name: "short", text: "hello"),
        Sample(name: "URL", text: "https://vpn.example.com/enroll/4kT9xQ2mZpW7vL0s"),
        wireGuardConfig,
        Sample(name: "UTF-8", text: "Grüße aus Köln — 東京 🔐\nzweite Zeile: ñ, ø, €"),
        Sample(name: "whitespace", text: "  leading and trailing spaces  \n\ttab\n\nblank line above\n"),
    ]
}

/// The command-line tools the decoding tests use.
enum Tools {
    /// `zbarimg` from Debian's `zbar-tools`: decodes the rendered codes.
    static let zbarimg = find("zbarimg")
    /// `rsvg-convert` from Debian's `librsvg2-bin`: rasterizes the SVG.
    static let rsvgConvert = find("rsvg-convert")

    /// The absolute path of a tool on `PATH` (or in the usual folders), or nil.
    static func find(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        let folders = path.split(separator: ":").map(String.init) + ["/usr/local/bin", "/usr/bin", "/bin"]
        return folders.map { $0 + "/" + name }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Runs `executable` in `folder` to completion (killed after `timeout` seconds); output goes
    /// through files so that it cannot block the child.
    static func run(_ executable: String, _ arguments: [String], in folder: URL, timeout: TimeInterval = 60) throws -> (status: Int32, output: Data, error: String) {
        let name = UUID().uuidString
        let outputURL = folder.appendingPathComponent("\(name).out")
        let errorURL = folder.appendingPathComponent("\(name).err")
        _ = FileManager.default.createFile(atPath: outputURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errorURL.path, contents: nil)
        let outputHandle = try FileHandle(forWritingTo: outputURL)
        let errorHandle = try FileHandle(forWritingTo: errorURL)
        defer {
            try? outputHandle.close()
            try? errorHandle.close()
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = outputHandle
        process.standardError = errorHandle
        try process.run()
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning, Date() < deadline { usleep(10_000) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            return (-1, Data(), "killed after \(Int(timeout)) s")
        }
        return (process.terminationStatus, try Data(contentsOf: outputURL), String(decoding: try Data(contentsOf: errorURL), as: UTF8.self))
    }

    /// The text `zbarimg --raw -q` reads from the image at `url`, without the newline it adds after
    /// each symbol.
    static func decode(_ url: URL) throws -> String {
        let zbarimg = try #require(zbarimg, "zbarimg is missing")
        let result = try run(zbarimg, ["--raw", "-q", url.path], in: url.deletingLastPathComponent())
        try #require(result.status == 0, "zbarimg found no QR code in \(url.lastPathComponent) (exit \(result.status)): \(result.error)")
        var text = try #require(String(data: result.output, encoding: .utf8), "zbarimg's output is not UTF-8")
        if text.hasSuffix("\n") { text.removeLast() }
        return text
    }
}

/// A fresh temporary folder for one test, removed when `body` returns or throws.
func withTemporaryDirectory<T>(_ body: (URL) throws -> T) throws -> T {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("portcullis-qrtest-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: url) }
    return try body(url)
}

/// A grey image written as binary PGM, which `zbarimg` reads without help.
struct GreyImage {
    let width: Int
    let height: Int
    var pixels: [UInt8]

    init(width: Int, height: Int, fill: UInt8) {
        self.width = width
        self.height = height
        self.pixels = Array(repeating: fill, count: width * height)
    }

    mutating func fill(x: Int, y: Int, width: Int, height: Int, with value: UInt8) {
        for row in y..<(y + height) {
            for column in x..<(x + width) { pixels[row * self.width + column] = value }
        }
    }

    func write(to url: URL) throws {
        try (Data("P5\n\(width) \(height)\n255\n".utf8) + Data(pixels)).write(to: url)
    }
}

/// Draws the output of `QRCode.terminal` the way a terminal would: each character cell is
/// `cell` pixels wide and two `cell`-pixel halves high; block characters paint their halves in
/// `ink`, the rest of the cell is `background`, and `margin` cells of `outside` (the terminal's own
/// background) surround the whole.
func renderTerminal(_ text: String, cell: Int = 4, ink: UInt8, background: UInt8, outside: UInt8, margin: Int = 3) throws -> GreyImage {
    let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { line in
        // Drop the SGR escapes (ESC [ … m); the caller says which colours they set.
        line.replacing(/\u{1B}\[[0-9;]*m/, with: "")
    }
    let columns = try #require(lines.first?.count)
    #expect(lines.allSatisfy { $0.count == columns }, "every line has the same width")
    var image = GreyImage(width: (columns + 2 * margin) * cell, height: (lines.count + 2 * margin) * 2 * cell, fill: outside)
    for (row, line) in lines.enumerated() {
        for (column, character) in line.enumerated() {
            let halves: [Character: (upper: Bool, lower: Bool)] = [" ": (false, false), "▀": (true, false), "▄": (false, true), "█": (true, true)]
            let (upper, lower) = try #require(halves[character], "unexpected character \(character.debugDescription)")
            let x = (column + margin) * cell
            let y = (row + margin) * 2 * cell
            image.fill(x: x, y: y, width: cell, height: cell, with: upper ? ink : background)
            image.fill(x: x, y: y + cell, width: cell, height: cell, with: lower ? ink : background)
        }
    }
    return image
}

/// Collects what the SVG parser saw.
final class SVGCollector: NSObject, XMLParserDelegate {
    var elements: [(name: String, attributes: [String: String])] = []
    var title = ""
    private var inTitle = false

    func parser(_ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?, qualifiedName: String?, attributes: [String: String]) {
        elements.append((elementName, attributes))
        inTitle = elementName == "title"
    }

    func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName: String?) {
        inTitle = false
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) {
        if inTitle { title += string }
    }
}

@Suite("QR code encoding")
struct QRCodeEncodingTests {
    @Test("the symbol has the size of its version, with the three finder patterns", arguments: Sample.all)
    func structure(sample: Sample) throws {
        let code = try QRCode(text: sample.text)
        #expect((1...40).contains(code.version))
        #expect(code.size == 4 * code.version + 17)
        #expect(code.errorCorrection == .medium)
        // A finder pattern: a dark 7×7 ring, a light ring, a dark 3×3 centre, then a light separator.
        func hasFinder(atX left: Int, y top: Int) -> Bool {
            (0..<7).allSatisfy { dy in
                (0..<7).allSatisfy { dx in
                    let ring = max(abs(dx - 3), abs(dy - 3))
                    return code.isDark(x: left + dx, y: top + dy) == (ring != 2)
                }
            }
        }
        #expect(hasFinder(atX: 0, y: 0))
        #expect(hasFinder(atX: code.size - 7, y: 0))
        #expect(hasFinder(atX: 0, y: code.size - 7))
        #expect(!hasFinder(atX: code.size - 7, y: code.size - 7))
        #expect(!code.isDark(x: 7, y: 0) && !code.isDark(x: 0, y: 7), "separators are light")
        // The standard's "dark module", next to the lower left finder pattern.
        #expect(code.isDark(x: 8, y: 4 * code.version + 9))
        #expect(!code.isDark(x: -1, y: 0) && !code.isDark(x: 0, y: code.size) && !code.isDark(x: code.size, y: code.size - 1))
    }

    @Test("a full wg-quick config (390 bytes, with a preshared key and IPv6) makes a version 15 symbol at level M")
    func configSize() throws {
        #expect(Sample.wireGuardConfig.text.utf8.count == 390)
        let code = try QRCode(text: Sample.wireGuardConfig.text)
        #expect(code.version == 15)
        #expect(code.size == 77)
        // 81 columns in the terminal with the default quiet zone of 2.
        let lines = code.terminal(style: .darkBackground).split(separator: "\n")
        #expect(lines.allSatisfy { $0.count == 81 })
    }

    @Test("higher error correction makes a larger symbol for the same text")
    func errorCorrectionLevels() throws {
        let sizes = try QRCode.ErrorCorrection.allCases.map { try QRCode(text: Sample.wireGuardConfig.text, errorCorrection: $0).size }
        #expect(sizes == sizes.sorted())
        #expect(Set(sizes).count > 1)
    }

    @Test("the same text gives the same symbol")
    func deterministic() throws {
        let first = try QRCode(text: Sample.wireGuardConfig.text)
        let second = try QRCode(text: Sample.wireGuardConfig.text)
        #expect(first.svg() == second.svg())
    }

    @Test("a text up to the capacity of version 40 is encoded; one byte more is a clear error", arguments: QRCode.ErrorCorrection.allCases)
    func capacity(level: QRCode.ErrorCorrection) throws {
        let largest = try QRCode(text: String(repeating: "k", count: level.byteCapacity), errorCorrection: level)
        #expect(largest.version == 40)
        #expect(largest.size == 177)
        let error = #expect(throws: QRCodeError.self) {
            try QRCode(text: String(repeating: "k", count: level.byteCapacity + 1), errorCorrection: level)
        }
        #expect(error?.isTooLong == true)
        #expect(error?.description == "the text is \(level.byteCapacity + 1) bytes, more than a QR code holds at error correction level \(level) (\(level.byteCapacity) bytes)")
    }

    @Test("the capacity counts UTF-8 bytes, not characters, less one byte for the UTF-8 ECI header", arguments: QRCode.ErrorCorrection.allCases)
    func capacityInBytes(level: QRCode.ErrorCorrection) throws {
        // "é" is two bytes; the rest is ASCII.
        let largest = "é" + String(repeating: "k", count: level.byteCapacity - 3)
        #expect(try QRCode(text: largest, errorCorrection: level).version == 40)
        let error = #expect(throws: QRCodeError.self) { try QRCode(text: largest + "k", errorCorrection: level) }
        #expect(error?.isTooLong == true)
        #expect(error?.description == "the text is \(level.byteCapacity) bytes, more than a QR code holds at error correction level \(level) (\(level.byteCapacity - 1) bytes)")
        // "€" is three bytes.
        let euros = level.byteCapacity / 3 + 1
        #expect(throws: QRCodeError.self) { try QRCode(text: String(repeating: "€", count: euros), errorCorrection: level) }
    }

    @Test("an empty text is refused")
    func empty() {
        let error = #expect(throws: QRCodeError.self) { try QRCode(text: "") }
        #expect(error?.isTooLong == false)
        #expect(error?.description == "cannot make a QR code of an empty text")
    }
}

@Suite("QR code SVG")
struct QRCodeSVGTests {
    @Test("the SVG is well-formed XML with a viewBox, a white background, one path and a title")
    func wellFormed() throws {
        let code = try QRCode(text: Sample.wireGuardConfig.text)
        let title = #"WireGuard config for "ana" <laptop> & 'phone'"#
        let svg = code.svg(moduleSize: 6, quietZone: 4, title: title)
        let parser = XMLParser(data: Data(svg.utf8))
        let collector = SVGCollector()
        parser.delegate = collector
        #expect(parser.parse(), "XMLParser: \(parser.parserError.map(String.init(describing:)) ?? "")")
        let side = code.size + 8
        let root = try #require(collector.elements.first)
        #expect(root.name == "svg")
        #expect(root.attributes["xmlns"] == "http://www.w3.org/2000/svg")
        #expect(root.attributes["viewBox"] == "0 0 \(side) \(side)")
        #expect(root.attributes["width"] == "\(side * 6)")
        #expect(root.attributes["height"] == "\(side * 6)")
        #expect(root.attributes["shape-rendering"] == "crispEdges")
        #expect(collector.elements.map(\.name) == ["svg", "title", "rect", "path"])
        #expect(collector.title == title)
        #expect(collector.elements[2].attributes["fill"] == "#fff")
        #expect(collector.elements[3].attributes["fill"] == "#000")
        let path = try #require(collector.elements[3].attributes["d"])
        #expect(path.hasPrefix("M"))
        #expect(!svg.hasPrefix("<?xml"), "no XML declaration, so it can be inlined in HTML")
        #expect(svg.utf8.count < 20_000, "compact: \(svg.utf8.count) bytes")
    }

    @Test("control characters in the title are left out, keeping the XML valid")
    func titleControlCharacters() throws {
        let svg = try QRCode(text: "x").svg(title: "a\u{1}b\u{7}c")
        let parser = XMLParser(data: Data(svg.utf8))
        let collector = SVGCollector()
        parser.delegate = collector
        #expect(parser.parse())
        #expect(collector.title == "abc")
    }

    @Test(
        "zbarimg reads the rasterized SVG back to exactly the text", .enabled(if: Tools.zbarimg != nil, "needs zbarimg (Debian: zbar-tools)"),
        .enabled(if: Tools.rsvgConvert != nil, "needs rsvg-convert (Debian: librsvg2-bin)"), arguments: Sample.all)
    func decodeSVG(sample: Sample) throws {
        let code = try QRCode(text: sample.text)
        try withTemporaryDirectory { folder in
            let svgURL = folder.appendingPathComponent("code.svg")
            let pngURL = folder.appendingPathComponent("code.png")
            try Data(code.svg().utf8).write(to: svgURL)
            let rsvgConvert = try #require(Tools.rsvgConvert)
            let converted = try Tools.run(rsvgConvert, ["--format=png", "--output=\(pngURL.path)", svgURL.path], in: folder)
            try #require(converted.status == 0, "rsvg-convert failed: \(converted.error)")
            #expect(try Tools.decode(pngURL) == sample.text)
        }
    }

    @Test(
        "zbarimg reads a full version 40 symbol with small modules", .enabled(if: Tools.zbarimg != nil, "needs zbarimg (Debian: zbar-tools)"),
        .enabled(if: Tools.rsvgConvert != nil, "needs rsvg-convert (Debian: librsvg2-bin)"))
    func decodeLargest() throws {
        // Exactly the capacity at level M, in lines of mixed ASCII and UTF-8: without the ECI header
        // for UTF-8, zbarimg takes this text for Shift JIS.
        let line = "AllowedIPs = 10.0.0.0/8, 172.16.0.0/12, fd00::/8 # Grüße\n"
        let capacity = QRCode.ErrorCorrection.medium.byteCapacity - 1
        let lines = String(repeating: line, count: capacity / line.utf8.count)
        let text = lines + String(repeating: "x", count: capacity - lines.utf8.count)
        #expect(text.utf8.count == capacity)
        let code = try QRCode(text: text)
        #expect(code.version == 40)
        try withTemporaryDirectory { folder in
            let svgURL = folder.appendingPathComponent("code.svg")
            let pngURL = folder.appendingPathComponent("code.png")
            try Data(code.svg(moduleSize: 4).utf8).write(to: svgURL)
            let rsvgConvert = try #require(Tools.rsvgConvert)
            let converted = try Tools.run(rsvgConvert, ["--format=png", "--output=\(pngURL.path)", svgURL.path], in: folder)
            try #require(converted.status == 0, "rsvg-convert failed: \(converted.error)")
            let decoded = try Tools.decode(pngURL)
            #expect(decoded == text, "decoded \(decoded.utf8.count) bytes: \(decoded.debugDescription)")
        }
    }
}

@Suite("QR code in the terminal")
struct QRCodeTerminalTests {
    @Test("the layout: two module rows per line, every line as wide as the symbol and its quiet zone")
    func layout() throws {
        let code = try QRCode(text: "hello")
        for style in [QRCode.TerminalStyle.ansiColors, .darkBackground] {
            let text = code.terminal(quietZone: 2, style: style)
            #expect(!text.hasSuffix("\n"))
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
            #expect(lines.count == (code.size + 4 + 1) / 2)
            for line in lines {
                let visible = line.replacing(/\u{1B}\[[0-9;]*m/, with: "")
                #expect(visible.count == code.size + 4)
                #expect(visible.allSatisfy { " ▀▄█".contains($0) })
                if style == .ansiColors {
                    #expect(line.hasPrefix("\u{1B}[30;47;107m") && line.hasSuffix("\u{1B}[0m"))
                } else {
                    #expect(!line.contains("\u{1B}"))
                }
            }
        }
        // The first line of the ANSI rendering is the quiet zone: all light, so all spaces.
        let first = try #require(code.terminal(style: .ansiColors).split(separator: "\n").first)
        #expect(first.replacing(/\u{1B}\[[0-9;]*m/, with: "").allSatisfy { $0 == " " })
    }

    @Test(
        "zbarimg reads the ANSI rendering on a dark and on a light terminal", .enabled(if: Tools.zbarimg != nil, "needs zbarimg (Debian: zbar-tools)"),
        arguments: Sample.all)
    func decodeANSI(sample: Sample) throws {
        let text = try QRCode(text: sample.text).terminal()
        try withTemporaryDirectory { folder in
            // The escapes set black ink on a white cell background; the terminal around it is either.
            for (name, outside) in [("dark", UInt8(24)), ("light", UInt8(250))] {
                let url = folder.appendingPathComponent("ansi-\(name).pgm")
                try renderTerminal(text, ink: 0, background: 255, outside: outside).write(to: url)
                #expect(try Tools.decode(url) == sample.text, "on a \(name) terminal")
            }
        }
    }

    @Test(
        "zbarimg reads the plain rendering on a dark terminal", .enabled(if: Tools.zbarimg != nil, "needs zbarimg (Debian: zbar-tools)"),
        arguments: Sample.all)
    func decodeDarkBackground(sample: Sample) throws {
        let text = try QRCode(text: sample.text).terminal(style: .darkBackground)
        try withTemporaryDirectory { folder in
            // Light grey block characters on a near-black terminal.
            let url = folder.appendingPathComponent("plain.pgm")
            try renderTerminal(text, ink: 220, background: 24, outside: 24).write(to: url)
            #expect(try Tools.decode(url) == sample.text)
        }
    }
}
