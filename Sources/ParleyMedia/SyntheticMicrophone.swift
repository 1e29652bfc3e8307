internal import Foundation
public import ParleyWire

/// A microphone for machines without one: a speech-like voice with periodic, detectable markers.
///
/// The voice is a glottal pulse train with intonation, shaped by three moving formant resonators
/// (five vowels), with fricative bursts, syllable envelopes and phrase pauses: a signal codecs treat
/// like speech, unlike a pure tone. Every `markerInterval` samples, starting at half an interval, a
/// 10 ms windowed chirp (`AudioMarker`) replaces the voice, which is silenced for 20 ms either side, so a
/// receiver can find each marker (`AudioMarker.detectStarts(in:)`) and measure latency and loss.
/// The signal is a pure function of the sample index; stereo carries the same signal on both channels.
public struct SyntheticMicrophone: Sendable {
    /// 1 (mono) or 2 (stereo).
    public let channelCount: Int
    /// Samples between marker starts.
    public let markerInterval: Int
    /// Index of the next sample `nextFrame` returns (samples per channel since the start).
    public private(set) var position: Int = 0

    private var voice = VoiceState()

    /// A microphone with markers every `markerInterval` (default 500 ms, at least 100 ms).
    ///
    /// - Throws: `MediaError.invalidArgument` for a channel count other than 1 or 2 or too short an interval.
    public init(channelCount: Int = 1, markerInterval: Duration = .milliseconds(500)) throws(MediaError) {
        guard channelCount == 1 || channelCount == 2 else {
            throw .invalidArgument(field: "channelCount", reason: "must be 1 or 2, got \(channelCount)")
        }
        let interval = AudioFrame.sampleCount(in: markerInterval)
        guard interval >= AudioFrame.sampleRate / 10 else {
            throw .invalidArgument(field: "markerInterval", reason: "must be at least 100 ms")
        }
        self.channelCount = channelCount
        self.markerInterval = interval
    }

    /// Sample index of the first sample of marker `index` (0, 1, …).
    public func markerStart(_ index: Int) -> Int {
        index * markerInterval + markerInterval / 2
    }

    /// Starts of every marker that lies wholly inside `range` of sample indices.
    public func markerStarts(in range: Range<Int>) -> [Int] {
        guard !range.isEmpty else { return [] }
        var first = max(0, (range.lowerBound - markerInterval / 2 + markerInterval - 1) / markerInterval)
        var starts: [Int] = []
        while markerStart(first) + AudioMarker.length <= range.upperBound {
            if markerStart(first) >= range.lowerBound { starts.append(markerStart(first)) }
            first += 1
        }
        return starts
    }

    /// Waits for `ticker`'s next tick and returns the next `ticker.interval` of audio, captured then.
    ///
    /// With a `.nominal` ticker the microphone runs in real time on the ticker's clock; with
    /// `.asFastAsPossible` it runs as fast as it is asked.
    public mutating func nextFrame<Clock: MediaClock>(pacedBy ticker: inout CaptureTicker<Clock>) async throws -> AudioFrame {
        let captured = try await ticker.next()
        return nextFrame(sampleCount: AudioFrame.sampleCount(in: ticker.interval), captureInstant: captured)
    }

    /// The next `sampleCount` samples per channel, presented at their position in the stream.
    public mutating func nextFrame(sampleCount: Int, captureInstant: MonotonicInstant) -> AudioFrame {
        var samples = [Int16](repeating: 0, count: sampleCount * channelCount)
        for index in 0..<sampleCount {
            let value = sample(at: position + index)
            for channel in 0..<channelCount {
                samples[index * channelCount + channel] = value
            }
        }
        let frame = AudioFrame(
            channelCount: channelCount, samples: samples,
            presentationTime: AudioFrame.duration(ofSamples: position), captureInstant: captureInstant)
        position += sampleCount
        return frame
    }

    private mutating func sample(at n: Int) -> Int16 {
        let sinceMarker = (n - markerInterval / 2) %% markerInterval
        if sinceMarker < AudioMarker.length, n >= markerInterval / 2 {
            _ = voice.next(n)  // Keep the voice's filters running through the marker.
            return AudioMarker.waveform[sinceMarker]
        }
        let guardSamples = AudioFrame.sampleRate / 50  // 20 ms
        let toNextMarker = markerInterval - sinceMarker
        let distance = min(sinceMarker - AudioMarker.length, toNextMarker)
        let duck = min(1, max(0, Double(distance - guardSamples) / Double(guardSamples / 4)))
        let value = voice.next(n) * duck * 10_000
        return Int16(max(-32_767, min(32_767, value.rounded())))
    }
}

infix operator %% : MultiplicationPrecedence

/// Remainder that is never negative (for positions before the first marker).
private func %% (value: Int, modulus: Int) -> Int {
    let remainder = value % modulus
    return remainder < 0 ? remainder + modulus : remainder
}

/// The voice model behind `SyntheticMicrophone`: source, formant filters, envelopes.
private struct VoiceState: Sendable {
    private static let sampleRate = Double(AudioFrame.sampleRate)
    private static let syllableLength = AudioFrame.sampleRate / 4  // 250 ms
    /// Formant frequencies (F1, F2, F3) in Hz of the vowels /a/, /e/, /i/, /o/, /u/.
    private static let vowels: [(Double, Double, Double)] = [
        (730, 1_090, 2_440), (530, 1_840, 2_480), (270, 2_290, 3_010), (570, 840, 2_410), (300, 870, 2_240),
    ]
    private static let bandwidths: (Double, Double, Double) = (80, 100, 140)

    private var glottalPhase = 0.0
    private var previousFlow = 0.0
    private var noise = SplitMix64(seed: 0xA0D1_0)
    private var resonators = [Resonator](repeating: Resonator(), count: 3)
    private var highPass = HighPass(cutoff: 100, sampleRate: sampleRate)
    private var fricativeFilter = Resonator(frequency: 4_500, bandwidth: 2_500, sampleRate: sampleRate, unityPeak: true)

    /// The voice's next sample, about −1…1, for sample index `n`.
    mutating func next(_ n: Int) -> Double {
        let syllable = n / Self.syllableLength
        let within = n % Self.syllableLength
        let traits = Self.traits(of: syllable)

        if within % 48 == 0 {
            let previous = Self.vowels[Self.traits(of: syllable - 1).vowel]
            let current = Self.vowels[traits.vowel]
            let glide = min(1, Double(within) / 2_400)  // 50 ms transition
            let formants = [
                previous.0 + (current.0 - previous.0) * glide,
                previous.1 + (current.1 - previous.1) * glide,
                previous.2 + (current.2 - previous.2) * glide,
            ]
            let widths = [Self.bandwidths.0, Self.bandwidths.1, Self.bandwidths.2]
            for index in 0..<3 {
                resonators[index].tune(frequency: formants[index], bandwidth: widths[index], sampleRate: Self.sampleRate)
            }
        }

        let time = Double(n) / Self.sampleRate
        let pitch = 205 + 30 * sin(2 * Double.pi * 0.55 * time) + traits.pitchOffset
        glottalPhase += pitch / Self.sampleRate
        if glottalPhase >= 1 { glottalPhase -= 1 }
        // Rosenberg glottal flow; its derivative has the spectral tilt of a real voice source.
        let flow: Double
        if glottalPhase < 0.4 {
            flow = 0.5 * (1 - cos(Double.pi * glottalPhase / 0.4))
        } else if glottalPhase < 0.56 {
            flow = cos(Double.pi * (glottalPhase - 0.4) / 0.32)
        } else {
            flow = 0
        }
        let white = Double(Int64(bitPattern: noise.next()) >> 11) / Double(1 << 52)
        let source = (flow - previousFlow) * 6 + white * 0.003
        previousFlow = flow

        var voiced = source
        for index in 0..<3 {
            voiced = resonators[index].filter(voiced)
        }

        let voicedLength = Int(Double(Self.syllableLength) * traits.voicedFraction)
        var envelope = 0.0
        if !traits.isPause, within < voicedLength {
            let attack = min(1, Double(within) / 960)
            let release = min(1, Double(voicedLength - within) / 1_920)
            envelope = attack * release * (0.8 + 0.2 * sin(Double.pi * Double(within) / Double(voicedLength)))
        }
        var output = voiced * envelope * 1.8
        if traits.hasFricative, !traits.isPause, within < 1_920 {
            // A short /s/-like burst: noise around 4.5 kHz before the vowel.
            output += fricativeFilter.filter(white) * 0.2 * sin(Double.pi * Double(within) / 1_920)
        }
        // A voice-band microphone rolls off below ~100 Hz (as Opus's own VOIP input filter does).
        return highPass.filter(output)
    }

    private struct Traits {
        var vowel: Int
        var pitchOffset: Double
        var voicedFraction: Double
        var hasFricative: Bool
        var isPause: Bool
    }

    private static func traits(of syllable: Int) -> Traits {
        var random = SplitMix64(seed: UInt64(bitPattern: Int64(syllable)) &* 0x2545_F491_4F6C_DD1D)
        return Traits(
            vowel: Int(random.next() % 5),
            pitchOffset: Double(Int(random.next() % 31) - 15),
            voicedFraction: 0.55 + Double(random.next() % 30) / 100,
            hasFricative: random.next() % 3 == 0,
            isPause: syllable % 9 == 8)
    }
}

/// A two-pole resonator (one formant), by default with unity gain at 0 Hz as in Klatt's cascade synthesiser.
private struct Resonator: Sendable {
    private var a1 = 0.0
    private var a2 = 0.0
    private var gain = 1.0
    private var y1 = 0.0
    private var y2 = 0.0

    init() {}

    init(frequency: Double, bandwidth: Double, sampleRate: Double, unityPeak: Bool) {
        tune(frequency: frequency, bandwidth: bandwidth, sampleRate: sampleRate, unityPeak: unityPeak)
    }

    /// Sets the centre and bandwidth; the gain is 1 at 0 Hz, or at the centre if `unityPeak`.
    mutating func tune(frequency: Double, bandwidth: Double, sampleRate: Double, unityPeak: Bool = false) {
        let radius = exp(-Double.pi * bandwidth / sampleRate)
        let angle = 2 * Double.pi * frequency / sampleRate
        a1 = 2 * radius * cos(angle)
        a2 = -radius * radius
        gain = unityPeak ? (1 - radius) * (1 - 2 * radius * cos(2 * angle) + radius * radius).squareRoot() : 1 - a1 - a2
    }

    mutating func filter(_ input: Double) -> Double {
        let output = gain * input + a1 * y1 + a2 * y2
        y2 = y1
        y1 = output
        return output
    }
}

/// A second-order Butterworth high-pass filter (bilinear transform).
private struct HighPass: Sendable {
    private let b0: Double
    private let a1: Double
    private let a2: Double
    private var x1 = 0.0
    private var x2 = 0.0
    private var y1 = 0.0
    private var y2 = 0.0

    init(cutoff: Double, sampleRate: Double) {
        let warped = tan(Double.pi * cutoff / sampleRate)
        let squared = warped * warped
        let norm = 1 / (1 + 2.0.squareRoot() * warped + squared)
        b0 = norm
        a1 = 2 * (squared - 1) * norm
        a2 = (1 - 2.0.squareRoot() * warped + squared) * norm
    }

    mutating func filter(_ input: Double) -> Double {
        let output = b0 * (input - 2 * x1 + x2) - a1 * y1 - a2 * y2
        x2 = x1
        x1 = input
        y2 = y1
        y1 = output
        return output
    }
}

/// The marker `SyntheticMicrophone` inserts: a 10 ms Hann-windowed linear chirp, 800 → 3200 Hz.
///
/// Its band sits where every Opus mode keeps the waveform (narrowband upwards), and a chirp's
/// correlation has one sharp peak, so its start can be found to well under a millisecond.
public enum AudioMarker {
    /// Samples in one marker (10 ms at 48 kHz).
    public static let length = AudioFrame.sampleRate / 100
    static let startFrequency = 800.0
    static let endFrequency = 3_200.0
    static let amplitude = 20_000.0

    /// The marker's samples as inserted.
    static let waveform: [Int16] = template(phase: 0).map { Int16(($0 * amplitude).rounded()) }

    /// The chirp at unit amplitude with a starting phase of `phase` radians.
    static func template(phase: Double) -> [Double] {
        let rate = Double(AudioFrame.sampleRate)
        let sweep = (endFrequency - startFrequency) / (Double(length) / rate)
        return (0..<length).map { index in
            let time = Double(index) / rate
            let window = 0.5 * (1 - cos(2 * Double.pi * Double(index) / Double(length - 1)))
            return window * cos(phase + 2 * Double.pi * (startFrequency * time + 0.5 * sweep * time * time))
        }
    }

    private static let inPhase = template(phase: 0)
    private static let quadrature = template(phase: -Double.pi / 2)
    private static let templateNorm = inPhase.reduce(0) { $0 + $1 * $1 }.squareRoot()

    /// Start positions (sample indices) of the markers in mono `samples`.
    ///
    /// Uses a phase-insensitive matched filter (in-phase and quadrature chirps), normalised by the
    /// signal's local energy, so a marker is found whatever a codec did to its phase or level.
    /// - Parameter threshold: normalised match (0…1) a peak must exceed; speech stays far below 0.5.
    public static func detectStarts(in samples: [Int16], threshold: Double = 0.6) -> [Int] {
        guard samples.count >= length else { return [] }
        let signal = samples.map(Double.init)
        let positions = signal.count - length + 1
        // Running energy of each window, for normalisation.
        var prefixEnergy = [Double](repeating: 0, count: signal.count + 1)
        for index in signal.indices {
            prefixEnergy[index + 1] = prefixEnergy[index] + signal[index] * signal[index]
        }
        func score(_ start: Int) -> Double {
            let energy = prefixEnergy[start + length] - prefixEnergy[start]
            guard energy > 1 else { return 0 }
            let (i, q) = signal.withUnsafeBufferPointer { s in
                inPhase.withUnsafeBufferPointer { a in
                    quadrature.withUnsafeBufferPointer { b in
                        var i = 0.0
                        var q = 0.0
                        let base = s.baseAddress! + start
                        for k in 0..<length {
                            i += base[k] * a[k]
                            q += base[k] * b[k]
                        }
                        return (i, q)
                    }
                }
            }
            return (i * i + q * q).squareRoot() / (templateNorm * energy.squareRoot())
        }
        // Coarse pass every 4 samples (the match's main lobe is ~20 samples wide), then refine.
        let step = 4
        var starts: [Int] = []
        var candidate = 0
        while candidate < positions {
            guard score(candidate) > threshold * 0.8 else {
                candidate += step
                continue
            }
            var best = candidate
            var bestScore = -1.0
            for position in candidate..<min(positions, candidate + length) {
                let value = score(position)
                if value > bestScore {
                    best = position
                    bestScore = value
                }
            }
            if bestScore > threshold {
                starts.append(refinedStart(near: best, in: signal))
                candidate = best + length
            } else {
                candidate += step
            }
        }
        return starts
    }

    /// The marker's start from the centre of its energy near `start`: codecs that do not keep the
    /// waveform (Opus's SILK) smear the chirp's phase but keep where its energy lies. The voice is
    /// silent 20 ms either side of a marker, so only the marker counts.
    private static func refinedStart(near start: Int, in signal: [Double]) -> Int {
        let lower = max(0, start - length / 2)
        let upper = min(signal.count, start + length + length / 2)
        var weighted = 0.0
        var total = 0.0
        for index in lower..<upper {
            let energy = signal[index] * signal[index]
            weighted += Double(index) * energy
            total += energy
        }
        guard total > 0 else { return start }
        return Int((weighted / total - Double(length - 1) / 2).rounded())
    }
}

/// Listens for the microphone's markers in a stream of samples a second at a time, as a playout sink
/// does: each complete one-second window is searched, and a marker that straddles a window's end is
/// found in the next one (the window's last `AudioMarker.length` samples are searched again).
public struct AudioMarkerListener: Sendable {
    /// The samples searched together (one second at 48 kHz).
    public static let window = AudioFrame.sampleRate
    private var pending: [Int16] = []

    /// A listener that has heard nothing yet.
    public init() {}

    /// Adds `samples` (mono, 48 kHz); returns how many markers start in the windows they completed.
    public mutating func listen(to samples: [Int16]) -> Int {
        pending += samples
        var heard = 0
        while pending.count >= Self.window + AudioMarker.length {
            heard += AudioMarker.detectStarts(in: pending).filter { $0 < Self.window }.count
            pending.removeFirst(Self.window)
        }
        return heard
    }
}
