import StewardJSON

/// A token of the guard language, with its character offset.
struct Token: Equatable {
    enum Kind: Equatable {
        case number(JSONValue)
        case string(String)
        case name(String)
        case symbol(String)
        case end
    }
    let kind: Kind
    let offset: Int
}

/// Turns expression text into a syntax tree; reports the first error with its offset.
///
/// Nesting (parentheses, lists, function calls, `not`) is limited to `maxNesting` levels, so
/// neither parsing nor evaluating can exhaust the stack; `and`/`or` chains are flat nodes and
/// may be of any length.
struct ExpressionParser {
    /// The deepest nesting accepted.
    static let maxNesting = 64

    let source: String
    private var tokens: [Token] = []
    private var position = 0
    private var nesting = 0

    init(source: String) {
        self.source = source
    }

    mutating func parseAll() throws(ExpressionError) -> Node {
        tokens = try Self.tokenize(source)
        guard tokens.count > 1 else { throw ExpressionError(offset: 0, message: "expected an expression, found nothing") }
        let node = try parseOr()
        guard case .end = peek.kind else {
            throw ExpressionError(offset: peek.offset, message: "expected an operator or the end, found \(describe(peek))")
        }
        return node
    }

    private var peek: Token { tokens[position] }

    private mutating func advance() -> Token {
        let token = tokens[position]
        if position < tokens.count - 1 { position += 1 }
        return token
    }

    private func isName(_ name: String) -> Bool { peek.kind == .name(name) }
    private func isSymbol(_ symbol: String) -> Bool { peek.kind == .symbol(symbol) }

    private func describe(_ token: Token) -> String {
        switch token.kind {
        case .number(let value): return "number \(value)"
        case .string(let text): return "string \"\(text)\""
        case .name(let name): return "'\(name)'"
        case .symbol(let symbol): return "'\(symbol)'"
        case .end: return "the end"
        }
    }

    /// Enters one more level of nesting at `token`, refusing to go past `maxNesting`.
    private mutating func enter(_ token: Token) throws(ExpressionError) {
        nesting += 1
        guard nesting <= Self.maxNesting else {
            throw ExpressionError(offset: token.offset, message: "the expression nests deeper than \(Self.maxNesting) levels")
        }
    }

    private mutating func parseOr() throws(ExpressionError) -> Node {
        var nodes = [try parseAnd()]
        while isName("or") {
            _ = advance()
            nodes.append(try parseAnd())
        }
        return nodes.count == 1 ? nodes[0] : .or(nodes)
    }

    private mutating func parseAnd() throws(ExpressionError) -> Node {
        var nodes = [try parseNot()]
        while isName("and") {
            _ = advance()
            nodes.append(try parseNot())
        }
        return nodes.count == 1 ? nodes[0] : .and(nodes)
    }

    private mutating func parseNot() throws(ExpressionError) -> Node {
        if isName("not") {
            try enter(advance())
            defer { nesting -= 1 }
            return .not(try parseNot())
        }
        return try parseComparison()
    }

    private mutating func parseComparison() throws(ExpressionError) -> Node {
        let lhs = try parseOperand()
        let op: Comparison
        switch peek.kind {
        case .symbol(let symbol):
            guard let comparison = Comparison(rawValue: symbol), symbol != "in" else { return lhs }
            op = comparison
            _ = advance()
        case .name("in"):
            op = .contains
            _ = advance()
        case .name("not"):
            let notToken = advance()
            guard isName("in") else {
                throw ExpressionError(offset: notToken.offset, message: "expected 'in' after 'not' here")
            }
            _ = advance()
            op = .notContains
        default:
            return lhs
        }
        let rhs = try parseOperand()
        return .compare(op, lhs, rhs)
    }

    private mutating func parseOperand() throws(ExpressionError) -> Node {
        let token = advance()
        switch token.kind {
        case .number(let value):
            return .literal(value)
        case .string(let text):
            return .literal(.string(text))
        case .symbol("("):
            try enter(token)
            defer { nesting -= 1 }
            let node = try parseOr()
            guard isSymbol(")") else { throw ExpressionError(offset: peek.offset, message: "expected ')', found \(describe(peek))") }
            _ = advance()
            return node
        case .symbol("["):
            try enter(token)
            defer { nesting -= 1 }
            var elements: [Node] = []
            if isSymbol("]") {
                _ = advance()
                return .list(elements)
            }
            while true {
                elements.append(try parseOr())
                if isSymbol(",") {
                    _ = advance()
                    continue
                }
                guard isSymbol("]") else {
                    throw ExpressionError(offset: peek.offset, message: "expected ',' or ']', found \(describe(peek))")
                }
                _ = advance()
                return .list(elements)
            }
        case .name(let name):
            switch name {
            case "true": return .literal(.bool(true))
            case "false": return .literal(.bool(false))
            case "null": return .literal(.null)
            case "and", "or", "not", "in":
                throw ExpressionError(offset: token.offset, message: "expected an operand, found keyword '\(name)'")
            default: break
            }
            if isSymbol("(") {
                guard let function = Function(rawValue: name) else {
                    let known = Function.allCases.map(\.rawValue).joined(separator: ", ")
                    throw ExpressionError(offset: token.offset, message: "unknown function '\(name)'; expected one of \(known)")
                }
                try enter(token)
                defer { nesting -= 1 }
                _ = advance()
                let argument = try parseOr()
                guard isSymbol(")") else {
                    throw ExpressionError(offset: peek.offset, message: "expected ')' after the argument of \(name), found \(describe(peek))")
                }
                _ = advance()
                return .call(function, [argument])
            }
            var segments = [name]
            while isSymbol(".") {
                _ = advance()
                let next = advance()
                switch next.kind {
                case .name(let segment): segments.append(segment)
                case .number(.integer(let index)) where index >= 0: segments.append(String(index))
                default:
                    throw ExpressionError(offset: next.offset, message: "expected a name or index after '.', found \(describe(next))")
                }
            }
            return .path(segments)
        case .end:
            throw ExpressionError(offset: token.offset, message: "expected an operand, found the end")
        case .symbol(let symbol):
            throw ExpressionError(offset: token.offset, message: "expected an operand, found '\(symbol)'")
        }
    }

    static func tokenize(_ source: String) throws(ExpressionError) -> [Token] {
        let characters = Array(source)
        var tokens: [Token] = []
        var index = 0
        while index < characters.count {
            let character = characters[index]
            if character.isWhitespace {
                index += 1
                continue
            }
            let start = index
            if character == "\"" || character == "'" {
                index += 1
                var text = ""
                var closed = false
                while index < characters.count {
                    let next = characters[index]
                    if next == "\\" && index + 1 < characters.count {
                        text.append(characters[index + 1])
                        index += 2
                        continue
                    }
                    index += 1
                    if next == character {
                        closed = true
                        break
                    }
                    text.append(next)
                }
                guard closed else { throw ExpressionError(offset: start, message: "unterminated string") }
                tokens.append(Token(kind: .string(text), offset: start))
            } else if character.isNumber || (character == "-" && index + 1 < characters.count && characters[index + 1].isNumber
                && Self.expectsOperand(after: tokens.last))
            {
                index += 1
                while index < characters.count, characters[index].isNumber || characters[index] == "." && !Self.previousWasDotPath(tokens)
                    || characters[index] == "e" || characters[index] == "E"
                {
                    index += 1
                }
                let text = String(characters[start..<index])
                if let integer = Int64(text) {
                    tokens.append(Token(kind: .number(.integer(integer)), offset: start))
                } else if let double = Double(text) {
                    // An infinite literal would be stored as null and replay differently.
                    guard double.isFinite else {
                        throw ExpressionError(offset: start, message: "number '\(text)' is too large for a 64-bit floating-point number")
                    }
                    tokens.append(Token(kind: .number(.double(double)), offset: start))
                } else {
                    throw ExpressionError(offset: start, message: "invalid number '\(text)'")
                }
            } else if character.isLetter || character == "_" || character == "$" {
                index += 1
                while index < characters.count,
                    characters[index].isLetter || characters[index].isNumber || characters[index] == "_" || characters[index] == "-"
                {
                    index += 1
                }
                tokens.append(Token(kind: .name(String(characters[start..<index])), offset: start))
            } else {
                let two = index + 1 < characters.count ? String(characters[index...index + 1]) : ""
                if ["==", "!=", "<=", ">="].contains(two) {
                    tokens.append(Token(kind: .symbol(two), offset: start))
                    index += 2
                } else if "<>()[],.".contains(character) {
                    tokens.append(Token(kind: .symbol(String(character)), offset: start))
                    index += 1
                } else if character == "=" {
                    throw ExpressionError(offset: start, message: "unexpected '='; did you mean '=='?")
                } else {
                    throw ExpressionError(offset: start, message: "unexpected character '\(character)'")
                }
            }
        }
        tokens.append(Token(kind: .end, offset: characters.count))
        return tokens
    }

    /// A '-' starts a negative number only where an operand is expected.
    private static func expectsOperand(after token: Token?) -> Bool {
        guard let token else { return true }
        switch token.kind {
        case .number, .string: return false
        case .name(let name): return ["and", "or", "not", "in"].contains(name)
        case .symbol(let symbol): return symbol != ")" && symbol != "]"
        case .end: return true
        }
    }

    /// After `tags.` an index like `0` must not swallow a following `.`: `tags.0.name`.
    private static func previousWasDotPath(_ tokens: [Token]) -> Bool {
        tokens.last?.kind == .symbol(".")
    }
}
