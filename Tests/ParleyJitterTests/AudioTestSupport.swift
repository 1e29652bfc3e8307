import ParleyJitter
import ParleyMedia
import ParleyWire

/// Real Opus packets of the synthetic voice, 20 ms each, encoded once per configuration.
enum SpeechPackets {
    /// 70 s of speech with in-band FEC (48 kbit/s hybrid, tuned for 10 % loss).
    static let withFEC: [[UInt8]] = (try? encode(seconds: 70, inbandFEC: true)) ?? []
    /// 20 s of the same speech without FEC.
    static let withoutFEC: [[UInt8]] = (try? encode(seconds: 20, inbandFEC: false)) ?? []

    static func encode(seconds: Int, inbandFEC: Bool) throws -> [[UInt8]] {
        var microphone = try SyntheticMicrophone()
        let encoder = try OpusEncoder(configuration: .init(inbandFEC: inbandFEC))
        return try (0..<(seconds * 50)).map { _ in
            try encoder.encode(microphone.nextFrame(sampleCount: 960, captureInstant: .zero)).payload
        }
    }
}

/// A near-normal deviate (Irwin–Hall sum of 12 uniforms), from a seeded generator.
func normalDeviate(_ generator: inout SplitMix64) -> Double {
    var sum = 0.0
    for _ in 0..<12 { sum += Double(generator.next() >> 11) / Double(1 << 53) }
    return sum - 6
}

/// One packet as the network delivers it.
struct Delivery {
    var index: Int
    var arrival: MonotonicInstant
}

/// A synthetic network: each packet `i` of a 20 ms stream, sent at `i × 20 ms`, arrives after
/// `baseDelay + extra(i)` (never before it is sent), or is lost when `extra` returns nil. With
/// `isFIFO` a packet never overtakes its predecessor (it waits behind it, as on one queue).
func deliveries(
    count: Int, start: MonotonicInstant = MonotonicInstant(nanoseconds: 1_000_000_000),
    baseDelay: Duration = .milliseconds(40), isFIFO: Bool = false, extra: (Int) -> Duration?
) -> [Delivery] {
    var result: [Delivery] = []
    var latest = MonotonicInstant.zero
    for index in 0..<count {
        guard let delay = extra(index) else { continue }
        let sent = start + .milliseconds(20 * index)
        var arrival = sent + max(.zero, baseDelay + delay)
        if isFIFO {
            arrival = max(arrival, latest)
            latest = arrival
        }
        result.append(Delivery(index: index, arrival: arrival))
    }
    return result.enumerated().sorted { ($0.element.arrival, $0.offset) < ($1.element.arrival, $1.offset) }
        .map(\.element)
}

/// Normal jitter of standard deviation `sigma` per packet, or none outside `active`.
func normalJitter(sigma: Duration, seed: UInt64, active: Range<Int> = 0..<Int.max) -> (Int) -> Duration? {
    var generator = SplitMix64(seed: seed)
    let deviates = (0..<10_000).map { _ in normalDeviate(&generator) }
    return { index in
        guard active.contains(index) else { return .zero }
        return sigma * deviates[index % deviates.count]
    }
}

/// What a run of a jitter buffer produced.
struct PlayoutRun {
    var playouts: [AudioPlayout] = []
    /// (seconds since the first send, target delay) after each pull.
    var targets: [(time: Double, target: Duration)] = []
    /// (seconds since the first send, playout delay) after each pull.
    var delays: [(time: Double, delay: Duration)] = []
    var statistics = AudioJitterStatistics()
    var bufferedMaximum = Duration.zero

    /// The samples of every pull, in order.
    var samples: [Int16] { playouts.flatMap(\.samples) }

    /// The largest target delay seen from `time` seconds on.
    func maximumTarget(from time: Double, to end: Double = .infinity) -> Duration {
        targets.filter { $0.time >= time && $0.time < end }.map(\.target).max() ?? .zero
    }
}

/// Plays `packets` through a fresh `AudioJitterBuffer` with the real `OpusDecoder`: delivers each as
/// `network` says (sequence numbers and timestamps start near their wrap points), pulling every
/// `pullInterval` of virtual time from 60 ms after the first send until `duration`.
func play(
    _ packets: [[UInt8]], network: [Delivery], duration: Duration, pullInterval: Duration = .milliseconds(20),
    configuration: AudioJitterBuffer.Configuration = .init(),
    start: MonotonicInstant = MonotonicInstant(nanoseconds: 1_000_000_000),
    insertExtra: ((AudioJitterBuffer, MonotonicInstant) -> Void)? = nil
) throws -> PlayoutRun {
    let buffer = try AudioJitterBuffer(configuration: configuration, decoder: try OpusDecoder())
    var run = PlayoutRun()
    var next = 0
    var now = start + .milliseconds(60)
    let pullSamples = Int(pullInterval.ticks(atRate: 48_000))
    while now < start + duration {
        while next < network.count, network[next].arrival <= now {
            let delivery = network[next]
            buffer.insert(
                payload: packets[delivery.index], sequenceNumber: SequenceNumber(65_500).advanced(by: delivery.index),
                timestamp: RTPTimestamp(0xFFFF_0000).advanced(by: Int64(960 * delivery.index)),
                arrival: delivery.arrival)
            next += 1
        }
        insertExtra?(buffer, now)
        run.bufferedMaximum = max(run.bufferedMaximum, buffer.bufferedDuration)
        run.playouts.append(buffer.pull(sampleCount: pullSamples, now: now))
        let time = (now - start).inSeconds
        run.targets.append((time, buffer.targetDelay))
        if let delay = buffer.playoutDelay(at: now) { run.delays.append((time, delay)) }
        now = now + pullInterval
    }
    run.statistics = buffer.statistics
    return run
}
