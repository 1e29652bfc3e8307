import Foundation
import ParleyControl
import Testing

/// Protocols/control/v1.md, read from the repository.
func controlSpec() throws -> String {
    let url = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Protocols/control/v1.md")
    return try String(contentsOf: url, encoding: .utf8)
}

@Suite struct SpecAgreementTests {
    @Test func theSpecsMethodTableListsTheCatalogInOrderWithTheSameKinds() throws {
        let rows = try controlSpec().split(separator: "\n").filter { $0.hasPrefix("| `parley.v1.") }
        let table = rows.map { row in
            let cells = row.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            return (cells[0].trimmingCharacters(in: CharacterSet(charactersIn: "`")), cells[1])
        }
        #expect(table.map(\.0) == ControlCatalog.version1.map(\.name.description))
        #expect(table.map(\.1) == ControlCatalog.version1.map { $0.kind == .unary ? "unary" : "stream" })
    }

    @Test func theSpecsStatusTableHasEveryCodeByNumberAndName() throws {
        let spec = try controlSpec()
        for status in ControlStatus.allCases {
            #expect(spec.contains("| \(status.rawValue) | `\(status.name)` |"), "\(status.name)")
        }
    }

    @Test func theSpecStatesTheDefaultMaximumFrameSize() throws {
        #expect(try controlSpec().contains("**Maximum frame size: 1 048 576 bytes (1 MiB)**"))
        #expect(ControlFramer.defaultMaximumFrameSize == 1_048_576)
    }
}
