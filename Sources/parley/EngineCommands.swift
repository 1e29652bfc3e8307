import ArgumentParser
import ParleyControl

/// `parley status`: a summary of `Engine/State` — version, uptime, identity, UDP addresses, calls.
struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the engine's version, uptime, identity, addresses and calls (Engine/State).")

    @ParentCommand var parley: Parley
    @OptionGroup var output: OutputOptions

    func run() async throws {
        try await runCommand {
            let state = try await EngineConnection.with(parley.connection) { try await $0.call(Method.state) }
            if output.json {
                Terminal.out(state.serialized)
                return
            }
            for line in Status.lines(state) { Terminal.out(line) }
        }
    }

    /// The summary's lines for an `Engine/State` result.
    static func lines(_ state: JSONView) -> [String] {
        let engine = state["engine"]
        let identity = state["identity"]
        let addresses = engine["udp"]["addresses"].strings
        let port = engine["udp"]["port"].int
        let calls = state["calls"].array
        var lines = [
            "parleyd \(engine["version"].string ?? "?"), up \(Format.uptime(milliseconds: engine["uptime_ms"].int))",
            "identity     \(identity["uri"].string ?? "-")",
            "fingerprint  \(identity["fingerprint"].string ?? "-")",
            "udp          \(addresses.isEmpty ? "-" : addresses.joined(separator: ", "))"
                + (port.map { " (port \($0))" } ?? ""),
        ]
        if let socket = engine["control_socket"].string { lines.append("socket       \(socket)") }
        if let directory = engine["state_directory"].string { lines.append("state        \(directory)") }
        lines.append("calls        \(calls.count)")
        for call in calls { lines.append("  " + CallSummary(call: call).line) }
        return lines
    }
}

/// `parley identity`: this engine's public identity (`Identity/Get`).
struct Identity: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show this engine's identity: the URI to give to peers, the key and its fingerprint.")

    @ParentCommand var parley: Parley
    @OptionGroup var output: OutputOptions

    func run() async throws {
        try await runCommand {
            let identity = try await EngineConnection.with(parley.connection) { try await $0.call(Method.identity) }
            if output.json {
                Terminal.out(identity.serialized)
                return
            }
            Terminal.out("uri          \(identity["uri"].string ?? "-")")
            Terminal.out("key          \(identity["key"].string ?? "-")")
            Terminal.out("fingerprint  \(identity["fingerprint"].string ?? "-")")
            let addresses = identity["addresses"].strings
            if !addresses.isEmpty { Terminal.out("addresses    \(addresses.joined(separator: ", "))") }
        }
    }
}
