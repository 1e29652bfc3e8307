// The call session's own cost, apart from codecs (issue 5): a simulated 60 s two-way VGA call between two
// real `CallSession`s over the network emulator in virtual time, fed pre-encoded VP8 and Opus frames.
// Everything the engine does per packet runs for real — SFrame, SRTP, RTP, the pairwise channel, RTCP,
// NACK/RTX, the audio jitter buffer (with a decoder that only reports sample counts, so no codec work is
// counted) and the video receive path. Baseline, measured in the same run: the CPU the codecs need for the
// same media (VP8 encode + decode of every frame, Opus encode + decode of every packet). Run with
// `make bench`.
import CParleyAllocationCounter
import Foundation
import ParleyBenchmarkSupport
import ParleyCrypto
import ParleyJitter
import ParleyMedia
import ParleyNetworkEmulator
import ParleyPayload
import ParleySession
import ParleyWire

let quick = CommandLine.arguments.contains("--quick")
let simulated: Duration = quick ? .seconds(10) : .seconds(60)
let frameRate = 30

// MARK: - Pre-encoded media (and the codec baseline)

/// A few seconds of real VGA VP8 and Opus, encoded once and replayed in a loop; the time the codecs took
/// per frame is the baseline.
struct Media {
    var videoFrames: [(payload: [UInt8], isKeyFrame: Bool)] = []
    var audioPackets: [[UInt8]] = []
    var videoCodecNanosecondsPerFrame: Double = 0
    var audioCodecNanosecondsPerPacket: Double = 0

    init() throws {
        var camera = try SyntheticCamera(width: 640, height: 480, frameRate: Double(frameRate))
        let encoder = try VP8Encoder(configuration: VP8EncoderConfiguration(width: 640, height: 480, bitrate: 1_000_000))
        let decoder = try VP8Decoder()
        var codecTime: Int64 = 0
        for index in 0..<90 {
            let frame = camera.nextFrame(captureInstant: MonotonicInstant(nanoseconds: Int64(index) * 33_333_333))
            let start = threadCPUNanoseconds()
            guard let encoded = try encoder.encode(frame) else { continue }
            _ = try decoder.decode(encoded.payload)
            codecTime += threadCPUNanoseconds() - start
            videoFrames.append((encoded.payload, encoded.isKeyFrame))
        }
        videoCodecNanosecondsPerFrame = Double(codecTime) / Double(videoFrames.count)
        var microphone = try SyntheticMicrophone()
        let opus = try OpusEncoder()
        let opusDecoder = try OpusDecoder()
        codecTime = 0
        for index in 0..<150 {
            let frame = microphone.nextFrame(sampleCount: 960, captureInstant: MonotonicInstant(nanoseconds: Int64(index) * 20_000_000))
            let start = threadCPUNanoseconds()
            let packet = try opus.encode(frame)
            _ = try opusDecoder.decode(packet.payload)
            codecTime += threadCPUNanoseconds() - start
            audioPackets.append(packet.payload)
        }
        audioCodecNanosecondsPerPacket = Double(codecTime) / Double(audioPackets.count)
    }
}

/// Reports each Opus packet's length and plays silence: the jitter buffer's own work is measured, not
/// libopus's.
final class SampleCountingDecoder: AudioPacketDecoding {
    let channelCount = 1

    func sampleCount(of payload: ArraySlice<UInt8>) -> Int? {
        (try? OpusRTPPayload(parsing: payload))?.sampleCount
    }

    func decode(_ payload: ArraySlice<UInt8>) throws(JitterError) -> [Int16] {
        guard let count = sampleCount(of: payload) else { throw .decoderFailed(reason: "not an Opus packet") }
        return [Int16](repeating: 0, count: count)
    }

    func decodeRedundancy(from nextPayload: ArraySlice<UInt8>, sampleCount: Int) throws(JitterError) -> [Int16]? {
        nil
    }

    func conceal(sampleCount: Int) throws(JitterError) -> [Int16] {
        [Int16](repeating: 0, count: sampleCount)
    }
}

// MARK: - The simulated call

struct Outcome {
    /// CPU and allocations until both sessions were active (handshake, safety numbers, keys): not in the
    /// per-packet figures.
    var setUpCPUNanoseconds: Int64 = 0
    var setUpAllocations: UInt64 = 0
    /// From the call being up to the end.
    var cpuNanoseconds: Int64 = 0
    var wallNanoseconds: Int64 = 0
    var allocations: UInt64 = 0
    var datagrams = 0
    var videoFramesDelivered = 0
    var videoFramesSent = 0
    var audioPacketsSent = 0
}

/// One 60 s two-way call over `link` (both directions).
func simulateCall(_ media: Media, link: LinkParameters, seed: UInt64, length: Duration = simulated) throws -> Outcome {
    let identityA = IdentityKeyPair()
    let identityB = IdentityKeyPair()
    let responder = HandshakeResponder(identity: identityB)
    let start = MonotonicInstant(nanoseconds: 10_000_000_000)
    let wall = { (now: MonotonicInstant) in HandshakeTimestamp(nanosecondsSinceUnixEpoch: 1_795_000_000_000_000_000 + UInt64(now.nanoseconds)) }
    func streams(_ base: UInt32) -> [MediaStreamDescription] {
        [.opus(ssrc: SSRC(base + 1)), .vp8(ssrc: SSRC(base + 2), retransmission: RetransmissionStream(ssrc: SSRC(base + 3), payloadType: 97))]
    }
    let factory: AudioDecoderFactory = { _ in SampleCountingDecoder() }
    var path = EmulatedPath(symmetric: link, seed: seed)
    var outcome = Outcome()

    let allocationsBefore = parley_allocation_count()
    let cpuBefore = threadCPUNanoseconds()
    let wallBefore = wallNanoseconds()

    let a = try CallSession(
        dialing: identityB.publicKey, identity: identityA, offer: try CallParameters.offer(streams: streams(0xA000)),
        localIndex: 1, wallClock: wall(start), now: start, audioDecoderFactory: factory)
    var b: CallSession?
    var deadlines: [MonotonicInstant?] = [nil, nil]
    var setUp: (cpu: Int64, allocations: UInt64, datagrams: Int)?

    func drain(_ session: CallSession, _ index: Int, _ now: MonotonicInstant) {
        while true {
            switch session.pollOutput() {
            case .transmit(let datagram):
                outcome.datagrams += 1
                path.send(datagram, index == 0 ? .aToB : .bToA, at: now)
            case .event(.videoFrame(let frame)):
                outcome.videoFramesDelivered += 1
                session.videoFrameDecoded(frame, now: now)
            case .event:
                break
            case .wait(let until):
                deadlines[index] = until
                return
            }
        }
    }

    drain(a, 0, start)
    let end = start + length
    var now = start
    var nextAudio = start
    var nextVideo = start
    var videoIndex = [0, 0]
    var audioIndex = [0, 0]
    let frameInterval = Duration.nanoseconds(1_000_000_000 / Int64(frameRate))
    while now < end {
        now = [path.nextDeliveryTime, deadlines[0], deadlines[1], nextAudio, nextVideo].compactMap { $0 }.min()!
        while let (direction, delivery) = path.poll(now: now) {
            if direction == .aToB {
                if delivery.datagram.first == 0x04 {
                    guard b == nil, let pending = try? responder.receive(datagram: delivery.datagram[...], now: wall(now)) else { continue }
                    let answer = try CallParameters.answer(
                        to: try CallParameters(parsing: pending.offer), with: LocalCallCapabilities(streams: streams(0xB000)))
                    b = try CallSession(
                        answering: pending, identity: identityB, answer: answer, localIndex: 2, now: now,
                        audioDecoderFactory: factory)
                } else {
                    b?.handle(datagram: delivery.datagram, now: now)
                }
                if let b { drain(b, 1, now) }
            } else {
                a.handle(datagram: delivery.datagram, now: now)
                drain(a, 0, now)
            }
        }
        for (index, session) in [a, b].enumerated() {
            guard let session, let deadline = deadlines[index], deadline <= now else { continue }
            deadlines[index] = nil
            session.handleTimeout(now: now)
            drain(session, index, now)
        }
        if setUp == nil, a.state == .active, b?.state == .active {
            // The call is up: what came before (handshake, safety numbers, key set-up) is set-up cost.
            setUp = (threadCPUNanoseconds() - cpuBefore, parley_allocation_count() - allocationsBefore, outcome.datagrams)
        }
        if now >= nextAudio {
            for (index, session) in [a, b].enumerated() {
                guard let session else { continue }
                let packet = media.audioPackets[audioIndex[index] % media.audioPackets.count]
                audioIndex[index] += 1
                if session.sendAudio(packet, sampleCount: 960, now: now) { outcome.audioPacketsSent += 1 }
                _ = session.pullAudio(sampleCount: 960, now: now)
                drain(session, index, now)
            }
            nextAudio = nextAudio + .milliseconds(20)
        }
        if now >= nextVideo {
            for (index, session) in [a, b].enumerated() {
                guard let session else { continue }
                let frame = media.videoFrames[videoIndex[index] % media.videoFrames.count]
                videoIndex[index] += 1
                if session.sendVideoFrame(frame.payload, isKeyFrame: frame.isKeyFrame, captureInstant: now, now: now) {
                    outcome.videoFramesSent += 1
                }
                drain(session, index, now)
            }
            nextVideo = nextVideo + frameInterval
        }
    }
    outcome.cpuNanoseconds = threadCPUNanoseconds() - cpuBefore
    outcome.wallNanoseconds = wallNanoseconds() - wallBefore
    outcome.allocations = parley_allocation_count() - allocationsBefore
    if let setUp {
        outcome.setUpCPUNanoseconds = setUp.cpu
        outcome.setUpAllocations = setUp.allocations
        outcome.cpuNanoseconds -= setUp.cpu
        outcome.allocations -= setUp.allocations
        outcome.datagrams -= setUp.datagrams
    }
    return outcome
}

// MARK: - Report

let media = try Media()
let seconds = simulated.components.seconds
print("Session benchmark: simulated \(seconds) s two-way call, VGA VP8 @ 1 Mbit/s 30 fps (pre-encoded, \(media.videoFrames.count) distinct frames, mean \(media.videoFrames.map(\.payload.count).reduce(0, +) / media.videoFrames.count) B) + Opus 20 ms, both ways")
print("Baseline (same run): codec CPU for the same media = VP8 encode+decode \(String(format: "%.2f", media.videoCodecNanosecondsPerFrame / 1e6)) ms/frame, Opus encode+decode \(String(format: "%.1f", media.audioCodecNanosecondsPerPacket / 1e3)) µs/packet")
print("")
print("| path | wall | call set-up CPU (allocations) | session CPU once up | CPU per simulated s | packets | CPU per packet | allocations | per packet | session CPU / codec CPU |")
print("|---|---|---|---|---|---|---|---|---|---|")
// One short call first, unreported, so lazy set-up (metadata, first-touch pages) falls on no measured row.
_ = try simulateCall(media, link: LinkParameters(delay: .milliseconds(20)), seed: 1, length: .seconds(5))
for (name, link) in [
    ("clean, 20 ms", LinkParameters(delay: .milliseconds(20))),
    ("5 % loss, 50 ms", LinkParameters(delay: .milliseconds(50), randomLoss: 0.05)),
] {
    let outcome = try simulateCall(media, link: link, seed: 42)
    let codec = Double(outcome.videoFramesSent) * media.videoCodecNanosecondsPerFrame
        + Double(outcome.audioPacketsSent) * media.audioCodecNanosecondsPerPacket
    let cpu = Double(outcome.cpuNanoseconds)
    print(String(
        format: "| %@ | %.2f s | %.1f ms (%llu) | %.2f s | %.2f ms | %d | %.1f µs | %llu | %.1f | %.3f |", name,
        Double(outcome.wallNanoseconds) / 1e9, Double(outcome.setUpCPUNanoseconds) / 1e6, outcome.setUpAllocations,
        cpu / 1e9, cpu / 1e6 / Double(seconds), outcome.datagrams,
        cpu / 1e3 / Double(outcome.datagrams), outcome.allocations,
        Double(outcome.allocations) / Double(outcome.datagrams), cpu / codec))
    guard outcome.videoFramesDelivered > outcome.videoFramesSent * 9 / 10 else {
        print("error: only \(outcome.videoFramesDelivered) of \(outcome.videoFramesSent) video frames were delivered")
        exit(1)
    }
}
