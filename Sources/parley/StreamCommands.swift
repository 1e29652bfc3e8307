import ArgumentParser
import ParleyControl

/// `parley stats [call-id] [--watch]`: a call's statistics, once (`Calls/Stats`) or live
/// (`Calls/Watch` with `stats_interval_ms`).
struct Stats: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show call statistics; --watch keeps a live table (Ctrl-C stops).",
        discussion: """
            Without an id: every live call. Rows per call: send and recv. Columns: bitrate; round-trip \
            time; packets lost and loss (send: as the peer reports it); jitter-buffer delay of audio and \
            video; frames per second; frames encoded (send) or decoded (recv); video stamps read; latency \
            of the last stamp, capture to decode; audio concealed. With --watch on a terminal the table \
            is redrawn in place; otherwise a block is printed per sample.
            """)

    @ParentCommand var parley: Parley
    @Argument(help: "The call.")
    var callID: String?
    @Flag(help: "Keep watching: a sample every --interval.")
    var watch = false
    @Option(help: ArgumentHelp("Milliseconds between samples with --watch (100…60000).", valueName: "ms"))
    var interval: Int = 1_000
    @OptionGroup var output: OutputOptions

    func validate() throws {
        guard (100...60_000).contains(interval) else { throw ValidationError("--interval must be 100…60000 ms") }
    }

    func run() async throws {
        try await runCommand {
            let connection = try EngineConnection.open(parley.connection.socketPath)
            defer { connection.close() }
            if watch {
                try await runUntilInterrupted { [self] in try await watchStats(on: connection) }
                return
            }
            let ids = try await callIDs(on: connection)
            if !output.json { Terminal.out(StatsTable.header) }
            for id in ids {
                let stats = try await connection.call(Method.stats, ["call_id": .string(id)])
                if output.json {
                    Terminal.out(stats.serialized)
                } else {
                    for line in StatsTable.block(title: "\(id)  \(stats["state"].string ?? "")", stats: stats) {
                        Terminal.out(line)
                    }
                }
            }
        }
    }

    /// The call given, or every live call.
    private func callIDs(on connection: EngineConnection) async throws -> [String] {
        if let callID { return [callID] }
        let calls = try await connection.call(Method.list)["calls"].array.map(CallSummary.init).filter(\.isLive)
        guard !calls.isEmpty else { throw CLIFailure("no live call") }
        return calls.map(\.id)
    }

    private func watchStats(on connection: EngineConnection) async throws {
        var params: JSONObject = ["stats_interval_ms": .number(JSONNumber(Int64(interval)))]
        if let callID { params["call_id"] = .string(callID) }
        var calls: [String: JSONView] = [:]
        var stats: [String: JSONView] = [:]
        var order: [String] = []
        var block = LiveBlock()
        func remember(_ call: JSONView) {
            guard let id = call["call_id"].string else { return }
            if calls[id] == nil { order.append(id) }
            calls[id] = call
        }
        func title(_ id: String) -> String {
            let call = calls[id].map(CallSummary.init)
            return "\(id)  \(call?.stateText ?? "")  \(Format.keyPrefix(call?.peerKey))  "
                + (call?.call["peer_address"].string ?? "")
        }
        func draw(only id: String?) {
            let shown = order.filter { id == nil || $0 == id }.filter { stats[$0] != nil || calls[$0].map(CallSummary.init)?.isLive == true }
            var lines = ["\(Format.clockTime())  every \(interval) ms  (Ctrl-C stops)", StatsTable.header]
            if shown.isEmpty { lines.append("(no live call)") }
            for id in shown { lines += StatsTable.block(title: title(id), stats: stats[id]) }
            block.show(lines)
        }
        for try await value in connection.watch(params) {
            let event = JSONView(value)
            switch event["type"].string {
            case "snapshot":
                for call in event["calls"].array { remember(call) }
            case "call_added", "incoming_call", "state_changed":
                remember(event["call"])
            case "stats":
                let sample = event["stats"]
                guard let id = sample["call_id"].string else { continue }
                if output.json {
                    Terminal.out(sample.serialized)
                    continue
                }
                if calls[id] == nil { order.append(id) }
                stats[id] = sample
                // On a terminal the whole table is redrawn; in a pipe, only the call that changed.
                draw(only: block.inPlace ? nil : id)
                continue
            default:
                continue
            }
            if !output.json && block.inPlace { draw(only: nil) }
        }
    }
}

/// `parley events [--call id]`: the engine's call events as they happen (`Calls/Watch`).
struct Events: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print call events as they happen, one line each, until Ctrl-C (Calls/Watch).")

    @ParentCommand var parley: Parley
    @Option(name: .customLong("call"), help: ArgumentHelp("Only this call's events.", valueName: "call-id"))
    var callID: String?
    @Option(help: ArgumentHelp("Also a stats event per active call every this many ms (100…60000).", valueName: "ms"))
    var stats: Int?
    @Flag(help: "Skip the first event, the snapshot of the calls.")
    var noSnapshot = false
    @OptionGroup var output: OutputOptions

    func validate() throws {
        if let stats, !(100...60_000).contains(stats) { throw ValidationError("--stats must be 100…60000 ms") }
    }

    func run() async throws {
        try await runCommand {
            let connection = try EngineConnection.open(parley.connection.socketPath)
            defer { connection.close() }
            var params: JSONObject = [:]
            if let callID { params["call_id"] = .string(callID) }
            if let stats { params["stats_interval_ms"] = .number(JSONNumber(Int64(stats))) }
            if noSnapshot { params["snapshot"] = false }
            let json = output.json
            try await runUntilInterrupted { [params] in
                for try await value in connection.watch(params) {
                    Terminal.out(json ? value.serialized() : Events.line(JSONView(value)))
                }
            }
        }
    }

    /// One event as `HH:MM:SS.mmm call-1  type  details`.
    static func line(_ event: JSONView) -> String {
        let type = event["type"].string ?? "?"
        let call = event["call"]
        let id = event["call_id"].string ?? call["call_id"].string ?? event["stats"]["call_id"].string ?? "-"
        let prefix = "\(Format.clockTime()) \(Format.left(id, 7)) \(Format.left(type, 14))"
        return prefix + " " + details(type: type, event: event)
    }

    private static func details(type: String, event: JSONView) -> String {
        let call = CallSummary(call: event["call"])
        let address = event["call"]["peer_address"].string.map { " at \($0)" } ?? ""
        switch type {
        case "snapshot":
            let calls = event["calls"].array.map(CallSummary.init)
            return "\(calls.count) call\(calls.count == 1 ? "" : "s")"
                + (calls.isEmpty ? "" : ": " + calls.map { "\($0.id) \($0.state)" }.joined(separator: ", "))
        case "call_added":
            return "\(call.direction) \(Format.keyPrefix(call.peerKey))\(address)"
        case "incoming_call":
            return "from \(Format.keyPrefix(call.peerKey))\(address)"
        case "state_changed":
            let state = event["state"].string ?? call.state
            let reason = event["reason"].string.map { " (\($0))" } ?? ""
            return "→ \(state)\(reason)"
        case "verification":
            return "SAS " + (CallSummary.sasText(event["sas"]) ?? "-")
        case "verified_changed":
            return event["verified"].bool == true ? "verified" : "not verified"
        case "media_state":
            let summary = CallSummary(call: JSONView(["local_media": event["local"].value ?? .null, "peer_media": event["peer"].value ?? .null]))
            return "sending/receiving \(summary.mediaText)"
        case "peer_silent":
            return "nothing heard from the peer for 2 s"
        case "peer_resumed":
            return "the peer is heard again"
        case "stats":
            let stats = event["stats"]
            let transport = stats["transport"]
            let rtt = transport["roundTripTime"].double.map { Format.number($0 * 1_000, decimals: 1) + " ms" } ?? "-"
            let fps = Format.number(StatsTable.stream(stats, "inbound", "video")["framesPerSecond"].double, decimals: 0)
            return "↑\(Format.number(transport["sendBitrate"].double.map { $0 / 1_000 }, decimals: 0))"
                + " ↓\(Format.number(transport["receiveBitrate"].double.map { $0 / 1_000 }, decimals: 0)) kbit/s"
                + " rtt \(rtt) fps \(fps) conc \(StatsTable.concealedPercent(stats))"
        default:
            return event.serialized
        }
    }
}
