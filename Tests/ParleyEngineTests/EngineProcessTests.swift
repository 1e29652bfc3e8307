import Foundation
import ParleyControl
import ParleyCrypto
import ParleyDevices
import ParleyMedia
import Testing

/// Two real `parleyd` processes on loopback, driven over their control sockets by the Swift client:
/// real UDP, real Opus and VP8, SRTP and SFrame, synthetic camera and microphone (320×240 to spare the
/// CPU). Serialized: each call is two encoders and two decoders on a 2-core machine.
@Suite("parleyd processes", .serialized)
struct EngineProcessTests {
    /// A dials B by URI; B's front-end accepts the ringing call; both go active with equal SAS.
    static func connect(
        _ pair: DaemonPair, recorder: TrafficRecorder
    ) async throws -> (a: ControlClient, b: ControlClient, watchA: EventLog, watchB: EventLog, callA: String, callB: String) {
        let a = try pair.a.client()
        let b = try pair.b.client()
        let watchA = EventLog(a, recorder: recorder)
        let watchB = EventLog(b, recorder: recorder)
        _ = await watchB.first { $0["type"]?.text == "snapshot" }
        let uri = try #require(try await recorder.call(b, "Identity/Get")["uri"]?.text)
        let dialled = try await recorder.call(a, "Calls/Dial", ["peer": .string(uri)])
        let callA = try #require(dialled["call_id"]?.text)
        #expect(dialled["state"]?.text == "dialing")
        let ringing = try #require(await watchB.first(where: Events.isIncomingCall))
        let callB = try #require(ringing["call.call_id"]?.text)
        #expect(ringing["call.state"]?.text == "ringing")
        #expect(ringing["call.peer.key"] == (try await recorder.call(a, "Identity/Get"))["key"])
        try await recorder.call(b, "Calls/Accept", ["call_id": .string(callB)])
        #expect(await watchA.first(where: Events.isState("active", of: callA)) != nil)
        #expect(await watchB.first(where: Events.isState("active", of: callB)) != nil)
        return (a, b, watchA, watchB, callA, callB)
    }

    @Test("A call by Dial carries audio and video both ways, stamps in order, equal SAS; hangup reaches the peer")
    func dialledCallCarriesMediaBothWays() async throws {
        let pair = try await DaemonPair.start()
        let recorder = TrafficRecorder()
        let call = try await Self.connect(pair, recorder: recorder)
        let sasA = try await recorder.call(call.a, "Calls/Get", ["call_id": .string(call.callA)])["sas"]
        let sasB = try await recorder.call(call.b, "Calls/Get", ["call_id": .string(call.callB)])["sas"]
        #expect(sasA != nil && sasA != .null && sasA == sasB)

        try await Task.sleep(for: .seconds(3))
        for (client, id) in [(call.a, call.callA), (call.b, call.callB)] {
            let stats = try await recorder.call(client, "Calls/Stats", ["call_id": .string(id)])
            let video = try #require(inbound(stats, "video"))
            let audio = try #require(inbound(stats, "audio"))
            #expect((video["framesDecoded"]?.double ?? 0) > 10, "video decoded at \(id): \(video)")
            #expect((audio["packetsReceived"]?.double ?? 0) > 50, "audio received at \(id): \(audio)")
            #expect((audio["jitterBufferEmittedCount"]?.double ?? 0) > 0)
            #expect((stats["media.video_stamps_read"]?.double ?? 0) > 10, "stamps at \(id)")
            #expect(stats["media.video_stamps_out_of_order"]?.double == 0)
            // Nothing forged, replayed or undecryptable on a clean path. The one drop a loaded machine can
            // show: a response to an initiation the caller had already replaced by a retry while ringing.
            let reasons = Set(stats["dropped.by_reason"].map { value -> [String] in
                if case .object(let object) = value { object.keys } else { [] }
            } ?? [])
            #expect(reasons.isSubset(of: ["handshake_response_rejected"]), "drops at \(id): \(stats["dropped"] ?? .null)")
        }

        try await recorder.call(call.a, "Calls/Hangup", ["call_id": .string(call.callA)])
        let endedB = await call.watchB.first(where: Events.isState("ended", of: call.callB))
        #expect(endedB?["reason"]?.text == "remote_hangup")
        let endedA = await call.watchA.first(where: Events.isState("ended", of: call.callA))
        #expect(endedA?["reason"]?.text == "hangup")
        call.watchA.stop()
        call.watchB.stop()
        await pair.stop()
        try checkAgainstSchemas(recorder)
    }

    @Test("A call by CreateOffer, AcceptOffer and ApplyAnswer becomes active and carries media")
    func offerAnswerCallCarriesMedia() async throws {
        let pair = try await DaemonPair.start()
        let recorder = TrafficRecorder()
        let a = try pair.a.client()
        let b = try pair.b.client()
        let watchA = EventLog(a, recorder: recorder)
        let keyB = try #require(try await recorder.call(b, "Identity/Get")["key"]?.text)
        let made = try await recorder.call(a, "Calls/CreateOffer", ["peer": .string(keyB)])
        let callA = try #require(made["call.call_id"]?.text)
        #expect(made["call.state"]?.text == "offered")
        let offer = try #require(made["offer"]?.text)

        let accepted = try await recorder.call(b, "Calls/AcceptOffer", ["offer": .string(offer)])
        let callB = try #require(accepted["call.call_id"]?.text)
        #expect(accepted["call.signalling"]?.text == "offer")
        let answer = try #require(accepted["answer"]?.text)
        let applied = try await recorder.call(a, "Calls/ApplyAnswer", ["call_id": .string(callA), "answer": .string(answer)])
        #expect(applied["call_id"]?.text == callA)
        #expect(await watchA.first(where: Events.isState("active", of: callA)) != nil)

        try await Task.sleep(for: .seconds(2))
        let statsB = try await recorder.call(b, "Calls/Stats", ["call_id": .string(callB)])
        #expect((inbound(statsB, "video")?["framesDecoded"]?.double ?? 0) > 0)
        #expect((inbound(statsB, "audio")?["packetsReceived"]?.double ?? 0) > 0)
        // The same offer a second time is a replay: refused, naming the field.
        await #expect {
            try await b.call(MethodName.v1("Calls/AcceptOffer"), params: ["offer": .string(offer)])
        } throws: { error in
            guard case ControlClientError.status(.invalidArgument, _, let details) = error else { return false }
            return details?["field"] == "params.offer"
        }
        watchA.stop()
        await pair.stop()
        try checkAgainstSchemas(recorder)
    }

    @Test("Muting stops the media and the peer sees it; unmuting resumes it")
    func muteStopsMediaAndThePeerSeesIt() async throws {
        let pair = try await DaemonPair.start()
        let recorder = TrafficRecorder()
        let call = try await Self.connect(pair, recorder: recorder)
        try await Task.sleep(for: .seconds(1))
        let muted = try await recorder.call(call.a, "Calls/Mute", ["call_id": .string(call.callA), "audio": true, "video": true])
        #expect(muted["local_media"] == ["audio": false, "video": false])
        let seen = await call.watchB.first {
            $0["type"]?.text == "media_state" && $0["call_id"]?.text == call.callB && $0["peer.audio"] == .bool(false)
        }
        #expect(seen?["peer.video"] == .bool(false))
        // Let what was in flight arrive, then nothing more may come.
        try await Task.sleep(for: .milliseconds(500))
        let before = try await recorder.call(call.b, "Calls/Stats", ["call_id": .string(call.callB)])
        try await Task.sleep(for: .milliseconds(1_500))
        let after = try await recorder.call(call.b, "Calls/Stats", ["call_id": .string(call.callB)])
        #expect(inbound(after, "audio")?["packetsReceived"] == inbound(before, "audio")?["packetsReceived"])
        #expect(inbound(after, "video")?["framesDecoded"] == inbound(before, "video")?["framesDecoded"])
        #expect(try await recorder.call(call.b, "Calls/Get", ["call_id": .string(call.callB)])["peer_media"] == ["audio": false, "video": false])

        try await recorder.call(call.a, "Calls/Unmute", ["call_id": .string(call.callA), "audio": true, "video": true])
        try await Task.sleep(for: .milliseconds(1_500))
        let resumed = try await recorder.call(call.b, "Calls/Stats", ["call_id": .string(call.callB)])
        #expect((inbound(resumed, "audio")?["packetsReceived"]?.double ?? 0) > (inbound(after, "audio")?["packetsReceived"]?.double ?? 0))
        #expect((inbound(resumed, "video")?["framesDecoded"]?.double ?? 0) > (inbound(after, "video")?["framesDecoded"]?.double ?? 0))
        call.watchA.stop()
        call.watchB.stop()
        await pair.stop()
        try checkAgainstSchemas(recorder)
    }

    @Test("Calls/Record writes the received pictures (stamps in order) and audio (markers 500 ms apart) and the local camera")
    func recordingWritesReceivedAndLocalMedia() async throws {
        let pair = try await DaemonPair.start()
        let recorder = TrafficRecorder()
        let call = try await Self.connect(pair, recorder: recorder)
        let video = pair.b.directory.appendingPathComponent("received.y4m").path
        let audio = pair.b.directory.appendingPathComponent("received.wav").path
        let local = pair.a.directory.appendingPathComponent("local.y4m").path
        try await recorder.call(call.b, "Calls/Record", ["call_id": .string(call.callB), "received_video": .string(video), "received_audio": .string(audio)])
        try await recorder.call(call.a, "Calls/Record", ["call_id": .string(call.callA), "local_video": .string(local)])
        try await Task.sleep(for: .seconds(3))
        let stopped = try await recorder.call(call.b, "Calls/Record", ["call_id": .string(call.callB), "received_video": .null, "received_audio": .null])
        #expect(stopped["recording.received_video"] == .null)
        let status = try await recorder.call(call.a, "Calls/Record", ["call_id": .string(call.callA), "local_audio": .null])
        #expect((status["recording.local_video.frames_written"]?.double ?? 0) > 30)

        var pictures = try Y4MReader(path: video)
        #expect(pictures.width == 320 && pictures.height == 240)
        var stamps: [UInt32] = []
        while let picture = pictures.next() {
            if let stamp = VideoStamp.read(from: picture) { stamps.append(stamp.frameNumber) }
        }
        #expect(stamps.count > 30, "stamps read from the recording: \(stamps.count)")
        #expect(stamps == stamps.sorted() && Set(stamps).count == stamps.count, "stamps in order, none twice")
        let sound = try WAVFile(path: audio)
        let markers = AudioMarker.detectStarts(in: sound.samples)
        let gaps = zip(markers.dropFirst(), markers).map { Double($0 - $1) / 48 }.sorted()
        #expect(markers.count >= 4, "markers heard in the recording: \(markers)")
        #expect(gaps.isEmpty == false && abs(gaps[gaps.count / 2] - 500) < 20, "median marker spacing \(gaps) ms")
        // A relative path is refused, naming the member.
        await #expect {
            try await call.b.call(MethodName.v1("Calls/Record"), params: ["call_id": .string(call.callB), "local_audio": "x.wav"])
        } throws: { error in
            guard case ControlClientError.status(.invalidArgument, _, let details) = error else { return false }
            return details?["field"] == "params.local_audio"
        }
        call.watchA.stop()
        call.watchB.stop()
        await pair.stop()
        try checkAgainstSchemas(recorder)
    }

    @Test("SIGTERM hangs up: the peer ends with remote_hangup and the daemon exits 0")
    func sigtermHangsUpGracefully() async throws {
        let pair = try await DaemonPair.start()
        let recorder = TrafficRecorder()
        let call = try await Self.connect(pair, recorder: recorder)
        pair.a.send(SIGTERM)
        let ended = await call.watchB.first(where: Events.isState("ended", of: call.callB))
        #expect(ended?["reason"]?.text == "remote_hangup")
        #expect(await pair.a.waitForExit() == 0, "parleyd a's log:\n\(pair.a.logText)")
        call.watchB.stop()
        await pair.stop()
    }

    @Test("Engine/Shutdown is answered, hangs up (the peer ends with remote_hangup) and the daemon exits 0")
    func shutdownOverTheControlSocketIsAnsweredAndHangsUp() async throws {
        let pair = try await DaemonPair.start()
        let recorder = TrafficRecorder()
        let call = try await Self.connect(pair, recorder: recorder)
        // The answer must reach the client although the engine closes its control socket right after.
        #expect(try await recorder.call(call.a, "Engine/Shutdown") == .object([:]))
        let ended = await call.watchB.first(where: Events.isState("ended", of: call.callB))
        #expect(ended?["reason"]?.text == "remote_hangup")
        #expect(await pair.a.waitForExit() == 0, "parleyd a's log:\n\(pair.a.logText)")
        call.watchB.stop()
        await pair.stop()
        try checkAgainstSchemas(recorder)
    }

    @Test("Killing one daemon ends the call at the other with peer_timeout within 10 s")
    func killedPeerEndsTheCallWithPeerTimeout() async throws {
        let pair = try await DaemonPair.start()
        let recorder = TrafficRecorder()
        let call = try await Self.connect(pair, recorder: recorder)
        let clock = ContinuousClock()
        let killed = clock.now
        pair.a.send(SIGKILL)
        let ended = await call.watchB.first(timeout: .seconds(12), where: Events.isState("ended", of: call.callB))
        let elapsed = clock.now - killed
        #expect(ended?["reason"]?.text == "peer_timeout")
        #expect(elapsed <= .seconds(10), "the call ended \(elapsed) after the kill")
        call.watchB.stop()
        await pair.stop()
    }

    @Test("Dialing a wrong key fails with UNAVAILABLE naming the address and the key; the call ends handshake_timeout")
    func dialingAWrongKeyFailsClearly() async throws {
        let pair = try await DaemonPair.start()
        let recorder = TrafficRecorder()
        let a = try pair.a.client()
        let b = try pair.b.client()
        let addressB = try #require(try await recorder.call(b, "Identity/Get")["addresses"]?.elements.first?.text)
        let stranger = IdentityKeyPair().publicKey.base64URL  // a valid key nobody runs
        await #expect {
            try await a.call(
                MethodName.v1("Calls/Dial"), params: ["peer": .string(stranger), "address": .string(addressB), "timeout_ms": 2_000, "wait": true])
        } throws: { error in
            guard case ControlClientError.status(.unavailable, let message, let details) = error else { return false }
            return message.contains(addressB) && message.contains(stranger) && details?["end_reason"] == "handshake_timeout"
        }
        let calls = try await recorder.call(a, "Calls/List")["calls"]?.elements ?? []
        #expect(calls.count == 1 && calls.first?["end_reason"]?.text == "handshake_timeout")
        // B saw a handshake it could not decrypt, counted, and rang nothing.
        let state = try await recorder.call(b, "Engine/State")
        #expect((state["counters.initiations_rejected"]?.double ?? 0) >= 1)
        #expect(state["calls"]?.elements.isEmpty == true)
        await pair.stop()
        try checkAgainstSchemas(recorder)
    }

    @Test("The Python example places a call against live daemons and exits 0")
    func pythonExamplePlacesACall() async throws {
        let pair = try await DaemonPair.start(bArguments: ["--auto-answer"])
        let b = try pair.b.client()
        let uri = try #require(try await b.call(MethodName.v1("Identity/Get"))["uri"]?.text)
        let python = Process()
        python.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        python.arguments = [
            Locations.repository.appendingPathComponent("clients/python/examples/place_call.py").path,
            "--socket", pair.a.socketPath, "--peer", uri, "--seconds", "2",
        ]
        let output = Pipe()
        python.standardOutput = output
        python.standardError = output
        try python.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        python.waitUntilExit()
        #expect(python.terminationStatus == 0, "place_call.py said:\n\(text)")
        let summary = try JSONValue(parsing: Array(text.split(separator: "\n").last.map(String.init)?.utf8 ?? "".utf8))
        #expect(summary["reached_active"] == .bool(true))
        #expect(summary["end_reason"]?.text == "hangup")
        #expect((summary["inbound.video.framesDecoded"]?.double ?? 0) > 0)
        await pair.stop()
    }
}
