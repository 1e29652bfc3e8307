import Foundation
import ParleyControl
import ParleyTestSupport
import Testing

/// Checks every recorded request's params, result and event against the method's JSON Schema in
/// Protocols/control/schemas/methods/ (real traffic, as ARCHITECTURE §6 asks).
func checkAgainstSchemas(_ recorder: TrafficRecorder, sourceLocation: SourceLocation = #_sourceLocation) throws {
    let checker = JSONSchemaChecker(directory: Locations.repository.appendingPathComponent("Protocols/control/schemas"))
    var checked = 0
    for exchange in recorder.all {
        let file = "methods/" + exchange.method.replacingOccurrences(of: "/", with: ".") + ".json"
        var problems = checker.violations(of: .object(exchange.params), against: file, pointer: "/properties/params")
        if let result = exchange.result {
            problems += checker.violations(of: result, against: file, pointer: "/properties/result")
        }
        for event in exchange.events {
            problems += checker.violations(of: event, against: file, pointer: "/properties/event")
        }
        for problem in problems {
            Issue.record("\(exchange.method): \(problem)", sourceLocation: sourceLocation)
        }
        checked += 1
    }
    #expect(checked > 0, "nothing was recorded", sourceLocation: sourceLocation)
}
