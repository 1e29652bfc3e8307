import ParleyCrypto
public import ParleyJitter
import ParleyMedia
public import ParleyNetworkEmulator
public import ParleySession
public import ParleyWire

/// One two-peer call to simulate: the path between the peers, the media, and what to inject.
public struct CallScenario: Sendable {
    /// Video settings of both senders.
    public struct Video: Sendable, Equatable {
        /// Frame width, pixels.
        public var width: Int
        /// Frame height, pixels.
        public var height: Int
        /// Frames per second.
        public var frameRate: Double
        /// Target bitrate, bits per second.
        public var bitrate: Int

        /// Video settings.
        public init(width: Int = 320, height: Int = 240, frameRate: Double = 30, bitrate: Int = 400_000) {
            self.width = width
            self.height = height
            self.frameRate = frameRate
            self.bitrate = bitrate
        }
    }

    /// A name for the report line.
    public var name: String
    /// Simulated length of the call, from the first initiation.
    public var duration: Duration
    /// The path from A (the caller) to B.
    public var aToB: LinkParameters
    /// The path from B to A.
    public var bToA: LinkParameters
    /// Changes to both directions over time (outages, jitter that starts and stops).
    public var schedule: [ScheduledChange]
    /// Seed of the path's randomness and of the injector.
    public var seed: UInt64
    /// Video of both senders (nil: an audio-only call).
    public var video: Video?
    /// Opus bitrate, bits per second (in-band FEC on, 20 ms frames).
    public var audioBitrate: Int
    /// Packet loss the Opus encoders expect (drives how much FEC they carry), percent.
    public var expectedLossPercent: Int
    /// For every datagram delivered to B, the chance that the injector also delivers a forged, replayed
    /// or malformed one (in turn).
    public var injectionRate: Double
    /// The sessions' tuning.
    public var configuration: CallSessionConfiguration

    /// A scenario; every impairment defaults to none.
    public init(
        name: String, duration: Duration = .seconds(60), aToB: LinkParameters = .perfect, bToA: LinkParameters = .perfect,
        schedule: [ScheduledChange] = [], seed: UInt64 = 1, video: Video? = Video(), audioBitrate: Int = 48_000,
        expectedLossPercent: Int = 5, injectionRate: Double = 0, configuration: CallSessionConfiguration = .init()
    ) {
        self.name = name
        self.duration = duration
        self.aToB = aToB
        self.bToA = bToA
        self.schedule = schedule
        self.seed = seed
        self.video = video
        self.audioBitrate = audioBitrate
        self.expectedLossPercent = expectedLossPercent
        self.injectionRate = injectionRate
        self.configuration = configuration
    }

    /// The same impairment both ways.
    public init(
        name: String, duration: Duration = .seconds(60), symmetric: LinkParameters, schedule: [ScheduledChange] = [],
        seed: UInt64 = 1, video: Video? = Video(), injectionRate: Double = 0,
        configuration: CallSessionConfiguration = .init()
    ) {
        self.init(
            name: name, duration: duration, aToB: symmetric, bToA: symmetric, schedule: schedule, seed: seed,
            video: video, injectionRate: injectionRate, configuration: configuration)
    }
}

/// What one receiving end measured about the media the other sent.
public struct ReceivedMediaReport: Sendable {
    /// Video frames the sender's encoder produced and the session sent.
    public var videoFramesSent = 0
    /// Key frames among them.
    public var keyFramesSent = 0
    /// Frames the receiver decoded.
    public var videoFramesDecoded = 0
    /// Decoded frames whose stamp (frame number, capture instant) was read back.
    public var stampsRead = 0
    /// Decoded frames whose stamp came with a frame number not above the previous one.
    public var stampsOutOfOrder = 0
    /// Decoded frames whose picture differs from the sender's own reconstruction of the same frame.
    public var reconstructionMismatches = 0
    /// Frames the receiver could not decode (decoder error).
    public var decodeFailures = 0
    /// Mean luma PSNR of the sender's reconstruction against the captured frames, dB.
    public var senderPSNR: Double = 0
    /// Mean and largest time from capture to decoded picture.
    public var meanLatency: Duration = .zero
    /// Largest time from capture to decoded picture.
    public var maximumLatency: Duration = .zero
    /// When each decoded frame was decoded, and whether it was a key frame.
    public var decodes: [(at: Duration, isKeyFrame: Bool)] = []
    /// Original (not RTX) video packets the path dropped on the way to the receiver.
    public var videoPacketsLostOnPath = 0
    /// The receiver's inbound statistics at the end of the call (audio, video).
    public var audio: InboundStreamStatistics?
    /// The receiver's video inbound statistics at the end of the call.
    public var video: InboundStreamStatistics?
    /// Audio statistics one second into the active call (to count what happened after it).
    public var audioAfterFirstSecond: AudioJitterStatistics?
    /// Every 100 ms of the active call: the audio target delay and what the jitter buffer held.
    public var audioDelays: [(at: Duration, target: Duration, buffered: Duration)] = []
    /// The sender's retransmission and key-frame figures for this direction.
    public var senderOutbound: OutboundStreamStatistics?

    /// Fraction of lost original video packets the receiver recovered through RTX.
    public var recoveryRatio: Double? {
        guard videoPacketsLostOnPath > 0, let video = video?.video else { return nil }
        return Double(video.recoveredByRetransmission) / Double(videoPacketsLostOnPath)
    }

    /// Concealed audio samples (after the first second) over samples played (after the first second).
    public var concealedRatio: Double? {
        guard let end = audio?.audio, let start = audioAfterFirstSecond else { return nil }
        let emitted = end.jitterBufferEmittedCount - start.jitterBufferEmittedCount
        guard emitted > 0 else { return nil }
        return Double(end.concealedSamples - start.concealedSamples) / Double(emitted)
    }

    /// Concealment events after the first second.
    public var concealmentEventsAfterFirstSecond: Int? {
        guard let end = audio?.audio, let start = audioAfterFirstSecond else { return nil }
        return end.concealmentEvents - start.concealmentEvents
    }

    /// The largest audio target delay from `start` on.
    public func maximumTargetDelay(from start: Duration = .seconds(2)) -> Duration {
        audioDelays.filter { $0.at >= start }.map(\.target).max() ?? .zero
    }
}

/// A simulation whose virtual time stopped advancing: some session kept asking to be woken at an
/// instant already past (a bug in the session or a jitter buffer).
public struct SimulationStalled: Error, CustomStringConvertible {
    /// How far into the call time stopped.
    public var at: Duration
    /// A's and B's last requested deadlines.
    public var deadlines: (a: MonotonicInstant?, b: MonotonicInstant?)
    /// A's and B's timers, by name.
    public var timers: (a: [String: MonotonicInstant], b: [String: MonotonicInstant])

    /// What stalled, for the test log.
    public var description: String { "simulation stalled \(at) into the call; deadlines A \(String(describing: deadlines.a)) B \(String(describing: deadlines.b)); timers A \(timers.a) B \(timers.b)" }
}

/// What a simulated call showed, both ways.
public struct CallReport: Sendable {
    /// The scenario's name.
    public var name: String
    /// What B received from A.
    public var atB = ReceivedMediaReport()
    /// What A received from B.
    public var atA = ReceivedMediaReport()
    /// The final state of A's and B's sessions.
    public var finalStates: (a: CallState, b: CallState) = (.dialing, .answering)
    /// When the call became active at A (from the first initiation).
    public var activeAfter: Duration?
    /// B's full statistics at the end (drops by reason).
    public var statisticsB: CallStatistics?
    /// Datagrams the injector delivered to B, by kind.
    public var injected: (forged: Int, replayed: Int, malformed: Int) = (0, 0, 0)
    /// Handshake initiations B's engine part ignored (a replay, or one for a call already answered and heard).
    public var initiationsIgnoredAtB = 0
    /// The most frames either video receive path held at any playout instant.
    public var largestBufferedVideoFrames = 0
    /// The most audio either jitter buffer held at any playout.
    public var largestBufferedAudio: Duration = .zero

    /// One line for CI logs: the figures the issue asks for, for the direction A → B.
    public var line: String {
        let b = atB
        let audio = b.audio?.audio
        func f(_ value: Double?, _ digits: Int = 2) -> String {
            guard let value else { return "-" }
            let scale = (0..<digits).reduce(1.0) { value, _ in value * 10 }
            return String(Double((value * scale).rounded()) / scale)
        }
        func ms(_ duration: Duration?) -> String {
            guard let duration else { return "-" }
            return String(Int((duration.inSeconds * 1_000).rounded())) + "ms"
        }
        return "[\(name)] frames \(b.videoFramesDecoded)/\(b.videoFramesSent) stamps \(b.stampsRead) outOfOrder "
            + "\(b.stampsOutOfOrder) mismatches \(b.reconstructionMismatches) psnr \(f(b.senderPSNR, 1))dB "
            + "freezes \(b.video?.video?.freezeCount ?? 0) (\(f(b.video?.video?.totalFreezesDuration))s) "
            + "lost \(b.videoPacketsLostOnPath) recovered \(f(b.recoveryRatio.map { $0 * 100 }, 1))% "
            + "latency mean \(ms(b.meanLatency)) max \(ms(b.maximumLatency)) | audio concealed "
            + "\(f(b.concealedRatio.map { $0 * 100 }))% events>1s \(b.concealmentEventsAfterFirstSecond ?? -1) "
            + "target max \(ms(b.maximumTargetDelay())) end \(ms(b.audioDelays.last?.target)) "
            + "discarded \(audio?.packetsDiscarded ?? 0) accel \(audio?.removedSamplesForAcceleration ?? 0) "
            + "decel \(audio?.insertedSamplesForDeceleration ?? 0) | rtt \(ms(statisticsB?.roundTripTime)) | B→A frames "
            + "\(atA.videoFramesDecoded)/\(atA.videoFramesSent) freezes \(atA.video?.video?.freezeCount ?? 0) "
            + "concealed \(f(atA.concealedRatio.map { $0 * 100 }))% target max \(ms(atA.maximumTargetDelay()))"
    }
}

/// Two real call sessions with real codecs and synthetic camera and microphone, over the seeded network
/// emulator, in virtual time (issue 5's two-peer tests).
///
/// A dials B; B plays the engine's part for incoming calls (a handshake responder that answers every
/// call, and answers again when a retried initiation for the same call arrives before A was heard).
public final class CallSimulation {
    /// The scenario being run.
    public let scenario: CallScenario

    private struct Peer {
        var session: CallSession?
        var camera: SyntheticCamera?
        var videoEncoder: VP8Encoder?
        var reconstruction: VP8Decoder?
        var videoDecoder: VP8Decoder?
        var microphone: SyntheticMicrophone
        var audioEncoder: OpusEncoder
        var deadline: MonotonicInstant?
        var nextAudioCapture: MonotonicInstant
        var nextVideoCapture: MonotonicInstant
        var nextPlayout: MonotonicInstant?
        /// Sender side: luma checksum and PSNR of its own reconstruction, by frame number.
        var reconstructed: [UInt32: UInt64] = [:]
        var psnrSum: Double = 0
        var psnrCount = 0
        var lastStamp: UInt32?
        var latencySum: Duration = .zero
    }

    /// The virtual instant every simulated call starts at (schedule changes are relative to it).
    public static let start = MonotonicInstant(nanoseconds: 10_000_000_000)
    private let start = CallSimulation.start
    private let wallClockBase: UInt64 = 1_795_000_000_000_000_000
    private var path: EmulatedPath
    private var a: Peer
    private var b: Peer
    private let identityA = IdentityKeyPair()
    private let identityB = IdentityKeyPair()
    private let responder: HandshakeResponder
    private let capabilitiesB: LocalCallCapabilities
    private var report: CallReport
    private var injector: SplitMix64
    private var recentToB: [[UInt8]] = []
    private var injectionTurn = 0
    private var videoSequenceSentToB = Set<UInt16>()
    private var videoSequenceDeliveredToB = Set<UInt16>()
    private var videoSequenceSentToA = Set<UInt16>()
    private var videoSequenceDeliveredToA = Set<UInt16>()
    private var activeAt: MonotonicInstant?

    private static let ssrcA = (audio: SSRC(0xA0D1_0001), video: SSRC(0xA71D_0001), rtx: SSRC(0xA7A7_0001))
    private static let ssrcB = (audio: SSRC(0xB0D1_0002), video: SSRC(0xB71D_0002), rtx: SSRC(0xB7A7_0002))

    /// Sets up both peers (codecs, camera, microphone) for `scenario`.
    public init(_ scenario: CallScenario) throws {
        self.scenario = scenario
        path = EmulatedPath(
            aToB: scenario.aToB, bToA: scenario.bToA, aToBSchedule: scenario.schedule, bToASchedule: scenario.schedule,
            seed: scenario.seed)
        injector = SplitMix64(seed: scenario.seed ^ 0x1234_5678)
        responder = HandshakeResponder(identity: identityB)
        a = try Self.makePeer(scenario, start: start)
        b = try Self.makePeer(scenario, start: start)
        capabilitiesB = LocalCallCapabilities(streams: Self.streams(Self.ssrcB, video: scenario.video != nil))
        report = CallReport(name: scenario.name)
    }

    private static func streams(
        _ ssrc: (audio: SSRC, video: SSRC, rtx: SSRC), video: Bool
    ) -> [MediaStreamDescription] {
        var streams = [MediaStreamDescription.opus(ssrc: ssrc.audio)]
        if video {
            streams.append(.vp8(ssrc: ssrc.video, retransmission: RetransmissionStream(ssrc: ssrc.rtx, payloadType: 97)))
        }
        return streams
    }

    private static func makePeer(_ scenario: CallScenario, start: MonotonicInstant) throws -> Peer {
        var audioConfiguration = OpusEncoderConfiguration()
        audioConfiguration.bitrate = scenario.audioBitrate
        audioConfiguration.inbandFEC = true
        audioConfiguration.expectedPacketLossPercent = scenario.expectedLossPercent
        var peer = Peer(
            microphone: try SyntheticMicrophone(), audioEncoder: try OpusEncoder(configuration: audioConfiguration),
            nextAudioCapture: start, nextVideoCapture: start)
        if let video = scenario.video {
            peer.camera = try SyntheticCamera(width: video.width, height: video.height, frameRate: video.frameRate)
            peer.videoEncoder = try VP8Encoder(configuration: VP8EncoderConfiguration(
                width: video.width, height: video.height, frameRate: video.frameRate, bitrate: video.bitrate))
            peer.reconstruction = try VP8Decoder()
            peer.videoDecoder = try VP8Decoder()
        }
        return peer
    }

    /// The scenario's session configuration with a seed of its own for each end (unless one is set).
    private func configuration(seed: UInt64) -> CallSessionConfiguration {
        var configuration = scenario.configuration
        if configuration.randomSeed == nil { configuration.randomSeed = scenario.seed &* 31 &+ seed }
        return configuration
    }

    private func wallClock(_ now: MonotonicInstant) -> HandshakeTimestamp {
        HandshakeTimestamp(nanosecondsSinceUnixEpoch: wallClockBase &+ UInt64(now.nanoseconds))
    }

    /// Runs the call for the scenario's duration and reports what both ends measured.
    public func run() throws -> CallReport {
        let offer = try CallParameters.offer(streams: Self.streams(Self.ssrcA, video: scenario.video != nil))
        a.session = try CallSession(
            dialing: identityB.publicKey, identity: identityA, offer: offer, localIndex: 0xA000_0001,
            wallClock: wallClock(start), now: start, configuration: configuration(seed: 1),
            audioDecoderFactory: { channels in try OpusDecoder(channelCount: channels) })
        try drain(isA: true, now: start)
        let end = start + scenario.duration
        var now = start
        var stalledSteps = 0
        while now < end {
            let captureEnd = end - .seconds(1)
            let playoutEnd = end - .seconds(1)
            var candidates: [MonotonicInstant?] = [path.nextDeliveryTime, a.deadline, b.deadline]
            for playout in [a.nextPlayout, b.nextPlayout] where playout.map({ $0 < playoutEnd }) == true {
                candidates.append(playout)
            }
            for capture in [a.nextAudioCapture, b.nextAudioCapture] where capture < captureEnd {
                candidates.append(capture)
            }
            if scenario.video != nil {
                for capture in [a.nextVideoCapture, b.nextVideoCapture] where capture < captureEnd {
                    candidates.append(capture)
                }
            }
            let next = max(now, candidates.compactMap { $0 }.min() ?? end)
            stalledSteps = next == now ? stalledSteps + 1 : 0
            if stalledSteps > 100_000 {
                throw SimulationStalled(
                    at: now - start, deadlines: (a.deadline, b.deadline),
                    timers: (a.session?.deadlineBreakdown ?? [:], b.session?.deadlineBreakdown ?? [:]))
            }
            now = next
            guard now < end else { break }
            while let (direction, delivery) = path.poll(now: now) {
                try deliver(delivery.datagram, toA: direction == .bToA, now: now)
            }
            if let deadline = a.deadline, deadline <= now {
                a.deadline = nil
                a.session?.handleTimeout(now: now)
                try drain(isA: true, now: now)
            }
            if let deadline = b.deadline, deadline <= now {
                b.deadline = nil
                b.session?.handleTimeout(now: now)
                try drain(isA: false, now: now)
            }
            try capture(isA: true, now: now)
            try capture(isA: false, now: now)
            try playout(isA: true, now: now)
            try playout(isA: false, now: now)
        }
        return finish(now: end)
    }

    // MARK: - Network

    private func deliver(_ datagram: [UInt8], toA: Bool, now: MonotonicInstant) throws {
        if toA {
            noteVideoDelivery(datagram, delivered: &videoSequenceDeliveredToA, ssrc: Self.ssrcB.video)
            a.session?.handle(datagram: datagram, now: now)
            try drain(isA: true, now: now)
            return
        }
        noteVideoDelivery(datagram, delivered: &videoSequenceDeliveredToB, ssrc: Self.ssrcA.video)
        try deliverToB(datagram, now: now)
        if scenario.injectionRate > 0, Double(injector.next() >> 11) / Double(1 << 53) < scenario.injectionRate {
            try inject(after: datagram, now: now)
        }
        recentToB.append(datagram)
        if recentToB.count > 200 { recentToB.removeFirst(100) }
    }

    private func deliverToB(_ datagram: [UInt8], now: MonotonicInstant) throws {
        if datagram.first == 0x04 {
            // The engine's part: answer a new call, or a retried initiation of a call not yet heard from.
            guard b.session == nil || b.session?.state == .answering,
                let pending = try? responder.receive(datagram: datagram[...], now: wallClock(now))
            else {
                report.initiationsIgnoredAtB += 1
                return
            }
            let offer = try CallParameters(parsing: pending.offer)
            let answer = try CallParameters.answer(to: offer, with: capabilitiesB)
            b.session = try CallSession(
                answering: pending, identity: identityB, answer: answer, localIndex: 0xB000_0002, now: now,
                configuration: configuration(seed: 2),
                audioDecoderFactory: { channels in try OpusDecoder(channelCount: channels) })
            try drain(isA: false, now: now)
            return
        }
        b.session?.handle(datagram: datagram, now: now)
        try drain(isA: false, now: now)
    }

    /// Delivers one hostile datagram to B: a forged copy (a flipped payload bit), a replay of an earlier
    /// datagram, or a malformed one, in turn.
    private func inject(after datagram: [UInt8], now: MonotonicInstant) throws {
        injectionTurn += 1
        switch injectionTurn % 3 {
        case 0:
            var forged = datagram
            let index = forged.count > 20 ? 20 + Int(injector.next() % UInt64(forged.count - 20)) : forged.count - 1
            forged[index] ^= 0x10
            report.injected.forged += 1
            try deliverToB(forged, now: now)
        case 1:
            guard let old = recentToB.first else { return }
            report.injected.replayed += 1
            try deliverToB(old, now: now)
        default:
            let length = Int(injector.next() % 40)
            var garbage = (0..<length).map { _ in UInt8(truncatingIfNeeded: injector.next()) }
            if !garbage.isEmpty { garbage[0] = [0x06, 0x80, 0x90, 0x05, 0x0A][Int(injector.next() % 5)] }
            report.injected.malformed += 1
            try deliverToB(garbage, now: now)
        }
    }

    private func noteVideoDelivery(_ datagram: [UInt8], delivered: inout Set<UInt16>, ssrc: SSRC) {
        guard let (packetSSRC, sequence) = Self.videoHeader(datagram), packetSSRC == ssrc else { return }
        delivered.insert(sequence)
    }

    /// SSRC and sequence number of an SRTP packet (both travel in the clear), nil for anything else.
    private static func videoHeader(_ datagram: [UInt8]) -> (SSRC, UInt16)? {
        guard datagram.count >= 12, (128...191).contains(datagram[0]), !(192...223).contains(datagram[1]) else {
            return nil
        }
        let ssrc = UInt32(datagram[8]) << 24 | UInt32(datagram[9]) << 16 | UInt32(datagram[10]) << 8 | UInt32(datagram[11])
        return (SSRC(ssrc), UInt16(datagram[2]) << 8 | UInt16(datagram[3]))
    }

    // MARK: - Sessions

    private func drain(isA: Bool, now: MonotonicInstant) throws {
        guard let session = isA ? a.session : b.session else { return }
        while true {
            switch session.pollOutput() {
            case .transmit(let datagram):
                if let (ssrc, sequence) = Self.videoHeader(datagram) {
                    if isA, ssrc == Self.ssrcA.video { videoSequenceSentToB.insert(sequence) }
                    if !isA, ssrc == Self.ssrcB.video { videoSequenceSentToA.insert(sequence) }
                }
                path.send(datagram, isA ? .aToB : .bToA, at: now)
            case .event(let event):
                try handle(event, isA: isA, session: session, now: now)
            case .wait(let until):
                if isA { a.deadline = until } else { b.deadline = until }
                return
            }
        }
    }

    private func handle(_ event: CallEvent, isA: Bool, session: CallSession, now: MonotonicInstant) throws {
        switch event {
        case .stateChanged(.active):
            if isA, activeAt == nil {
                activeAt = now
                report.activeAfter = now - start
            }
            if isA { a.nextPlayout = now } else { b.nextPlayout = now }
        case .keyFrameRequested:
            (isA ? a : b).videoEncoder?.forceKeyFrame()
        case .videoFrame(let frame):
            try decode(frame, isA: isA, session: session, now: now)
        default:
            break
        }
    }

    private func decode(_ frame: IncomingVideoFrame, isA: Bool, session: CallSession, now: MonotonicInstant) throws {
        var receiver = isA ? a : b
        let sender = isA ? b : a
        defer { if isA { a = receiver } else { b = receiver } }
        var media = isA ? report.atA : report.atB
        defer { if isA { report.atA = media } else { report.atB = media } }
        guard let decoder = receiver.videoDecoder, let picture = try? decoder.decode(frame.payload) else {
            media.decodeFailures += 1
            session.videoFrameUndecodable(frame, now: now)
            return
        }
        media.videoFramesDecoded += 1
        media.decodes.append((now - start, frame.received.isKeyFrame))
        if let stamp = VideoStamp.read(from: picture) {
            media.stampsRead += 1
            if let last = receiver.lastStamp, stamp.frameNumber <= last { media.stampsOutOfOrder += 1 }
            receiver.lastStamp = stamp.frameNumber
            let latency = now - stamp.captureInstant
            receiver.latencySum += latency
            media.maximumLatency = max(media.maximumLatency, latency)
            if sender.reconstructed[stamp.frameNumber] != Self.lumaChecksum(picture) {
                media.reconstructionMismatches += 1
            }
        }
        session.videoFrameDecoded(frame, now: now)
    }

    // MARK: - Media

    private func capture(isA: Bool, now: MonotonicInstant) throws {
        // The last second only drains: what was sent before it has time to arrive and be played.
        guard now < start + scenario.duration - .seconds(1) else { return }
        // (run() stops scheduling captures from then on.)
        var peer = isA ? a : b
        defer { if isA { a = peer } else { b = peer } }
        let session = peer.session
        if now >= peer.nextAudioCapture {
            let frame = peer.microphone.nextFrame(sampleCount: 960, captureInstant: now)
            let encoded = try peer.audioEncoder.encode(frame)
            session?.sendAudio(encoded.payload, sampleCount: 960, now: now)
            peer.nextAudioCapture = peer.nextAudioCapture + .milliseconds(20)
        }
        if let video = scenario.video, now >= peer.nextVideoCapture, var camera = peer.camera,
            let encoder = peer.videoEncoder
        {
            let frame = camera.nextFrame(captureInstant: now)
            peer.camera = camera
            peer.nextVideoCapture = peer.nextVideoCapture + .nanoseconds(Int64(1_000_000_000 / video.frameRate))
            if let encoded = try encoder.encode(frame) {
                if let reconstructed = try? peer.reconstruction?.decode(encoded.payload) {
                    if let stamp = VideoStamp.read(from: reconstructed) {
                        peer.reconstructed[stamp.frameNumber] = Self.lumaChecksum(reconstructed)
                    }
                    peer.psnrSum += MediaQuality.psnr(reconstructed, reference: frame) ?? 0
                    peer.psnrCount += 1
                }
                if session?.sendVideoFrame(
                    encoded.payload, isKeyFrame: encoded.isKeyFrame, captureInstant: now, now: now) == true
                {
                    if isA {
                        report.atB.videoFramesSent += 1
                        if encoded.isKeyFrame { report.atB.keyFramesSent += 1 }
                    } else {
                        report.atA.videoFramesSent += 1
                        if encoded.isKeyFrame { report.atA.keyFramesSent += 1 }
                    }
                }
            }
        }
        if let session { try drainLater(session, isA: isA, now: now, peer: &peer) }
    }

    /// Drains a session while `peer` is checked out of `a`/`b` (events may touch the peer's codecs).
    private func drainLater(_ session: CallSession, isA: Bool, now: MonotonicInstant, peer: inout Peer) throws {
        if isA { a = peer } else { b = peer }
        try drain(isA: isA, now: now)
        peer = isA ? a : b
    }

    private func playout(isA: Bool, now: MonotonicInstant) throws {
        var peer = isA ? a : b
        // Playout stops with the last capture, so the drained tail is not counted as concealment.
        guard let due = peer.nextPlayout, now >= due, let session = peer.session,
            now < start + scenario.duration - .seconds(1)
        else { return }
        peer.nextPlayout = due + .milliseconds(10)
        if isA { a = peer } else { b = peer }
        _ = session.pullAudio(sampleCount: 480, now: now)
        guard let activeAt else { return }
        let stream = session.statistics.inbound.first { $0.kind == .audio }
        var media = isA ? report.atA : report.atB
        if media.audioAfterFirstSecond == nil, now - activeAt >= .seconds(1) {
            media.audioAfterFirstSecond = stream?.audio
        }
        let sinceActive = now - activeAt
        if let buffered = stream?.audioBufferedDuration {
            report.largestBufferedAudio = max(report.largestBufferedAudio, buffered)
        }
        if let frames = session.statistics.inbound.first(where: { $0.kind == .video })?.videoBufferedFrames {
            report.largestBufferedVideoFrames = max(report.largestBufferedVideoFrames, frames)
        }
        if sinceActive.ticks(atRate: 100) % 10 == 0, let target = stream?.audioTargetDelay {
            media.audioDelays.append((sinceActive, target, stream?.audioBufferedDuration ?? .zero))
        }
        if isA { report.atA = media } else { report.atB = media }
        try drain(isA: isA, now: now)
    }

    private func finish(now: MonotonicInstant) -> CallReport {
        for isA in [true, false] {
            let peer = isA ? a : b
            let sender = isA ? b : a
            var media = isA ? report.atA : report.atB
            let statistics = peer.session?.statistics
            media.audio = statistics?.inbound.first { $0.kind == .audio }
            media.video = statistics?.inbound.first { $0.kind == .video }
            media.senderOutbound = sender.session?.statistics.outbound.first { $0.kind == .video }
            media.senderPSNR = sender.psnrCount > 0 ? sender.psnrSum / Double(sender.psnrCount) : 0
            if media.stampsRead > 0 { media.meanLatency = peer.latencySum / media.stampsRead }
            let sent = isA ? videoSequenceSentToA : videoSequenceSentToB
            let delivered = isA ? videoSequenceDeliveredToA : videoSequenceDeliveredToB
            media.videoPacketsLostOnPath = sent.subtracting(delivered).count
            if isA { report.atA = media } else { report.atB = media }
        }
        report.finalStates = (a.session?.state ?? .dialing, b.session?.state ?? .answering)
        report.statisticsB = b.session?.statistics
        return report
    }

    /// A hash of the visible luma (the standard library's hasher runs optimised even in debug builds):
    /// equal pictures give equal values within one process.
    private static func lumaChecksum(_ frame: VideoFrame) -> UInt64 {
        let stride = frame.stride(of: .y)
        return frame.withPlane(.y) { plane in
            var hasher = Hasher()
            for row in 0..<frame.height {
                hasher.combine(bytes: UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: plane[(row * stride)..<(row * stride + frame.width)])))
            }
            return UInt64(bitPattern: Int64(hasher.finalize()))
        }
    }
}
