import Dispatch
import Foundation
import Glibc
import ParleyBenchmarkSupport
import ParleyMedia
import ParleyWire
import Synchronization

/// The media work one direction of the call did in the measured window, as the two ends counted it:
/// what the sender encoded and the receiver decoded.
struct DirectionWork {
    var videoFramesEncoded: Int
    var keyFramesEncoded: Int
    var videoFramesDecoded: Int
    var audioFramesEncoded: Int
    var audioPacketsDecoded: Int
    /// The sender camera's frame number at the window's start, so the same pictures are encoded.
    var firstFrameNumber: UInt32
}

/// The video the call sent: what `CallMediaPipeline.encoderConfiguration` derives from the call's
/// `video` settings.
struct VideoParameters {
    var width: Int
    var height: Int
    var frameRate: Int
    var bitrate: Int

    /// The engine's encoder configuration (the one every call uses).
    var encoderConfiguration: VP8EncoderConfiguration {
        VP8EncoderConfiguration.forCalls(width: width, height: height, frameRate: Double(frameRate), bitrate: bitrate)
    }
}

/// Process CPU seconds of each part of the baseline.
struct CodecCPU {
    var videoEncode = 0.0
    /// The same frames through an encoder limited to one thread (a diagnostic: libvpx's VP8 threads
    /// busy-wait for each other, which costs CPU when they do not each have a core).
    var videoEncodeOneThread = 0.0
    var videoDecode = 0.0
    var audioEncode = 0.0
    var audioDecode = 0.0
    var camera = 0.0
    var stampRead = 0.0
    var microphone = 0.0
    var markerDetection = 0.0
    /// The whole timed region (pass B: everything together; pass A: the sum of the codec parts).
    var total = 0.0
    var stampsRead = 0
    var markersHeard = 0

    var codecs: Double { videoEncode + videoDecode + audioEncode + audioDecode }
    var sources: Double { camera + stampRead + microphone + markerDetection }

    static func + (lhs: CodecCPU, rhs: CodecCPU) -> CodecCPU {
        CodecCPU(
            videoEncode: lhs.videoEncode + rhs.videoEncode, videoEncodeOneThread: lhs.videoEncodeOneThread + rhs.videoEncodeOneThread,
            videoDecode: lhs.videoDecode + rhs.videoDecode,
            audioEncode: lhs.audioEncode + rhs.audioEncode, audioDecode: lhs.audioDecode + rhs.audioDecode,
            camera: lhs.camera + rhs.camera, stampRead: lhs.stampRead + rhs.stampRead,
            microphone: lhs.microphone + rhs.microphone, markerDetection: lhs.markerDetection + rhs.markerDetection,
            total: lhs.total + rhs.total, stampsRead: lhs.stampsRead + rhs.stampsRead,
            markersHeard: lhs.markersHeard + rhs.markersHeard)
    }
}

/// The frame numbers at which the sender's encoder is told to make a key frame, spread over the
/// window like the daemon's (the first frame of a new encoder is one anyway).
private func keyFramePositions(_ work: DirectionWork) -> Set<Int> {
    let extra = max(0, work.keyFramesEncoded - 1)
    guard extra > 0, work.videoFramesEncoded > 0 else { return [] }
    return Set((1...extra).map { $0 * work.videoFramesEncoded / (extra + 1) })
}

/// Pass A, the goal's baseline: the codecs alone. Camera pictures and microphone frames are made
/// outside the timing (30 pictures at a time, so memory stays small); each codec call is timed on the
/// process CPU clock (libvpx's encoder threads included).
func measureCodecsOnly(_ work: DirectionWork, video: VideoParameters) throws -> CodecCPU {
    var cpu = CodecCPU()
    let camera = try SyntheticCamera(width: video.width, height: video.height, frameRate: Double(video.frameRate))
    let encoder = try VP8Encoder(configuration: video.encoderConfiguration)
    let decoder = try VP8Decoder()
    let keyFrames = keyFramePositions(work)
    var decoded = 0
    try forEachPicture(of: work, from: camera, video: video) { index, frame in
        if keyFrames.contains(index) { encoder.forceKeyFrame() }
        let start = ownProcessCPUSeconds()
        guard let encoded = try encoder.encode(frame) else { return }
        let encodedAt = ownProcessCPUSeconds()
        cpu.videoEncode += encodedAt - start
        guard decoded < work.videoFramesDecoded else { return }
        decoded += 1
        consume(try decoder.decode(encoded.payload))
        cpu.videoDecode += ownProcessCPUSeconds() - encodedAt
    }

    var oneThread = video.encoderConfiguration
    oneThread.threads = 1
    let singleThreaded = try VP8Encoder(configuration: oneThread)
    try forEachPicture(of: work, from: camera, video: video) { index, frame in
        if keyFrames.contains(index) { singleThreaded.forceKeyFrame() }
        let start = ownProcessCPUSeconds()
        consume(try singleThreaded.encode(frame))
        cpu.videoEncodeOneThread += ownProcessCPUSeconds() - start
    }

    var microphone = try SyntheticMicrophone()
    let samples = OpusFrameDuration.milliseconds20.sampleCount
    let pcm = (0..<work.audioFramesEncoded).map { _ in microphone.nextFrame(sampleCount: samples, captureInstant: .zero) }
    let opus = try OpusEncoder()
    let opusDecoder = try OpusDecoder()
    var start = ownProcessCPUSeconds()
    let packets = try pcm.map { try opus.encode($0).payload }
    var end = ownProcessCPUSeconds()
    cpu.audioEncode = end - start
    start = end
    for packet in packets.prefix(work.audioPacketsDecoded) { consume(try opusDecoder.decode(packet)) }
    end = ownProcessCPUSeconds()
    cpu.audioDecode = end - start
    cpu.total = cpu.codecs
    return cpu
}

/// Calls `body` with each picture the window's sender encoded and its index, made 30 at a time before
/// their calls (so making them is outside the timing, and memory stays small).
private func forEachPicture(
    of work: DirectionWork, from camera: SyntheticCamera, video: VideoParameters, _ body: (Int, VideoFrame) throws -> Void
) rethrows {
    var start = 0
    while start < work.videoFramesEncoded {
        let chunk = start..<min(start + 30, work.videoFramesEncoded)
        let pictures = chunk.map { number in
            camera.frame(number: work.firstFrameNumber &+ UInt32(number), captureInstant: instant(ofFrame: number, video))
        }
        for (index, picture) in zip(chunk, pictures) { try body(index, picture) }
        start = chunk.upperBound
    }
}

/// Pass B: what a daemon's media threads do per frame besides the network, in one timed region —
/// camera picture → VP8 encode → VP8 decode → stamp read, and microphone → Opus encode → Opus decode →
/// marker detection in one-second windows (as the audio playout does). The parts are also timed one by
/// one for the breakdown.
func measureCodecsAndSources(_ work: DirectionWork, video: VideoParameters) throws -> CodecCPU {
    var cpu = CodecCPU()
    let regionStart = ownProcessCPUSeconds()
    let camera = try SyntheticCamera(width: video.width, height: video.height, frameRate: Double(video.frameRate))
    let encoder = try VP8Encoder(configuration: video.encoderConfiguration)
    let decoder = try VP8Decoder()
    let keyFrames = keyFramePositions(work)
    var decoded = 0
    for index in 0..<work.videoFramesEncoded {
        if keyFrames.contains(index) { encoder.forceKeyFrame() }
        let t0 = ownProcessCPUSeconds()
        let frame = camera.frame(number: work.firstFrameNumber &+ UInt32(index), captureInstant: instant(ofFrame: index, video))
        let t1 = ownProcessCPUSeconds()
        guard let encoded = try encoder.encode(frame) else { continue }
        let t2 = ownProcessCPUSeconds()
        cpu.camera += t1 - t0
        cpu.videoEncode += t2 - t1
        guard decoded < work.videoFramesDecoded else { continue }
        decoded += 1
        let picture = try decoder.decode(encoded.payload)
        let t3 = ownProcessCPUSeconds()
        if VideoStamp.read(from: picture) != nil { cpu.stampsRead += 1 }
        let t4 = ownProcessCPUSeconds()
        cpu.videoDecode += t3 - t2
        cpu.stampRead += t4 - t3
    }

    var microphone = try SyntheticMicrophone()
    let opus = try OpusEncoder()
    let opusDecoder = try OpusDecoder()
    let samples = OpusFrameDuration.milliseconds20.sampleCount
    var listener = AudioMarkerListener()
    for index in 0..<work.audioFramesEncoded {
        let t0 = ownProcessCPUSeconds()
        let frame = microphone.nextFrame(sampleCount: samples, captureInstant: .zero)
        let t1 = ownProcessCPUSeconds()
        let packet = try opus.encode(frame)
        let t2 = ownProcessCPUSeconds()
        cpu.microphone += t1 - t0
        cpu.audioEncode += t2 - t1
        guard index < work.audioPacketsDecoded else { continue }
        let played = try opusDecoder.decode(packet.payload)
        let t3 = ownProcessCPUSeconds()
        cpu.markersHeard += listener.listen(to: played.samples)
        let t4 = ownProcessCPUSeconds()
        cpu.audioDecode += t3 - t2
        cpu.markerDetection += t4 - t3
    }
    cpu.total = ownProcessCPUSeconds() - regionStart
    return cpu
}

/// A capture instant for frame `index`, at the nominal frame rate.
private func instant(ofFrame index: Int, _ video: VideoParameters) -> MonotonicInstant {
    MonotonicInstant(nanoseconds: 1_000_000_000 + Int64(index) * 1_000_000_000 / Int64(video.frameRate))
}

/// Pass C's thread CPU seconds, by part.
struct PacedCPU {
    /// VP8 encode + decode (both directions).
    var video = 0.0
    /// Opus encode + decode.
    var audio = 0.0
    /// Synthetic camera pictures and reading their stamps back.
    var videoSourcesAndSinks = 0.0
    /// Synthetic microphone blocks and finding their markers in what was decoded.
    var audioSourcesAndSinks = 0.0

    var codecs: Double { video + audio }
    var sourcesAndSinks: Double { videoSourcesAndSinks + audioSourcesAndSinks }
}

/// One paced thread's CPU, split between the codec calls and the source and sink work around them.
private struct SplitThreadCPU {
    var codec: Int64 = 0
    var sourceAndSink: Int64 = 0

    /// Runs `source`, then `codec` on what it made, then `sink` on what that gave, charging each part.
    mutating func measure<Made, Coded>(
        source: () throws -> Made, codec: (Made) throws -> Coded, sink: (Coded) -> Void
    ) rethrows {
        let t0 = threadCPUNanoseconds()
        let made = try source()
        let t1 = threadCPUNanoseconds()
        let coded = try codec(made)
        let t2 = threadCPUNanoseconds()
        sink(coded)
        let t3 = threadCPUNanoseconds()
        self.codec += t2 - t1
        sourceAndSink += (t1 - t0) + (t3 - t2)
    }
}

/// Pass C: the media work of pass B done the way a call does it — at the call's own pace, frame by
/// frame, on the same threads as the engine (per direction: one video thread making a picture, encoding
/// it at the frame rate, decoding it and reading its stamp; one audio thread making a microphone block,
/// encoding and decoding it and looking for markers every 20 ms), both directions at once. The codec
/// calls and the source and sink work are timed apart on the thread CPU clock. What it shows beside
/// passes A and B: the same work's cost when it runs cold every 33 or 20 ms on a machine that also runs
/// its peers, which no engine can avoid.
func measureCodecsPaced(_ works: [DirectionWork], video: VideoParameters) throws -> PacedCPU {
    let total = Mutex(PacedCPU())
    let threads = PacedThreads()
    for work in works {
        threads.start {
            let camera = try SyntheticCamera(width: video.width, height: video.height, frameRate: Double(video.frameRate))
            let encoder = try VP8Encoder(configuration: video.encoderConfiguration)
            let decoder = try VP8Decoder()
            let keyFrames = keyFramePositions(work)
            var split = SplitThreadCPU()
            try paced(count: work.videoFramesEncoded, interval: 1_000_000_000 / Int64(video.frameRate)) { index in
                if keyFrames.contains(index) { encoder.forceKeyFrame() }
                try split.measure {
                    camera.frame(number: work.firstFrameNumber &+ UInt32(index), captureInstant: instant(ofFrame: index, video))
                } codec: { frame -> VideoFrame? in
                    guard let encoded = try encoder.encode(frame), index < work.videoFramesDecoded else { return nil }
                    return try decoder.decode(encoded.payload)
                } sink: { picture in
                    if let picture { consume(VideoStamp.read(from: picture)) }
                }
            }
            total.withLock {
                $0.video += Double(split.codec) / 1e9
                $0.videoSourcesAndSinks += Double(split.sourceAndSink) / 1e9
            }
        }
        threads.start {
            var microphone = try SyntheticMicrophone()
            let opus = try OpusEncoder()
            let opusDecoder = try OpusDecoder()
            let samples = OpusFrameDuration.milliseconds20.sampleCount
            var listener = AudioMarkerListener()
            var split = SplitThreadCPU()
            try paced(count: work.audioFramesEncoded, interval: 20_000_000) { index in
                try split.measure {
                    microphone.nextFrame(sampleCount: samples, captureInstant: .zero)
                } codec: { frame -> [Int16] in
                    let packet = try opus.encode(frame)
                    guard index < work.audioPacketsDecoded else { return [] }
                    return try opusDecoder.decode(packet.payload).samples
                } sink: { played in
                    consume(listener.listen(to: played))
                }
            }
            total.withLock {
                $0.audio += Double(split.codec) / 1e9
                $0.audioSourcesAndSinks += Double(split.sourceAndSink) / 1e9
            }
        }
    }
    try threads.wait()
    return total.withLock { $0 }
}

/// Pass C's threads: each runs its body on a thread of its own; the first error any throws is kept.
private final class PacedThreads: Sendable {
    private let group = DispatchGroup()
    private let failure = Mutex<(any Error)?>(nil)

    /// Runs `body` on a new thread.
    func start(_ body: @escaping @Sendable () throws -> Void) {
        group.enter()
        Thread.detachNewThread { [self] in
            defer { group.leave() }
            do {
                try body()
            } catch {
                failure.withLock { $0 = $0 ?? error }
            }
        }
    }

    /// Waits for every thread, then throws the first error, if any.
    func wait() throws {
        group.wait()
        if let error = failure.withLock({ $0 }) { throw error }
    }
}

/// Calls `tick` with 0, 1, … `count − 1`, one every `interval` nanoseconds from now.
private func paced(count: Int, interval: Int64, _ tick: (Int) throws -> Void) rethrows {
    var next = wallNanoseconds()
    for index in 0..<count {
        next += interval
        sleepUntil(wallNanoseconds: next)
        try tick(index)
    }
}

/// Sleeps until `wallNanoseconds()` reaches `deadline` (returns at once when it has).
private func sleepUntil(wallNanoseconds deadline: Int64) {
    var spec = timespec(tv_sec: Int(deadline / 1_000_000_000), tv_nsec: Int(deadline % 1_000_000_000))
    while clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &spec, nil) == EINTR {}
}
