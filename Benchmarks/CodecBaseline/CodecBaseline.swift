// The bare-codec baseline: what VP8 and Opus cost on their own, on Parley's synthetic sources.
// Every later benchmark (the engine, a call) reports its cost as a ratio against these figures,
// measured in the same run. Run with `make bench`.
import Foundation
import ParleyMedia
import ParleyWire

/// CPU time of the whole process (all threads), for costs that include codec worker threads.
func processCPUTime() -> Duration {
    var time = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &time)
    return .seconds(Int64(time.tv_sec)) + .nanoseconds(Int64(time.tv_nsec))
}

/// Wall time on the monotonic clock.
func wallTime() -> Duration {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return .seconds(Int64(time.tv_sec)) + .nanoseconds(Int64(time.tv_nsec))
}

/// CPU and wall time of one run of `body`, per item.
struct Cost {
    var cpu: Duration
    var wall: Duration
}

/// Runs `body` (which handles `items` items) `repetitions` times; returns the median per-item cost.
func measure(items: Int, repetitions: Int, _ body: () throws -> Void) rethrows -> Cost {
    var costs: [Cost] = []
    for _ in 0..<repetitions {
        let cpuStart = processCPUTime()
        let wallStart = wallTime()
        try body()
        costs.append(Cost(cpu: (processCPUTime() - cpuStart) / items, wall: (wallTime() - wallStart) / items))
    }
    let cpu = costs.map(\.cpu).sorted()[repetitions / 2]
    let wall = costs.map(\.wall).sorted()[repetitions / 2]
    return Cost(cpu: cpu, wall: wall)
}

extension String {
    func padded(to width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
}

struct Row {
    var name: String
    var unit: String
    var cost: Cost
    var note: String
    /// The span of media one item carries, for the share of a core needed in real time.
    var mediaPerItem: Duration

    func formatted() -> String {
        let scale = unit == "ms" ? 1e3 : 1e6
        let cpu = cost.cpu.inSeconds * scale
        let wall = cost.wall.inSeconds * scale
        let rate = cost.wall > .zero ? 1 / cost.wall.inSeconds : 0
        let load = cost.cpu.inSeconds / mediaPerItem.inSeconds * 100
        return name.padded(to: 34) + String(format: " %10.3f %10.3f ", cpu, wall) + unit.padded(to: 3)
            + String(format: " %10.1f %8.2f %%  ", rate, load) + note
    }
}

let arguments = CommandLine.arguments.dropFirst()
let quick = arguments.contains("--quick")
let repetitions = quick ? 1 : 5
let videoFrames = quick ? 30 : 150
let audioFrames = quick ? 100 : 1_000

var rows: [Row] = []
/// The camera's nominal frame interval (30 fps): a codec's CPU per frame over it is its real-time load.
let frameInterval = Duration.nanoseconds(33_333_333)

for (width, height, bitrate) in [(640, 480, 1_000_000), (1280, 720, 2_500_000)] {
    let camera = try SyntheticCamera(width: width, height: height)
    let label = "\(width)x\(height)"
    var sources: [VideoFrame] = []
    let sourceCost = measure(items: videoFrames, repetitions: 1) {
        sources = (0..<UInt32(videoFrames)).map { camera.frame(number: $0, captureInstant: MonotonicInstant(microseconds: Int64($0) * 33_333)) }
    }
    var encoded: [EncodedVideoFrame] = []
    var bytes = 0
    let configuration = VP8EncoderConfiguration(width: width, height: height, bitrate: bitrate)
    let encodeCost = try measure(items: videoFrames, repetitions: repetitions) {
        let encoder = try VP8Encoder(configuration: configuration)
        encoded = try sources.compactMap { try encoder.encode($0) }
        bytes = encoded.reduce(0) { $0 + $1.payload.count }
    }
    let decodeCost = try measure(items: videoFrames, repetitions: repetitions) {
        let decoder = try VP8Decoder()
        for frame in encoded { _ = try decoder.decode(frame.payload) }
    }
    let decoder = try VP8Decoder()
    let psnr = try zip(sources, encoded).map { try MediaQuality.psnr(decoder.decode($1.payload), reference: $0) ?? 0 }
    let meanPSNR = psnr.reduce(0, +) / Double(psnr.count)
    let kbps = Double(bytes * 8) / (Double(videoFrames) / 30) / 1_000
    rows.append(Row(name: "synthetic camera \(label)", unit: "ms", cost: sourceCost, note: "frames/s column = generation rate", mediaPerItem: frameInterval))
    rows.append(Row(
        name: "VP8 encode \(label) @\(bitrate / 1_000)k", unit: "ms", cost: encodeCost,
        note: String(format: "cpu-used -6, %d threads, %.0f kbit/s, PSNR-Y %.1f dB", configuration.effectiveThreads, kbps, meanPSNR),
        mediaPerItem: frameInterval))
    rows.append(Row(name: "VP8 decode \(label)", unit: "ms", cost: decodeCost, note: "1 thread", mediaPerItem: frameInterval))
}

do {
    var microphone = try SyntheticMicrophone()
    var pcm: [AudioFrame] = []
    let sourceCost = measure(items: audioFrames, repetitions: 1) {
        pcm = (0..<audioFrames).map { _ in microphone.nextFrame(sampleCount: 960, captureInstant: .zero) }
    }
    var packets: [EncodedAudioFrame] = []
    let configuration = OpusEncoderConfiguration()
    let encodeCost = try measure(items: audioFrames, repetitions: repetitions) {
        let encoder = try OpusEncoder(configuration: configuration)
        packets = try pcm.map { try encoder.encode($0) }
    }
    let decodeCost = try measure(items: audioFrames, repetitions: repetitions) {
        let decoder = try OpusDecoder()
        for packet in packets { _ = try decoder.decode(packet.payload) }
    }
    let kbps = Double(packets.reduce(0) { $0 + $1.payload.count } * 8) / (Double(audioFrames) / 50) / 1_000
    rows.append(Row(name: "synthetic microphone 20 ms", unit: "µs", cost: sourceCost, note: "frames/s column = generation rate", mediaPerItem: .milliseconds(20)))
    rows.append(Row(
        name: "Opus encode 20 ms mono", unit: "µs", cost: encodeCost,
        note: String(format: "48 kbit/s target, FEC, complexity 9, %.1f kbit/s", kbps),
        mediaPerItem: .milliseconds(20)))
    rows.append(Row(name: "Opus decode 20 ms mono", unit: "µs", cost: decodeCost, note: "", mediaPerItem: .milliseconds(20)))
}

print("Parley codec baseline (median of \(repetitions) runs; \(videoFrames) video / \(audioFrames) audio frames per run)")
print("measure".padded(to: 34) + "  CPU/frame wall/frame       frames/s  real-time load  notes")
for row in rows { print(row.formatted()) }
