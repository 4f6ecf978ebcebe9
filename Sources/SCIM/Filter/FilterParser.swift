/// Parses the filter grammar of RFC 7644 §3.4.2.2 (Figure 1).
///
/// Precedence from tightest: `not (…)`, `and`, `or`; parentheses group. Attribute names and operators are
/// case-insensitive. Errors carry the 1-based character position where parsing failed.
public struct FilterParser {
    /// Deepest nesting of parentheses and value paths accepted, so hostile input cannot exhaust the stack.
    public static let maximumDepth = 32
    /// Most `and`/`or` operators accepted: each one deepens the (left-leaning) tree that every later pass
    /// walks recursively, so an unbounded chain could exhaust the stack just as unbounded nesting would.
    public static let maximumLogicalOperators = 100

    private enum Token: Equatable {
        case word(String)  // attribute path, operator, keyword or literal true/false/null
        case string(String)
        case number(JSON)
        case openParen, closeParen, openBracket, closeBracket
        case end
    }

    private let scalars: [Unicode.Scalar]
    private var index = 0
    private var depth = 0
    private var logicalOperators = 0
    private var token: Token = .end
    private var tokenStart = 0

    private init(_ text: String) {
        self.scalars = Array(text.unicodeScalars)
    }

    /// Parses `text` into a `Filter`.
    public static func parse(_ text: String) throws(FilterError) -> Filter {
        var parser = FilterParser(text)
        try parser.advance()
        guard parser.token != .end else { throw FilterError("Empty filter", position: 1) }
        let filter = try parser.parseOr(insideValuePath: false)
        guard parser.token == .end else {
            throw FilterError("Expected 'and', 'or' or the end of the filter, found \(parser.describe(parser.token))", position: parser.tokenStart)
        }
        return filter
    }

    // MARK: Grammar

    private mutating func parseOr(insideValuePath: Bool) throws(FilterError) -> Filter {
        var left = try parseAnd(insideValuePath: insideValuePath)
        while isKeyword("or") {
            try countLogicalOperator()
            try advance()
            let right = try parseAnd(insideValuePath: insideValuePath)
            left = .or(left, right)
        }
        return left
    }

    private mutating func parseAnd(insideValuePath: Bool) throws(FilterError) -> Filter {
        var left = try parseUnary(insideValuePath: insideValuePath)
        while isKeyword("and") {
            try countLogicalOperator()
            try advance()
            let right = try parseUnary(insideValuePath: insideValuePath)
            left = .and(left, right)
        }
        return left
    }

    private mutating func parseUnary(insideValuePath: Bool) throws(FilterError) -> Filter {
        if isKeyword("not") {
            let notPosition = tokenStart
            try advance()
            guard token == .openParen else {
                throw FilterError("Expected '(' after 'not'", position: token == .end ? notPosition : tokenStart)
            }
            return .not(try parseParenthesized(insideValuePath: insideValuePath))
        }
        if token == .openParen {
            return try parseParenthesized(insideValuePath: insideValuePath)
        }
        return try parseAttributeExpression(insideValuePath: insideValuePath)
    }

    private mutating func parseParenthesized(insideValuePath: Bool) throws(FilterError) -> Filter {
        let open = tokenStart
        try enterNesting()
        try advance()
        let inner = try parseOr(insideValuePath: insideValuePath)
        guard token == .closeParen else {
            throw FilterError("Expected ')' to close the '(' opened at position \(open), found \(describe(token))", position: tokenStart)
        }
        depth -= 1
        try advance()
        return inner
    }

    private mutating func parseAttributeExpression(insideValuePath: Bool) throws(FilterError) -> Filter {
        guard case .word(let word) = token else {
            throw FilterError("Expected an attribute name, found \(describe(token))", position: tokenStart)
        }
        let pathPosition = tokenStart
        guard let path = AttributePath.parse(word) else {
            throw FilterError("Invalid attribute path '\(word)'", position: pathPosition)
        }
        try advance()
        if token == .openBracket {
            guard !insideValuePath else {
                throw FilterError("Value filters cannot be nested", position: tokenStart)
            }
            let open = tokenStart
            try enterNesting()
            try advance()
            let inner = try parseOr(insideValuePath: true)
            guard token == .closeBracket else {
                throw FilterError("Expected ']' to close the '[' opened at position \(open), found \(describe(token))", position: tokenStart)
            }
            depth -= 1
            try advance()
            return .valuePath(path, inner, position: pathPosition)
        }
        guard case .word(let operatorWord) = token else {
            throw FilterError("Expected an operator after '\(word)', found \(describe(token))", position: token == .end ? scalars.count + 1 : tokenStart)
        }
        let lowered = operatorWord.lowercased()
        if lowered == "pr" {
            try advance()
            return .present(path, position: pathPosition)
        }
        guard let comparison = Filter.ComparisonOperator(rawValue: lowered) else {
            throw FilterError("Unknown operator '\(operatorWord)'", position: tokenStart)
        }
        try advance()
        let value = try parseComparisonValue(after: operatorWord)
        return .comparison(path, comparison, value, position: pathPosition)
    }

    private mutating func parseComparisonValue(after operatorWord: String) throws(FilterError) -> JSON {
        let value: JSON
        switch token {
        case .string(let string): value = .string(string)
        case .number(let number): value = number
        case .word(let word):
            switch word.lowercased() {
            case "true": value = .bool(true)
            case "false": value = .bool(false)
            case "null": value = .null
            default:
                throw FilterError("Expected a value after '\(operatorWord)' (a quoted string, number, true, false or null), found '\(word)'", position: tokenStart)
            }
        default:
            throw FilterError("Expected a value after '\(operatorWord)', found \(describe(token))", position: token == .end ? scalars.count + 1 : tokenStart)
        }
        try advance()
        return value
    }

    private mutating func enterNesting() throws(FilterError) {
        depth += 1
        guard depth <= Self.maximumDepth else {
            throw FilterError("Filter nested deeper than \(Self.maximumDepth) levels", position: tokenStart)
        }
    }

    private mutating func countLogicalOperator() throws(FilterError) {
        logicalOperators += 1
        guard logicalOperators <= Self.maximumLogicalOperators else {
            throw FilterError("Filter has more than \(Self.maximumLogicalOperators) 'and'/'or' operators", position: tokenStart)
        }
    }

    private func isKeyword(_ keyword: String) -> Bool {
        if case .word(let word) = token { return word.lowercased() == keyword }
        return false
    }

    // MARK: Tokens

    private mutating func advance() throws(FilterError) {
        while index < scalars.count, scalars[index] == " " || scalars[index] == "\t" || scalars[index] == "\n" || scalars[index] == "\r" {
            index += 1
        }
        tokenStart = index + 1
        guard index < scalars.count else {
            token = .end
            return
        }
        let scalar = scalars[index]
        switch scalar {
        case "(": index += 1; token = .openParen
        case ")": index += 1; token = .closeParen
        case "[": index += 1; token = .openBracket
        case "]": index += 1; token = .closeBracket
        case "\"": token = .string(try lexString())
        case "-", "0"..."9": token = .number(try lexNumber())
        default:
            guard scalar.isASCII, AttributePath.isPathCharacter(UInt8(scalar.value)) else {
                throw FilterError("Unexpected character '\(scalar)'", position: tokenStart)
            }
            let start = index
            while index < scalars.count, scalars[index].isASCII, AttributePath.isPathCharacter(UInt8(scalars[index].value)) {
                index += 1
            }
            token = .word(text(start..<index))
        }
    }

    private mutating func lexString() throws(FilterError) -> String {
        let start = index
        index += 1
        while index < scalars.count {
            if scalars[index] == "\\" {
                index += 2
                continue
            }
            if scalars[index] == "\"" {
                index += 1
                // Without escapes the text between the quotes is the value (the usual case).
                if !scalars[(start + 1)..<(index - 1)].contains(where: { $0.value < 0x20 || $0 == "\\" }) {
                    return text((start + 1)..<(index - 1))
                }
                let literal = text(start..<index)
                do {
                    guard case .string(let value) = try JSONParser.parse(literal) else { break }
                    return value
                } catch {
                    throw FilterError("Invalid string literal: \(error.message)", position: start + 1)
                }
            }
            index += 1
        }
        throw FilterError("Unterminated string literal", position: start + 1)
    }

    /// The scalars in `range` as a String; ASCII (nearly every filter) is copied byte for byte, which
    /// costs a fraction of appending scalar by scalar.
    private func text(_ range: Range<Int>) -> String {
        let slice = scalars[range]
        guard slice.allSatisfy(\.isASCII) else { return String(String.UnicodeScalarView(slice)) }
        return String(unsafeUninitializedCapacity: slice.count) { buffer in
            for (offset, scalar) in zip(buffer.indices, slice) {
                buffer[offset] = UInt8(truncatingIfNeeded: scalar.value)
            }
            return slice.count
        }
    }

    private mutating func lexNumber() throws(FilterError) -> JSON {
        let start = index
        while index < scalars.count, "-+.eE0123456789".unicodeScalars.contains(scalars[index]) {
            index += 1
        }
        let literal = text(start..<index)
        guard let number = try? JSONParser.parse(literal), number.doubleValue != nil else {
            throw FilterError("Invalid number '\(literal)'", position: start + 1)
        }
        return number
    }

    private func describe(_ token: Token) -> String {
        switch token {
        case .word(let word): "'\(word)'"
        case .string(let string): "the string \"\(string)\""
        case .number(let number): "the number \(number.jsonText)"
        case .openParen: "'('"
        case .closeParen: "')'"
        case .openBracket: "'['"
        case .closeBracket: "']'"
        case .end: "the end of the filter"
        }
    }
}
