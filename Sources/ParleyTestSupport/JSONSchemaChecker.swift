public import Foundation
public import ParleyControl

/// A small JSON Schema (draft 2020-12) checker for Parley's control schemas (Protocols/control/schemas/).
///
/// It understands exactly the keywords those schemas use — `$ref` (a relative file and/or a `#/…` JSON
/// pointer), `type` (a name or an array of names), `enum`, `const`, `required`, `properties`,
/// `additionalProperties` (a boolean or a schema), `items`, `minItems`, `maxItems`, `minLength`,
/// `maxLength` (in Unicode scalars), `minimum`, `maximum`, `multipleOf`, `pattern` (searched, not
/// anchored, as JSON Schema says), `anyOf`, `oneOf` — plus the annotations in `annotationKeywords`
/// (`$defs` holds definitions and is not applied). Any other keyword, or a known one with a malformed
/// value, is reported as a violation, so a schema can never rely on a rule this checker would silently
/// skip; `schemaProblems(in:)` finds such keywords without any instance.
///
/// Files are named by their path relative to the schema directory (`"objects.json"`,
/// `"methods/Calls.Dial.json"`); a `$ref`'s file part is resolved against the directory of the file
/// holding it, as a validator resolving against the files' own locations would (the schemas therefore
/// carry no `$id`). Violations read `<instance path>: <what is wrong>`, the path starting at `$`:
/// `$.params.call_id: missing`, `$.params.bogus: unexpected member`, `$.result.calls[0].state: "x" not in enum`.
public struct JSONSchemaChecker: Sendable {
    /// Keywords that only annotate (or, for `$defs`, hold definitions) and never fail a value.
    public static let annotationKeywords: Set<String> = [
        "$schema", "$id", "$comment", "title", "description", "default", "examples", "$defs",
    ]

    /// Keywords the checker applies.
    public static let assertionKeywords: Set<String> = [
        "$ref", "type", "enum", "const", "required", "properties", "additionalProperties", "items", "minItems",
        "maxItems", "minLength", "maxLength", "minimum", "maximum", "multipleOf", "pattern", "anyOf", "oneOf",
    ]

    /// Every keyword the checker understands: the annotations and the assertions.
    public static var understoodKeywords: Set<String> { annotationKeywords.union(assertionKeywords) }

    private let source: SchemaSource

    /// A checker reading schema files from `directory` (e.g. Protocols/control/schemas/).
    public init(directory: URL) {
        source = .directory(directory)
    }

    /// A checker over schemas already parsed, keyed by their relative paths (e.g. `"objects.json"`,
    /// `"methods/Calls.Dial.json"`): for schemas embedded in the code rather than read from disk.
    public init(documents: [String: JSONValue]) {
        source = .documents(documents)
    }

    /// The violations of `value` against the schema in `schemaFile`, or against the subschema at
    /// `pointer` inside it (a JSON pointer such as `/properties/params`, with or without a leading `#`).
    /// Empty when `value` conforms.
    public func violations(of value: JSONValue, against schemaFile: String, pointer: String? = nil) -> [String] {
        var evaluation = Evaluation(source: source)
        switch evaluation.resolve(file: schemaFile, pointer: pointer ?? "") {
        case .success(let schema): return evaluation.check(value, against: schema, file: schemaFile, path: "$")
        case .failure(let problem): return ["$: \(problem.text)"]
        }
    }

    /// The violations of `value` against `schema` given inline; `$ref`s in it are resolved as if it sat
    /// in the file `file` (relative to the checker's directory).
    public func violations(of value: JSONValue, againstSchema schema: JSONValue, in file: String = "inline.json") -> [String] {
        var evaluation = Evaluation(source: source)
        return evaluation.check(value, against: schema, file: file, path: "$")
    }

    /// The problems of the schema file itself, found without any instance: keywords the checker does not
    /// understand, known keywords with malformed values, patterns that do not compile and `$ref`s that do
    /// not resolve, each as `<file>#<pointer>: <problem>`. Walks every subschema, `$defs` included.
    public func schemaProblems(in schemaFile: String) -> [String] {
        var evaluation = Evaluation(source: source)
        switch evaluation.resolve(file: schemaFile, pointer: "") {
        case .success(let schema):
            var problems: [String] = []
            evaluation.walk(schema, file: schemaFile, pointer: "", into: &problems)
            return problems
        case .failure(let problem): return ["\(schemaFile)#: \(problem.text)"]
        }
    }
}

/// Where a checker finds its schema documents.
private enum SchemaSource: Sendable {
    case directory(URL)
    case documents([String: JSONValue])
}

/// Why a file or pointer could not be resolved.
private struct ResolutionProblem: Error {
    let text: String
}

/// One evaluation: the documents loaded so far and the current depth of `$ref`s.
private struct Evaluation {
    let source: SchemaSource
    var loaded: [String: JSONValue] = [:]
    var referenceDepth = 0

    /// `$ref` chains deeper than this are reported rather than followed (a cycle that consumes nothing).
    static let maximumReferenceDepth = 64

    // MARK: Resolution

    mutating func document(_ file: String) -> Result<JSONValue, ResolutionProblem> {
        if let document = loaded[file] { return .success(document) }
        let document: JSONValue
        switch source {
        case .documents(let documents):
            guard let found = documents[file] else { return .failure(ResolutionProblem(text: "no schema file \(file)")) }
            document = found
        case .directory(let directory):
            guard let data = try? Data(contentsOf: directory.appendingPathComponent(file)) else {
                return .failure(ResolutionProblem(text: "cannot read schema file \(file)"))
            }
            guard let parsed = try? JSONValue(parsing: Array(data)) else {
                return .failure(ResolutionProblem(text: "schema file \(file) is not JSON"))
            }
            document = parsed
        }
        loaded[file] = document
        return .success(document)
    }

    mutating func resolve(file: String, pointer: String) -> Result<JSONValue, ResolutionProblem> {
        switch document(file) {
        case .failure(let problem): return .failure(problem)
        case .success(let root): return Self.follow(pointer: pointer, in: root, file: file)
        }
    }

    /// Splits `reference` into the file it names (relative to `file`'s directory) and its pointer.
    static func target(of reference: String, from file: String) -> (file: String, pointer: String) {
        let parts = reference.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)
        let filePart = String(parts[0])
        let pointer = parts.count > 1 ? String(parts[1]) : ""
        guard !filePart.isEmpty else { return (file, pointer) }
        var components = file.split(separator: "/").map(String.init).dropLast()
        for component in filePart.split(separator: "/").map(String.init) {
            switch component {
            case ".": continue
            case "..": components = components.dropLast()
            default: components.append(component)
            }
        }
        return (components.joined(separator: "/"), pointer)
    }

    static func follow(pointer: String, in root: JSONValue, file: String) -> Result<JSONValue, ResolutionProblem> {
        var text = pointer.hasPrefix("#") ? String(pointer.dropFirst()) : pointer
        text = text.removingPercentEncoding ?? text
        guard !text.isEmpty else { return .success(root) }
        guard text.hasPrefix("/") else {
            return .failure(ResolutionProblem(text: "\(file)#\(text) is not a JSON pointer"))
        }
        var current = root
        for token in text.dropFirst().split(separator: "/", omittingEmptySubsequences: false) {
            let name = token.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
            if case .object(let object) = current, let member = object[name] {
                current = member
            } else if case .array(let elements) = current, let index = Int(name), elements.indices.contains(index) {
                current = elements[index]
            } else {
                return .failure(ResolutionProblem(text: "\(file)#\(text) does not resolve"))
            }
        }
        return .success(current)
    }

    // MARK: Checking a value

    mutating func check(_ value: JSONValue, against schema: JSONValue, file: String, path: String) -> [String] {
        switch schema {
        case .bool(true): return []
        case .bool(false): return ["\(path): no value is allowed here"]
        case .object(let rules): return check(value, rules: rules, file: file, path: path)
        default: return ["\(path): schema is not an object or a boolean"]
        }
    }

    private mutating func check(_ value: JSONValue, rules: JSONObject, file: String, path: String) -> [String] {
        var found: [String] = []
        for (keyword, rule) in rules where !JSONSchemaChecker.annotationKeywords.contains(keyword) {
            switch (keyword, rule) {
            case ("$ref", .string(let reference)):
                found += follow(reference, with: value, from: file, path: path)
            case ("type", _):
                guard let types = Self.typeNames(rule) else {
                    found.append("\(path): malformed keyword type")
                    continue
                }
                if !types.contains(where: { Self.matches(value, type: $0) }) {
                    found.append("\(path): expected \(types.joined(separator: " or ")), found \(value.kindDescription)")
                }
            case ("enum", .array(let allowed)):
                if !allowed.contains(value) { found.append("\(path): \(value.serialized()) not in enum") }
            case ("const", let constant):
                if value != constant { found.append("\(path): \(value.serialized()) is not \(constant.serialized())") }
            case ("required", .array(let names)) where names.allSatisfy(\.isString):
                guard case .object(let object) = value else { continue }
                for case .string(let name) in names where object[name] == nil { found.append("\(path).\(name): missing") }
            case ("properties", .object(let properties)):
                guard case .object(let object) = value else { continue }
                for (name, member) in object {
                    if let memberSchema = properties[name] {
                        found += check(member, against: memberSchema, file: file, path: "\(path).\(name)")
                    }
                }
            case ("additionalProperties", .bool), ("additionalProperties", .object):
                guard case .object(let object) = value else { continue }
                var declared = Set<String>()
                if case .object(let properties)? = rules["properties"] { declared = Set(properties.keys) }
                for (name, member) in object where !declared.contains(name) {
                    if rule == .bool(false) {
                        found.append("\(path).\(name): unexpected member")
                    } else {
                        found += check(member, against: rule, file: file, path: "\(path).\(name)")
                    }
                }
            case ("items", .bool), ("items", .object):
                guard case .array(let elements) = value else { continue }
                for (index, element) in elements.enumerated() {
                    found += check(element, against: rule, file: file, path: "\(path)[\(index)]")
                }
            case ("minItems", _), ("maxItems", _), ("minLength", _), ("maxLength", _):
                guard let bound = Self.count(rule) else {
                    found.append("\(path): malformed keyword \(keyword)")
                    continue
                }
                found += Self.checkSize(value, keyword: keyword, bound: bound, path: path)
            case ("minimum", .number(let bound)):
                if case .number(let number) = value, Self.less(number, bound) {
                    found.append("\(path): \(number) below minimum \(bound)")
                }
            case ("maximum", .number(let bound)):
                if case .number(let number) = value, Self.less(bound, number) {
                    found.append("\(path): \(number) above maximum \(bound)")
                }
            case ("multipleOf", .number(let divisor)) where divisor.double > 0:
                if case .number(let number) = value, !Self.isMultiple(number, of: divisor) {
                    found.append("\(path): \(number) is not a multiple of \(divisor)")
                }
            case ("pattern", .string(let pattern)):
                guard case .string(let text) = value else { continue }
                guard let expression = try? NSRegularExpression(pattern: pattern) else {
                    found.append("\(path): pattern \(pattern) does not compile")
                    continue
                }
                if expression.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) == nil {
                    found.append("\(path): \(value.serialized()) does not match \(pattern)")
                }
            case ("anyOf", .array(let choices)) where !choices.isEmpty:
                let outcomes = choices.map { check(value, against: $0, file: file, path: path) }
                if !outcomes.contains(where: \.isEmpty) {
                    found.append("\(path): matches none of anyOf\(Self.closest(outcomes))")
                }
            case ("oneOf", .array(let choices)) where !choices.isEmpty:
                let outcomes = choices.map { check(value, against: $0, file: file, path: path) }
                let passing = outcomes.indices.filter { outcomes[$0].isEmpty }
                if passing.isEmpty {
                    found.append("\(path): matches none of oneOf\(Self.closest(outcomes))")
                } else if passing.count > 1 {
                    let list = passing.map { String($0 + 1) }.joined(separator: ", ")
                    found.append("\(path): matches \(passing.count) of oneOf (choices \(list)), not exactly 1")
                }
            default:
                found.append(
                    JSONSchemaChecker.assertionKeywords.contains(keyword)
                        ? "\(path): malformed keyword \(keyword)" : "\(path): checker does not understand keyword \(keyword)")
            }
        }
        return found
    }

    private mutating func follow(_ reference: String, with value: JSONValue, from file: String, path: String) -> [String] {
        guard referenceDepth < Self.maximumReferenceDepth else { return ["\(path): $ref \(reference) nests too deep"] }
        let target = Self.target(of: reference, from: file)
        switch resolve(file: target.file, pointer: target.pointer) {
        case .failure(let problem): return ["\(path): $ref \(reference): \(problem.text)"]
        case .success(let schema):
            referenceDepth += 1
            defer { referenceDepth -= 1 }
            return check(value, against: schema, file: target.file, path: path)
        }
    }

    /// The violations of the choice with the fewest (the first on ties), as a suffix for anyOf/oneOf.
    private static func closest(_ outcomes: [[String]]) -> String {
        guard let best = outcomes.indices.min(by: { outcomes[$0].count < outcomes[$1].count }) else { return "" }
        return "; closest, choice \(best + 1): \(outcomes[best].joined(separator: "; "))"
    }

    static func typeNames(_ rule: JSONValue) -> [String]? {
        let known: Set = ["object", "array", "string", "boolean", "null", "number", "integer"]
        let names: [String]
        switch rule {
        case .string(let name): names = [name]
        case .array(let elements):
            names = elements.compactMap { if case .string(let name) = $0 { name } else { nil } }
            guard names.count == elements.count, !names.isEmpty else { return nil }
        default: return nil
        }
        return names.allSatisfy(known.contains) ? names : nil
    }

    static func matches(_ value: JSONValue, type: String) -> Bool {
        switch (type, value) {
        case ("object", .object), ("array", .array), ("string", .string), ("boolean", .bool), ("null", .null), ("number", .number):
            true
        case ("integer", .number(let number)): number.exactInteger != nil || number.double.rounded() == number.double
        default: false
        }
    }

    /// A non-negative integer bound (`minItems`, `maxLength`…), or `nil` when the rule is not one.
    static func count(_ rule: JSONValue) -> Int? {
        guard case .number(let number) = rule, let integer = number.exactInteger, integer >= 0 else { return nil }
        return Int(integer)
    }

    static func checkSize(_ value: JSONValue, keyword: String, bound: Int, path: String) -> [String] {
        let size: Int
        let unit: String
        switch (keyword, value) {
        case ("minItems", .array(let elements)), ("maxItems", .array(let elements)):
            size = elements.count
            unit = "items"
        case ("minLength", .string(let text)), ("maxLength", .string(let text)):
            size = text.unicodeScalars.count
            unit = "characters"
        default: return []
        }
        if keyword.hasPrefix("min"), size < bound { return ["\(path): \(size) \(unit), fewer than \(bound)"] }
        if keyword.hasPrefix("max"), size > bound { return ["\(path): \(size) \(unit), more than \(bound)"] }
        return []
    }

    /// `lhs < rhs`, exact when both are integers.
    static func less(_ lhs: JSONNumber, _ rhs: JSONNumber) -> Bool {
        if let left = lhs.exactInteger, let right = rhs.exactInteger { return left < right }
        return lhs.double < rhs.double
    }

    static func isMultiple(_ number: JSONNumber, of divisor: JSONNumber) -> Bool {
        if let value = number.exactInteger, let step = divisor.exactInteger { return value % step == 0 }
        let quotient = number.double / divisor.double
        return quotient.isFinite && quotient.rounded() == quotient
    }

    // MARK: Checking a schema

    /// Appends the problems of `schema` (at `pointer` in `file`) and of every subschema inside it.
    mutating func walk(_ schema: JSONValue, file: String, pointer: String, into problems: inout [String]) {
        let location = "\(file)#\(pointer)"
        guard case .object(let rules) = schema else {
            if case .bool = schema { return }
            problems.append("\(location): a schema must be an object or a boolean")
            return
        }
        for (keyword, rule) in rules {
            let here = "\(pointer)/\(Self.escape(keyword))"
            var wellFormed = true
            switch keyword {
            case "$schema", "$id", "$comment", "title", "description":
                if !rule.isString { wellFormed = false }
            case "default", "examples", "const":
                break
            case "enum":
                if case .array(let values) = rule, !values.isEmpty {} else { wellFormed = false }
            case "$defs", "properties":
                guard case .object(let members) = rule else {
                    wellFormed = false
                    break
                }
                for (name, subschema) in members {
                    walk(subschema, file: file, pointer: "\(here)/\(Self.escape(name))", into: &problems)
                }
            case "additionalProperties", "items":
                walk(rule, file: file, pointer: here, into: &problems)
            case "anyOf", "oneOf":
                guard case .array(let choices) = rule, !choices.isEmpty else {
                    wellFormed = false
                    break
                }
                for (index, choice) in choices.enumerated() { walk(choice, file: file, pointer: "\(here)/\(index)", into: &problems) }
            case "$ref":
                guard case .string(let reference) = rule else {
                    wellFormed = false
                    break
                }
                let target = Self.target(of: reference, from: file)
                if case .failure(let problem) = resolve(file: target.file, pointer: target.pointer) {
                    problems.append("\(file)#\(here): $ref \(reference): \(problem.text)")
                }
            case "type":
                wellFormed = Self.typeNames(rule) != nil
            case "required":
                guard case .array(let names) = rule else {
                    wellFormed = false
                    break
                }
                wellFormed = names.allSatisfy(\.isString) && Set(names.compactMap(\.stringValue)).count == names.count
            case "minItems", "maxItems", "minLength", "maxLength":
                wellFormed = Self.count(rule) != nil
            case "minimum", "maximum":
                if case .number = rule {} else { wellFormed = false }
            case "multipleOf":
                if case .number(let divisor) = rule, divisor.double > 0 {} else { wellFormed = false }
            case "pattern":
                guard case .string(let pattern) = rule else {
                    wellFormed = false
                    break
                }
                if (try? NSRegularExpression(pattern: pattern)) == nil {
                    problems.append("\(file)#\(here): pattern does not compile")
                }
            default:
                problems.append("\(file)#\(here): checker does not understand keyword \(keyword)")
                continue
            }
            if !wellFormed { problems.append("\(file)#\(here): malformed keyword \(keyword)") }
        }
    }

    /// A JSON pointer token: `~` as `~0`, `/` as `~1`.
    static func escape(_ token: String) -> String {
        token.replacingOccurrences(of: "~", with: "~0").replacingOccurrences(of: "/", with: "~1")
    }
}

extension JSONValue {
    fileprivate var isString: Bool {
        if case .string = self { return true }
        return false
    }

    fileprivate var stringValue: String? {
        if case .string(let text) = self { return text }
        return nil
    }
}
