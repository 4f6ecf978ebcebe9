import CQRencode

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A QR code symbol, encoded by libqrencode: the text's UTF-8 bytes in 8-bit (byte) mode, in the
/// smallest version (size) that holds them at the chosen error correction level.
///
/// Used to hand a wg-quick config to the WireGuard mobile app: as SVG on the enrollment page
/// (``svg(moduleSize:quietZone:title:)``) and as text in the terminal (``terminal(quietZone:style:)``).
///
/// ASCII text (a wg-quick config: base64 keys, addresses, a host name) is encoded plainly, which every reader
/// takes as it is. Text with other characters gets an ECI header that marks it as UTF-8: without
/// one, readers guess the byte mode's character set, and they guess wrong (`zbarimg` reads a long
/// mostly-ASCII text with a few accents as Shift JIS).
public struct QRCode: Sendable {
    /// How much of the symbol may be damaged or hidden and still be read; more correction means a
    /// larger symbol for the same text.
    public enum ErrorCorrection: Sendable, Hashable, CaseIterable, CustomStringConvertible {
        /// About 7% of the codewords can be restored.
        case low
        /// About 15% of the codewords can be restored: the usual choice for a screen.
        case medium
        /// About 25% of the codewords can be restored.
        case quartile
        /// About 30% of the codewords can be restored.
        case high

        /// The most bytes of ASCII text a symbol (version 40) holds at this level in 8-bit mode.
        /// Other text holds one byte less, for the ECI header that marks it as UTF-8.
        public var byteCapacity: Int {
            switch self {
            case .low: 2953
            case .medium: 2331
            case .quartile: 1663
            case .high: 1273
            }
        }

        /// The level's letter in the QR code standard: L, M, Q or H.
        public var description: String {
            switch self {
            case .low: "L"
            case .medium: "M"
            case .quartile: "Q"
            case .high: "H"
            }
        }

        var level: QRecLevel {
            switch self {
            case .low: QR_ECLEVEL_L
            case .medium: QR_ECLEVEL_M
            case .quartile: QR_ECLEVEL_Q
            case .high: QR_ECLEVEL_H
            }
        }
    }

    /// The number of modules on each side, without a quiet zone: 21 for version 1 up to 177 for version 40.
    public let size: Int

    /// The symbol version, 1 to 40, that libqrencode chose as the smallest to hold the text.
    public let version: Int

    /// The error correction level the symbol was encoded with.
    public let errorCorrection: ErrorCorrection

    /// The modules row by row, `true` for dark.
    private let modules: [Bool]

    /// The ECI assignment number of UTF-8.
    private static let utf8ECI: UInt32 = 26

    /// Encodes `text` as UTF-8 bytes in 8-bit mode, in the smallest version that holds it, with an
    /// ECI header for UTF-8 when the text is not all ASCII.
    ///
    /// Throws a ``QRCodeError`` when the text is empty, or longer than a QR code holds at
    /// `errorCorrection` (see ``ErrorCorrection/byteCapacity``: 2,331 bytes of ASCII at the default, medium).
    public init(text: String, errorCorrection: ErrorCorrection = .medium) throws(QRCodeError) {
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty else { throw QRCodeError.empty }
        let isASCII = bytes.allSatisfy { $0 < 0x80 }
        let capacity = errorCorrection.byteCapacity - (isASCII ? 0 : 1)
        guard bytes.count <= capacity else {
            throw QRCodeError.tooLong(byteCount: bytes.count, errorCorrection: errorCorrection, capacity: capacity)
        }
        // Version 0: the library picks the smallest version that holds the input.
        errno = 0
        guard let input = QRinput_new2(0, errorCorrection.level) else { throw QRCodeError.library(errno: errno) }
        defer { QRinput_free(input) }
        if !isASCII, QRinput_appendECIheader(input, Self.utf8ECI) != 0 {
            throw QRCodeError.library(errno: errno)
        }
        let appended = bytes.withUnsafeBufferPointer { buffer in
            QRinput_append(input, QR_MODE_8, Int32(buffer.count), buffer.baseAddress)
        }
        guard appended == 0 else { throw QRCodeError.library(errno: errno) }
        errno = 0
        guard let encoded = QRcode_encodeInput(input) else {
            // The capacity check above should make this unreachable; libqrencode has the last word.
            if errno == ERANGE {
                throw QRCodeError.tooLong(byteCount: bytes.count, errorCorrection: errorCorrection, capacity: capacity)
            }
            throw QRCodeError.library(errno: errno)
        }
        defer { QRcode_free(encoded) }
        let width = Int(encoded.pointee.width)
        guard width > 0, let data = encoded.pointee.data else { throw QRCodeError.library(errno: EINVAL) }
        // Bit 0 of each byte is the module's colour; the other bits say what part of the symbol it is.
        let buffer = UnsafeBufferPointer(start: data, count: width * width)
        self.modules = buffer.map { $0 & 1 == 1 }
        self.size = width
        self.version = Int(encoded.pointee.version)
        self.errorCorrection = errorCorrection
    }

    /// Whether the module in column `x`, row `y` (from the top left, 0-based) is dark. Coordinates
    /// outside the symbol are light, like the quiet zone around it.
    public func isDark(x: Int, y: Int) -> Bool {
        guard x >= 0, y >= 0, x < size, y < size else { return false }
        return modules[y * size + x]
    }
}

/// Why a text could not be encoded as a QR code.
public struct QRCodeError: Error, Sendable, Equatable, CustomStringConvertible {
    private enum Kind: Sendable, Equatable {
        case empty
        case tooLong(byteCount: Int, errorCorrection: QRCode.ErrorCorrection, capacity: Int)
        case library(errno: Int32)
    }

    private let kind: Kind

    private init(_ kind: Kind) {
        self.kind = kind
    }

    static let empty = QRCodeError(.empty)

    static func tooLong(byteCount: Int, errorCorrection: QRCode.ErrorCorrection, capacity: Int) -> QRCodeError {
        QRCodeError(.tooLong(byteCount: byteCount, errorCorrection: errorCorrection, capacity: capacity))
    }

    static func library(errno: Int32) -> QRCodeError { QRCodeError(.library(errno: errno)) }

    /// Whether the text was longer than a QR code holds at the requested error correction level.
    public var isTooLong: Bool {
        if case .tooLong = kind { return true }
        return false
    }

    public var description: String {
        switch kind {
        case .empty:
            "cannot make a QR code of an empty text"
        case .tooLong(let byteCount, let errorCorrection, let capacity):
            "the text is \(byteCount) bytes, more than a QR code holds at error correction level \(errorCorrection) (\(capacity) bytes)"
        case .library(let code):
            "libqrencode could not encode the text: \(code == 0 ? "unknown error" : String(cString: strerror(code)))"
        }
    }
}
