extension QRCode {
    /// The symbol as a self-contained SVG document (no XML declaration, so it can also be inlined
    /// in HTML): a white background and one black `<path>` of the dark modules, drawn row by row as
    /// runs, with `shape-rendering="crispEdges"` so that no seams show between neighbouring modules.
    ///
    /// The `viewBox` counts modules (quiet zone included); `width` and `height` are that count times
    /// `moduleSize` pixels, and CSS may scale the image freely. `quietZone` is the light margin in
    /// modules: the standard asks for 4. `title` becomes the image's `<title>`, its accessible name.
    public func svg(moduleSize: Int = 8, quietZone: Int = 4, title: String = "QR code") -> String {
        let margin = max(quietZone, 0)
        let side = size + 2 * margin
        let pixels = side * max(moduleSize, 1)
        var path = ""
        // Each run of dark modules in a row is one closed rectangle. After `z` the pen is back at the
        // rectangle's top left corner, so the next one starts with a short relative move.
        var pen = (x: 0, y: 0)
        for y in 0..<size {
            var x = 0
            while x < size {
                guard isDark(x: x, y: y) else {
                    x += 1
                    continue
                }
                let start = x
                while x < size, isDark(x: x, y: y) { x += 1 }
                let length = x - start
                let (left, top) = (start + margin, y + margin)
                if path.isEmpty {
                    path += "M\(left) \(top)"
                } else {
                    path += "m\(left - pen.x) \(top - pen.y)"
                }
                path += "h\(length)v1h-\(length)z"
                pen = (left, top)
            }
        }
        return """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(pixels)" height="\(pixels)" viewBox="0 0 \(side) \(side)" \
            shape-rendering="crispEdges" role="img"><title>\(Self.escapeXML(title))</title>\
            <rect width="\(side)" height="\(side)" fill="#fff"/><path fill="#000" d="\(path)"/></svg>
            """
    }

    /// `text` with the characters that XML reserves replaced by entity references, and the control
    /// characters that XML cannot hold at all left out.
    static func escapeXML(_ text: String) -> String {
        var escaped = ""
        escaped.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": escaped += "&amp;"
            case "<": escaped += "&lt;"
            case ">": escaped += "&gt;"
            case "\"": escaped += "&quot;"
            case "'": escaped += "&apos;"
            case "\t", "\n", "\r": escaped.unicodeScalars.append(scalar)
            case _ where scalar.value < 0x20 || scalar.value == 0xFFFE || scalar.value == 0xFFFF: continue
            default: escaped.unicodeScalars.append(scalar)
            }
        }
        return escaped
    }
}
