import ArgumentParser
import ParleyControl

/// Picks the call a command acts on: `id` when given, else the only call `filter` accepts; none or
/// several is a `CLIFailure` that lists the candidates, so the user can name one.
func resolveCall(
    _ id: String?, on connection: EngineConnection, described description: String,
    _ filter: (CallSummary) -> Bool
) async throws -> String {
    if let id { return id }
    let calls = try await connection.call(Method.list)["calls"].array.map(CallSummary.init).filter(filter)
    switch calls.count {
    case 1: return calls[0].id
    case 0: throw CLIFailure("no \(description) call")
    default:
        throw CLIFailure(
            "\(calls.count) \(description) calls; name one:\n" + calls.map { "  " + $0.line }.joined(separator: "\n"))
    }
}

/// The lines describing a call's verification: SAS words and emoji, safety number, verified.
func verificationLines(_ call: JSONView) -> [String] {
    let sas = call["sas"]
    let words = sas["words"].strings
    let emoji = sas["emoji"].strings
    return [
        "SAS            \(words.isEmpty ? "(not yet: the handshake has not completed)" : words.joined(separator: " "))",
        emoji.isEmpty ? nil : "emoji          \(emoji.joined(separator: " "))",
        "safety number  \(call["safety_number"].string ?? "-")",
        "verified       \(call["verified"].bool == true ? "yes" : "no")",
    ].compactMap { $0 }
}

/// `parley call <uri>`: dials a peer (`Calls/Dial`), optionally waiting until the call is active.
struct Dial: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "call",
        abstract: "Call a peer (Calls/Dial).",
        discussion: """
            With --wait, waits until the call is active (prints the SAS to compare with the peer; exit 0) \
            or ended (prints why; exit 1). Ctrl-C while waiting hangs the call up.
            """)

    @ParentCommand var parley: Parley
    @Argument(help: "The peer: parley:<key>@<address>, or the bare 43-character key with --address.")
    var peer: String
    @Option(help: ArgumentHelp("The peer's address; wins over the URI's.", valueName: "host:port"))
    var address: String?
    @Flag(help: "Start with video off.")
    var noVideo = false
    @Flag(help: "Start with the microphone muted.")
    var noAudio = false
    @Flag(help: "Wait until the call is active or ended.")
    var wait = false
    @OptionGroup var output: OutputOptions

    func run() async throws {
        try await runCommand {
            let connection = try EngineConnection.open(parley.connection.socketPath)
            defer { connection.close() }
            var params: JSONObject = ["peer": .string(peer)]
            if let address { params["address"] = .string(address) }
            if noAudio { params["audio"] = false }
            if noVideo { params["video"] = false }
            let call = try await connection.call(Method.dial, params)
            let id = CallSummary(call: call).id
            if !wait {
                Terminal.out(output.json ? call.serialized : "\(id): \(CallSummary(call: call).stateText) \(describePeer(call))")
                return
            }
            if !output.json { Terminal.out("\(id): dialing \(describePeer(call)), waiting…") }
            let (result, interrupted) = await runInterruptibly { try await Dial.waitForOutcome(of: id, on: connection) }
            if interrupted {
                _ = try? await connection.call(Method.hangup, ["call_id": .string(id)], timeout: .seconds(3))
                Terminal.error("parley: interrupted; hung up \(id)")
                throw ExitCode(130)
            }
            let final = try result.get()
            let summary = CallSummary(call: final)
            if output.json {
                Terminal.out(final.serialized)
            } else if summary.state == "active" {
                Terminal.out("\(id): active with \(describePeer(final))")
                for line in verificationLines(final) { Terminal.out(line) }
                Terminal.out("Compare the SAS with your peer, then: parley verify \(id) --yes")
            } else {
                let detail = final["end_detail"].string.map { " (\($0))" } ?? ""
                Terminal.out("\(id): \(summary.stateText)\(detail)")
            }
            if summary.state != "active" { throw ExitCode(1) }
        }
    }

    /// `AbCdEfGh… at 127.0.0.1:5000`.
    private func describePeer(_ call: JSONView) -> String {
        let address = call["peer_address"].string ?? address
        return Format.keyPrefix(call["peer"]["key"].string) + (address.map { " at \($0)" } ?? "")
    }

    /// Watches call `id` until it is active with a SAS, or ended; returns the Call at that moment.
    static func waitForOutcome(of id: String, on connection: EngineConnection) async throws -> JSONView {
        var latest: JSONView?
        for try await value in connection.watch(["call_id": .string(id)]) {
            let event = JSONView(value)
            switch event["type"].string {
            case "snapshot":
                latest = event["calls"].array.first { $0["call_id"].string == id } ?? latest
            case "state_changed", "call_added", "incoming_call":
                latest = event["call"]
            case "verification":
                // The SAS may be announced after the state change; fold it into the Call.
                if case .object(var object)? = latest?.value {
                    object["sas"] = event["sas"].value
                    object["safety_number"] = event["safety_number"].value ?? object["safety_number"]
                    latest = JSONView(.object(object))
                }
            default: continue
            }
            guard let call = latest else { continue }
            let state = CallSummary(call: call).state
            if state == "ended" || (state == "active" && !call["sas"].isNull) { return call }
        }
        // The stream ended without an outcome (engine shutting down): report the call as it is now.
        return try await connection.call(Method.get, ["call_id": .string(id)])
    }
}

/// `parley answer [call-id]`: accepts a ringing call (`Calls/Accept`).
struct Answer: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Answer a ringing call (Calls/Accept); without an id, the only one ringing.")

    @ParentCommand var parley: Parley
    @Argument(help: "The call to answer.")
    var callID: String?
    @Flag(help: "Answer with video off.")
    var noVideo = false
    @Flag(help: "Answer with the microphone muted.")
    var noAudio = false
    @OptionGroup var output: OutputOptions

    func run() async throws {
        try await runCommand {
            try await EngineConnection.with(parley.connection) { connection in
                let id = try await resolveCall(callID, on: connection, described: "ringing") { $0.state == "ringing" }
                var params: JSONObject = ["call_id": .string(id)]
                if noAudio { params["audio"] = false }
                if noVideo { params["video"] = false }
                let call = try await connection.call(Method.accept, params)
                let summary = CallSummary(call: call)
                if output.json {
                    Terminal.out(call.serialized)
                    return
                }
                let address = call["peer_address"].string.map { " at \($0)" } ?? ""
                Terminal.out("\(id): \(summary.stateText), from \(Format.keyPrefix(summary.peerKey))\(address)")
                Terminal.out("safety number  \(call["safety_number"].string ?? "-")")
            }
        }
    }
}

/// Why a call is rejected (`Calls/Reject`'s `reason`).
enum RejectReason: String, ExpressibleByArgument, CaseIterable {
    case declined
    case busy
}

/// `parley reject [call-id]`: declines a ringing call (`Calls/Reject`).
struct Reject: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Reject a ringing call (Calls/Reject); without an id, the only one ringing.")

    @ParentCommand var parley: Parley
    @Argument(help: "The call to reject.")
    var callID: String?
    @Option(help: "What the caller is told.")
    var reason: RejectReason = .declined

    func run() async throws {
        try await runCommand {
            try await EngineConnection.with(parley.connection) { connection in
                let id = try await resolveCall(callID, on: connection, described: "ringing") { $0.state == "ringing" }
                _ = try await connection.call(Method.reject, ["call_id": .string(id), "reason": .string(reason.rawValue)])
                Terminal.out("\(id): rejected (\(reason.rawValue))")
            }
        }
    }
}

/// `parley hangup [call-id]`: ends a call (`Calls/Hangup`).
struct Hangup: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Hang up a call (Calls/Hangup); without an id, the only live one.")

    @ParentCommand var parley: Parley
    @Argument(help: "The call to end.")
    var callID: String?

    func run() async throws {
        try await runCommand {
            try await EngineConnection.with(parley.connection) { connection in
                let id = try await resolveCall(callID, on: connection, described: "live") { $0.isLive }
                _ = try await connection.call(Method.hangup, ["call_id": .string(id)])
                Terminal.out("\(id): hung up")
            }
        }
    }
}

/// `parley calls`: the calls in progress, and those ended in the last minute (`Calls/List`).
struct Calls: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the calls (Calls/List): in progress, and ended in the last minute.",
        discussion: """
            OUT/IN is what each end sends: a = audio, v = video, - = muted or off, ? = not known yet.
            """)

    @ParentCommand var parley: Parley
    @OptionGroup var output: OutputOptions

    func run() async throws {
        try await runCommand {
            let result = try await EngineConnection.with(parley.connection) { try await $0.call(Method.list) }
            if output.json {
                Terminal.out(result.serialized)
                return
            }
            let calls = result["calls"].array
            if calls.isEmpty {
                Terminal.out("no calls")
                return
            }
            for line in CallSummary.table(calls) { Terminal.out(line) }
        }
    }
}

/// `parley verify [call-id] [--yes|--no]`: shows what to compare, and records the outcome.
struct Verify: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show a call's SAS and safety number; --yes marks the peer verified, --no unmarks.",
        discussion: """
            Read the SAS words (or emoji) aloud with your peer: the same words on both ends mean nobody \
            is in the middle. The safety number is the same for every call between the two engines. \
            Without an id: the only live call.
            """)

    @ParentCommand var parley: Parley
    @Argument(help: "The call.")
    var callID: String?
    @Flag(help: "The SAS matched: mark the peer verified (Calls/MarkVerified).")
    var yes = false
    @Flag(help: "Remove the verified mark.")
    var no = false
    @OptionGroup var output: OutputOptions

    func validate() throws {
        if yes && no { throw ValidationError("--yes and --no exclude each other") }
    }

    func run() async throws {
        try await runCommand {
            try await EngineConnection.with(parley.connection) { connection in
                let id = try await resolveCall(callID, on: connection, described: "live") { $0.isLive }
                let call =
                    yes || no
                    ? try await connection.call(Method.markVerified, ["call_id": .string(id), "verified": .bool(yes)])
                    : try await connection.call(Method.get, ["call_id": .string(id)])
                if output.json {
                    Terminal.out(call.serialized)
                    return
                }
                let summary = CallSummary(call: call)
                Terminal.out("\(id) with \(Format.keyPrefix(summary.peerKey)) (\(summary.stateText))")
                for line in verificationLines(call) { Terminal.out(line) }
            }
        }
    }
}

/// The options `mute` and `unmute` share.
struct MediaSelection: ParsableArguments {
    @Argument(help: "The call; without it, the only live call.")
    var callID: String?
    @Flag(help: "The microphone (the default when neither --audio nor --video is given).")
    var audio = false
    @Flag(help: "The camera.")
    var video = false

    /// `Calls/Mute`/`Unmute` params for `id`: the media chosen, audio alone when none was.
    func params(for id: String) -> JSONObject {
        var params: JSONObject = ["call_id": .string(id)]
        params["audio"] = audio || !video ? true : nil
        params["video"] = video ? true : nil
        return params
    }

    /// `audio`, `video` or `audio and video`.
    var description: String {
        switch (audio || !video, video) {
        case (true, true): "audio and video"
        case (false, true): "video"
        default: "audio"
        }
    }
}

/// Runs `Calls/Mute` or `Calls/Unmute` for a `MediaSelection` and prints what each end now sends.
func changeMedia(_ method: MethodName, verb: String, selection: MediaSelection, parley: Parley, json: Bool)
    async throws
{
    try await runCommand {
        try await EngineConnection.with(parley.connection) { connection in
            let id = try await resolveCall(selection.callID, on: connection, described: "live") { $0.isLive }
            let call = try await connection.call(method, selection.params(for: id))
            Terminal.out(
                json ? call.serialized : "\(id): \(selection.description) \(verb); sending/receiving \(CallSummary(call: call).mediaText)")
        }
    }
}

/// `parley mute [call-id] [--audio] [--video]`: stops sending a medium (`Calls/Mute`).
struct Mute: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Stop sending audio (default) or video on a call (Calls/Mute).")

    @ParentCommand var parley: Parley
    @OptionGroup var selection: MediaSelection
    @OptionGroup var output: OutputOptions

    func run() async throws {
        try await changeMedia(Method.mute, verb: "muted", selection: selection, parley: parley, json: output.json)
    }
}

/// `parley unmute [call-id] [--audio] [--video]`: resumes sending a medium (`Calls/Unmute`).
struct Unmute: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Resume sending audio (default) or video on a call (Calls/Unmute).")

    @ParentCommand var parley: Parley
    @OptionGroup var selection: MediaSelection
    @OptionGroup var output: OutputOptions

    func run() async throws {
        try await changeMedia(Method.unmute, verb: "unmuted", selection: selection, parley: parley, json: output.json)
    }
}
