// A real call's CPU against the bare codec work for the same frames (the issue's goal: "CPU seconds of
// a 30 s two-way VGA30 call (both daemons) divided by the CPU of the bare codec work for the same
// frames measured in the same run — goal ≤ 1.10").
//
// Starts two release `parleyd` (the one beside this executable) on 127.0.0.1 with temporary state,
// 640x480 at 30 fps, the callee answering by itself; dials with `Calls/Dial` (`wait`), lets the call
// settle (`--warmup`, 3 s), then takes each daemon's CPU (utime + stime of /proc/PID/stat, and of each
// thread) and `Calls/Stats` at both ends, waits `--seconds` (30), and takes them again. The difference
// is the window: CPU of each daemon and of each of its threads, frames encoded and decoded, the call's
// figures. Then it hangs up. That is one round; `--rounds` (3) rounds are made on the same two daemons,
// each with its own baselines, because two runs of the same call on these shared 2-core VMs differ by
// up to 20 % (the CPU's speed drifts, and the two encoders' phases fall differently): the report gives
// every round's ratios, their median, and the whole breakdown of the median round.
//
// Baseline, measured after each call in this process (the daemons are idle, so nothing competes): for each
// direction, the window's frames — as many VGA synthetic-camera pictures as the sender encoded, through
// a VP8 encoder configured like the engine's, as many decoded as the receiver decoded, and as many 20 ms
// Opus frames encoded and decoded — (a) the codecs alone (pictures made outside the timing), the goal's
// denominator, and (b) the codecs with the sources and sinks a daemon also runs (camera, stamp reading,
// microphone, marker detection); then (c) and (d), the same work at the call's pace (see
// `measureCodecsPaced`). Ratios are reported, not asserted: the run fails only when a call does (it did
// not become active, ended early, or moved no video). Run with `make bench`.
import Foundation
import Glibc
import ParleyBenchmarkSupport
import ParleyControl
import ParleyMedia
import ParleyWire

// MARK: - Options

struct Options {
    var seconds = 30
    var warmup = 3
    var rounds = 3
    var parleyd: String?
    var keepState = false

    static let usage = """
        usage: parley-call-bench [--seconds N] [--warmup N] [--rounds N] [--parleyd PATH] [--keep-state]
          --seconds N    length of the measured window of each call (1…3600, default 30)
          --warmup N     seconds between the call becoming active and the window (0…60, default 3)
          --rounds N     calls measured one after the other, each with its baselines (1…10, default 3)
          --parleyd PATH the daemon (default: parleyd beside this executable)
          --keep-state   keep the temporary directory (state, sockets, daemon logs)
        """

    init(_ arguments: [String]) throws {
        var rest = arguments[...]
        func value(_ flag: String) throws -> String {
            guard let value = rest.popFirst() else { throw BenchmarkFailure("\(flag) needs a value\n\(Self.usage)") }
            return value
        }
        while let argument = rest.popFirst() {
            switch argument {
            case "--seconds":
                guard let seconds = Int(try value(argument)), (1...3_600).contains(seconds) else {
                    throw BenchmarkFailure("--seconds must be 1…3600")
                }
                self.seconds = seconds
            case "--warmup":
                guard let warmup = Int(try value(argument)), (0...60).contains(warmup) else {
                    throw BenchmarkFailure("--warmup must be 0…60")
                }
                self.warmup = warmup
            case "--rounds":
                guard let rounds = Int(try value(argument)), (1...10).contains(rounds) else {
                    throw BenchmarkFailure("--rounds must be 1…10")
                }
                self.rounds = rounds
            case "--parleyd": parleyd = try value(argument)
            case "--keep-state": keepState = true
            case "--quick":  // as the other benchmarks' --quick
                seconds = 10
                rounds = 1
            case "-h", "--help":
                print(Self.usage)
                exit(0)
            default: throw BenchmarkFailure("unknown argument \(argument)\n\(Self.usage)")
            }
        }
    }
}

/// `parleyd` beside this executable (/proc/self/exe), unless given.
func locateParleyd(_ given: String?) throws -> String {
    let path = given ?? (URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent().path + "/parleyd")
    guard access(path, X_OK) == 0 else {
        throw BenchmarkFailure("no executable parleyd at \(path): build it (swift build -c release --product parleyd) or pass --parleyd")
    }
    return path
}

// MARK: - The call

/// Both daemons at one moment: CPU (process and threads), `Calls/Stats`, wall clock.
struct Moment {
    var wallNanoseconds: Int64
    var cpu: [ProcessCPUSample]
    var counters: [EndCounters]
    var states: [String]
    /// `/proc/loadavg`'s first three fields: how busy the machine was.
    var loadAverage: String
}

/// What the call measured in the window.
struct CallMeasurement {
    var seconds: Double
    var video: VideoParameters
    var cpuSeconds: [Double]
    var threads: [ThreadBreakdown]
    /// Each end's counters over the window (index 0: the caller A, 1: the callee B).
    var window: [EndCounters]
    var firstFrameNumbers: [UInt32]
    var hangup: String
    /// The machine's load average at the window's start and end.
    var loadAverages: [String]

    /// The work of the direction from `sender` to the other end.
    func work(from sender: Int) -> DirectionWork {
        let receiver = 1 - sender
        return DirectionWork(
            videoFramesEncoded: Int(window[sender].videoFramesEncoded),
            keyFramesEncoded: Int(window[sender].keyFramesEncoded),
            videoFramesDecoded: Int(window[receiver].videoFramesDecoded),
            audioFramesEncoded: Int(window[sender].audioFramesEncoded),
            audioPacketsDecoded: Int(window[receiver].audioPacketsReceived),
            firstFrameNumber: firstFrameNumbers[sender])
    }
}


/// Runs the call between `daemons` (started, serving) and measures its window.
func measureCall(_ daemons: [Daemon], options: Options) async throws -> CallMeasurement {
    let (caller, callee) = (daemons[0], daemons[1])
    let identity = try await callee.call("Identity/Get")
    guard let uri = identity["uri"]?.text, uri.contains("@") else {
        throw BenchmarkFailure("B's Identity/Get has no uri with an address: \(identity.serialized())")
    }
    let call = try await caller.call(
        "Calls/Dial", ["peer": .string(uri), "wait": true, "timeout_ms": 20_000], deadline: .seconds(30))
    guard let callerID = call["call_id"]?.text, call["state"]?.text == "active" else {
        throw BenchmarkFailure("Calls/Dial answered without an active call: \(call.serialized())")
    }
    let video = VideoParameters(
        width: Int(call["video.width"]?.double ?? 640), height: Int(call["video.height"]?.double ?? 480),
        frameRate: Int(call["video.frame_rate"]?.double ?? 30), bitrate: Int(call["video.max_bitrate"]?.double ?? 1_000_000))

    // The callee answered by itself: find its call and wait until it is active too.
    var calleeID: String?
    let clock = ContinuousClock()
    let deadline = clock.now + .seconds(10)
    while calleeID == nil, clock.now < deadline {
        let list = try await callee.call("Calls/List")
        calleeID = list["calls"]?.elements.first { $0["state"]?.text == "active" }?["call_id"]?.text
        if calleeID == nil { try await Task.sleep(for: .milliseconds(50)) }
    }
    guard let calleeID else { throw BenchmarkFailure("B's call did not become active within 10 s of A's") }
    let ids = [callerID, calleeID]
    print("call active (A \(callerID), B \(calleeID)); warm-up \(options.warmup) s, then a \(options.seconds) s window…")
    try await Task.sleep(for: .seconds(options.warmup))

    func moment() async throws -> Moment {
        let wall = wallNanoseconds()
        var cpu: [ProcessCPUSample] = []
        for daemon in daemons {
            guard let sample = ProcessCPUSample(pid: daemon.pid) else { throw BenchmarkFailure("parleyd \(daemon.name) is gone") }
            cpu.append(sample)
        }
        var counters: [EndCounters] = []
        var states: [String] = []
        for (daemon, id) in zip(daemons, ids) {
            let stats = try await daemon.call("Calls/Stats", ["call_id": .string(id)])
            counters.append(EndCounters(stats: stats))
            states.append(stats["state"]?.text ?? "?")
        }
        return Moment(wallNanoseconds: wall, cpu: cpu, counters: counters, states: states, loadAverage: loadAverage())
    }

    let start = try await moment()
    try await Task.sleep(for: .seconds(options.seconds))
    let end = try await moment()
    guard start.states.allSatisfy({ $0 == "active" }), end.states.allSatisfy({ $0 == "active" }) else {
        throw BenchmarkFailure("the call did not stay active through the window: A \(end.states[0]), B \(end.states[1])")
    }
    _ = try await caller.call("Calls/Hangup", ["call_id": .string(callerID)])
    var hangup = "A hung up"
    let ended = clock.now + .seconds(5)
    while clock.now < ended {
        let state = try await callee.call("Calls/Get", ["call_id": .string(calleeID)])["state"]?.text
        if state == "ended" {
            hangup += "; B saw the call end"
            break
        }
        try await Task.sleep(for: .milliseconds(50))
    }

    let window = (0..<2).map { end.counters[$0].since(start.counters[$0]) }
    return CallMeasurement(
        seconds: Double(end.wallNanoseconds - start.wallNanoseconds) / 1e9, video: video,
        cpuSeconds: (0..<2).map { Double(end.cpu[$0].ticks - start.cpu[$0].ticks) / ProcessCPUSample.ticksPerSecond },
        threads: (0..<2).map { ThreadBreakdown(from: start.cpu[$0], to: end.cpu[$0]) },
        window: window,
        firstFrameNumbers: start.counters.map { UInt32(clamping: Int($0.videoFramesEncoded)) },
        hangup: hangup, loadAverages: [start.loadAverage, end.loadAverage])
}

// MARK: - Report

/// `1 thread`, `2 threads`.
func threadCount(_ count: Int) -> String { count == 1 ? "1 thread" : "\(count) threads" }

/// The 1, 5 and 15 minute load averages.
func loadAverage() -> String {
    (readSmallFile("/proc/loadavg") ?? "").split(separator: " ").prefix(3).joined(separator: " ")
}

func fixed(_ value: Double, _ decimals: Int = 2) -> String { String(format: "%.\(decimals)f", value) }
func integer(_ value: Double) -> String { String(Int(value.rounded())) }
func percent(_ part: Double, of whole: Double) -> String { whole > 0 ? fixed(part / whole * 100, 1) + " %" : "–" }

func report(_ call: CallMeasurement, codecsOnly: [CodecCPU], withSources: [CodecCPU], baselineLoad: [String], options: Options) {
    let w = call.window
    let daemons = call.cpuSeconds.reduce(0, +)
    let a = codecsOnly[0] + codecsOnly[1]
    let b = withSources[0] + withSources[1]
    let work = [call.work(from: 0), call.work(from: 1)]
    print("")
    print(
        "Call benchmark: two-way \(call.video.width)x\(call.video.height) \(call.video.frameRate) fps call (VP8 ≤ \(call.video.bitrate / 1_000) kbit/s, "
            + "Opus 20 ms) between two release parleyd on 127.0.0.1; window \(fixed(call.seconds)) s from \(options.warmup) s after both ends were active")
    print("Daemon CPU: utime + stime of /proc/PID/stat (\(Int(ProcessCPUSample.ticksPerSecond)) ticks/s). Baseline: this process, afterwards, the same frames per direction.")
    print("Machine: \(ProcessInfo.processInfo.activeProcessorCount) CPUs; load average \(call.loadAverages[0]) at the window's start, \(call.loadAverages[1]) at its end, \(baselineLoad[0]) / \(baselineLoad[1]) around the baseline.")
    print("")
    print("| | A (caller) | B (callee) | both |")
    print("|---|---|---|---|")
    func row(_ name: String, _ values: [String], _ both: String = "") { print("| \(name) | \(values[0]) | \(values[1]) | \(both) |") }
    row("daemon CPU", call.cpuSeconds.map { "\(fixed($0)) s (\(percent($0, of: call.seconds)) of a core)" }, "**\(fixed(daemons)) s**")
    row("video frames encoded (key frames)", w.map { "\(integer($0.videoFramesEncoded)) (\(integer($0.keyFramesEncoded)))" },
        integer(w[0].videoFramesEncoded + w[1].videoFramesEncoded))
    row("achieved fps: encoded / decoded", w.map { "\(fixed($0.videoFramesEncoded / call.seconds, 1)) / \(fixed($0.videoFramesDecoded / call.seconds, 1))" })
    row("video frames decoded (from the peer)", w.map { integer($0.videoFramesDecoded) }, integer(w[0].videoFramesDecoded + w[1].videoFramesDecoded))
    row("video sent", w.map { "\(fixed($0.videoBytesSent * 8 / call.seconds / 1_000, 0)) kbit/s" })
    row("audio frames encoded / packets received", w.map { "\(integer($0.audioFramesEncoded)) / \(integer($0.audioPacketsReceived))" })
    row("datagrams sent / received", w.map { "\(integer($0.datagramsSent)) / \(integer($0.datagramsReceived))" })
    row("round-trip time (last)", w.map { $0.roundTripTime.map { "\(fixed($0 * 1_000)) ms" } ?? "–" })
    row("packets lost: video / audio", w.map { "\(integer($0.videoPacketsLost)) / \(integer($0.audioPacketsLost))" })
    row("NACKs / PLIs sent", w.map { "\(integer($0.nackCount)) / \(integer($0.pliCount))" })
    row("stamp latency: mean (window) / max (call)", w.map { "\(fixed($0.latencyMeanMilliseconds, 1)) / \(fixed($0.latencyMaximumMilliseconds, 1)) ms" })
    row("stamps read / failed", w.map { "\(integer($0.stampsRead)) / \(integer($0.stampFailures))" })
    row("frames dropped by decode queue / skipped at capture", w.map { "\(integer($0.framesDroppedByQueue)) / \(integer($0.framesSkipped))" })
    row("audio markers heard / concealed samples", w.map { "\(integer($0.markersHeard)) / \(integer($0.concealedSamples))" })
    print("")
    let frames = work.map { "\($0.videoFramesEncoded) enc + \($0.videoFramesDecoded) dec video, \($0.audioFramesEncoded) enc + \($0.audioPacketsDecoded) dec audio" }
    print("Baseline work per direction: A→B \(frames[0]); B→A \(frames[1]). VP8 as the engine configures it (cpu-used −6, error resilient, \(threadCount(call.video.encoderConfiguration.effectiveThreads))), Opus 48 kbit/s FEC complexity 9.")
    print("")
    print("| baseline (same run, same frames, both directions) | CPU | daemons ÷ baseline |")
    print("|---|---|---|")
    print("| (a) codecs only: VP8 encode + decode, Opus encode + decode | \(fixed(a.total)) s | **\(fixed(daemons / a.total, 3))** (goal ≤ 1.10) |")
    print("| (b) codecs + sources and sinks: camera, stamp read, microphone, marker detection | \(fixed(b.total)) s | \(fixed(daemons / b.total, 3)) |")
    let slowest = w.map { $0.videoFramesEncoded / call.seconds }.min() ?? 0
    if slowest < 0.9 * Double(call.video.frameRate) {
        print("")
        print("note: the call did not keep its frame rate (\(fixed(slowest, 1)) of \(call.video.frameRate) fps at the slower end; "
            + "frames skipped at capture above): the ratios compare the frames that were sent, but this was not a full-rate call.")
    }
    if a.videoEncode > 1.5 * a.videoEncodeOneThread {
        print("")
        print("note: VP8 encoding with the engine's \(threadCount(call.video.encoderConfiguration.effectiveThreads)) cost \(fixed(a.videoEncode / a.videoEncodeOneThread, 1))× "
            + "the same frames with 1 thread (\(fixed(a.videoEncode)) s against \(fixed(a.videoEncodeOneThread)) s): libvpx's VP8 encoder threads busy-wait "
            + "for each other, so when they do not each have a free core their CPU grows with the machine's load — in the daemons and in the baseline.")
    }
    print("")
    print("| baseline part | (a) codecs only | (b) with sources |")
    print("|---|---|---|")
    for (name, x, y) in [
        ("VP8 encode", a.videoEncode, b.videoEncode), ("VP8 decode", a.videoDecode, b.videoDecode),
        ("Opus encode", a.audioEncode, b.audioEncode), ("Opus decode", a.audioDecode, b.audioDecode),
    ] {
        print("| \(name) | \(fixed(x, 3)) s | \(fixed(y, 3)) s |")
    }
    for (name, y) in [
        ("synthetic camera", b.camera), ("stamp read (\(b.stampsRead) read)", b.stampRead), ("synthetic microphone", b.microphone),
        ("marker detection (\(b.markersHeard) heard)", b.markerDetection),
    ] {
        print("| \(name) | – | \(fixed(y, 3)) s |")
    }
    print("| (diagnostic, not in the totals) VP8 encode with 1 encoder thread | \(fixed(a.videoEncodeOneThread, 3)) s | – |")
    print("| timed region | \(fixed(a.total, 3)) s | \(fixed(b.total, 3)) s (parts \(fixed(b.codecs + b.sources, 3)) s) |")
    print("")
    print("Daemon CPU by thread in the window (threads of one name summed; waited = runnable but waiting for a CPU, from schedstat; "
        + "switches = the thread's waits and pre-emptions (context switches); "
        + "baseline counterpart = what that thread's media work costs bare, pass (b)):")
    print("")
    print("| thread | A | B | baseline counterpart A / B |")
    print("|---|---|---|---|")
    // Each thread's bare work: what it sends (`own`, its direction) and what it receives (`peer`'s).
    let counterparts: [String: (_ own: CodecCPU, _ peer: CodecCPU) -> Double] = [
        "parley-venc": { own, _ in own.camera + own.videoEncode },
        "parley-vdec": { _, peer in peer.videoDecode + peer.stampRead },
        "parley-audio": { own, peer in own.microphone + own.audioEncode + peer.audioDecode + peer.markerDetection },
    ]
    var threadNames: [String] = []
    for breakdown in call.threads {
        for line in breakdown.lines where !threadNames.contains(line.name) { threadNames.append(line.name) }
    }
    for name in threadNames {
        let cells = call.threads.map { breakdown -> String in
            guard let line = breakdown.lines.first(where: { $0.name == name }) else { return "–" }
            return "\(fixed(line.seconds)) s" + (line.count > 1 ? " (×\(line.count))" : "") + ", waited \(fixed(line.waitSeconds)) s, "
                + "\(fixed(Double(line.switches) / call.seconds, 0)) switches/s"
        }
        var counterpart = ""
        if let part = counterparts[name] {
            // A sends direction 0 and receives direction 1.
            counterpart = "\(fixed(part(withSources[0], withSources[1]))) / \(fixed(part(withSources[1], withSources[0]))) s"
        }
        print("| \(name) | \(cells[0]) | \(cells[1]) | \(counterpart) |")
    }
    // Process and thread ticks are rounded apart, so a window without ended threads can come out a tick below zero.
    let ended = call.threads.map { fixed(max(0, $0.endedThreadsSeconds)) }
    print("| (threads that ended in the window) | \(ended[0]) s | \(ended[1]) s | |")
    print("| process | \(fixed(call.threads[0].totalSeconds)) s | \(fixed(call.threads[1].totalSeconds)) s | |")
    let mediaThreads = Set(counterparts.keys)
    let rest = call.threads.map { breakdown in
        breakdown.totalSeconds - breakdown.lines.filter { mediaThreads.contains($0.name) }.reduce(0) { $0 + $1.seconds }
    }
    let media = [0, 1].map { own in counterparts.values.reduce(0) { $0 + $1(withSources[own], withSources[1 - own]) } }
    print("")
    print("Outside the media threads (no media work: the network path, control, statistics): A \(fixed(rest[0])) s, "
        + "B \(fixed(rest[1])) s. Media threads above their bare work (pass b): "
        + "A \(fixed(call.threads[0].totalSeconds - rest[0] - media[0])) s, B \(fixed(call.threads[1].totalSeconds - rest[1] - media[1])) s.")
    print("")
    print("\(call.hangup).")
}

// MARK: - Main

let options: Options
do {
    options = try Options(Array(CommandLine.arguments.dropFirst()))
} catch {
    FileHandle.standardError.write(Data("parley-call-bench: \(error)\n".utf8))
    exit(2)
}

/// One round: a call's window and the baselines measured right after it.
struct Round {
    var call: CallMeasurement
    var codecsOnly: [CodecCPU]
    var withSources: [CodecCPU]
    var paced: PacedCPU
    var baselineLoad: [String]

    var daemonCPU: Double { call.cpuSeconds.reduce(0, +) }
    var codecsAlone: Double { (codecsOnly[0] + codecsOnly[1]).total }
    var codecsAndSources: Double { (withSources[0] + withSources[1]).total }
    var pacedWithSources: Double { paced.codecs + paced.sourcesAndSinks }
}

/// Measures the baselines of `call`'s window in this process (the daemons idle meanwhile).
func measureBaselines(of call: CallMeasurement) throws -> Round {
    let load = loadAverage()
    // A short unreported run first, so first-touch costs (pages, tables) fall on no measured figure.
    let warmUp = DirectionWork(
        videoFramesEncoded: 30, keyFramesEncoded: 1, videoFramesDecoded: 30, audioFramesEncoded: 50, audioPacketsDecoded: 50,
        firstFrameNumber: 0)
    _ = try measureCodecsOnly(warmUp, video: call.video)
    let codecsOnly = try (0..<2).map { try measureCodecsOnly(call.work(from: $0), video: call.video) }
    let withSources = try (0..<2).map { try measureCodecsAndSources(call.work(from: $0), video: call.video) }
    print("measuring the paced baseline (the same media work at the call's pace, \(fixed(call.seconds, 0)) s)…")
    let paced = try measureCodecsPaced([call.work(from: 0), call.work(from: 1)], video: call.video)
    return Round(call: call, codecsOnly: codecsOnly, withSources: withSources, paced: paced, baselineLoad: [load, loadAverage()])
}

/// The paced baselines of `round` and what the engine's own work comes to.
func reportPaced(_ round: Round, wakeCost: Double) {
    let call = round.call
    let paced = round.paced
    let daemons = round.daemonCPU
    print("")
    print("| paced baselines (pass C: the work of (b) at the call's pace, a thread per medium and direction, parts timed apart) | CPU | daemons ÷ paced |")
    print("|---|---|---|")
    print("| (c) codecs only, paced | \(fixed(paced.codecs)) s | **\(fixed(daemons / max(paced.codecs, 1e-9), 3))** |")
    print("| (d) codecs + sources and sinks, paced | \(fixed(round.pacedWithSources)) s | **\(fixed(daemons / max(round.pacedWithSources, 1e-9), 3))** |")
    print("| parts: VP8 encode + decode / Opus encode + decode | \(fixed(paced.video)) / \(fixed(paced.audio)) s | |")
    print("| parts: camera + stamp read / microphone + marker detection | \(fixed(paced.videoSourcesAndSinks)) / \(fixed(paced.audioSourcesAndSinks)) s | |")
    print("")
    print("The engine's own work (daemon CPU − (d)): \(fixed(daemons - round.pacedWithSources)) s, "
        + "\(fixed((daemons - round.pacedWithSources) / call.seconds / 2 * 1_000, 1)) ms per second per daemon.")
    let switches = call.threads.reduce(0) { $0 + $1.lines.reduce(0) { $0 + $1.switches } }
    print("A thread's 20 ms sleep and wake-up costs \(fixed(wakeCost, 1)) µs of its CPU on this machine (measured here, "
        + "\(wakeCostCycles) sleeps); the daemons' threads switched \(switches) times in the window: about "
        + "\(fixed(Double(switches) * wakeCost / 1e6)) s at that price.")
}

/// Every round's ratios and their medians.
func reportRounds(_ rounds: [Round]) {
    print("")
    print("| round | daemon CPU | ÷ (a) codecs, back to back (goal ≤ 1.10) | ÷ (b) with sources | ÷ (c) codecs, paced | ÷ (d) with sources, paced |")
    print("|---|---|---|---|---|---|")
    for (index, round) in rounds.enumerated() {
        let daemons = round.daemonCPU
        print("| \(index + 1) | \(fixed(daemons)) s | \(fixed(daemons / round.codecsAlone, 3)) | \(fixed(daemons / round.codecsAndSources, 3)) | "
            + "\(fixed(daemons / round.paced.codecs, 3)) | \(fixed(daemons / round.pacedWithSources, 3)) |")
    }
    func median(_ ratio: (Round) -> Double) -> String { fixed(ParleyBenchmarkSupport.median(rounds.map(ratio)), 3) }
    print("| **median** | \(fixed(ParleyBenchmarkSupport.median(rounds.map(\.daemonCPU)))) s | **\(median { $0.daemonCPU / $0.codecsAlone })** | "
        + "\(median { $0.daemonCPU / $0.codecsAndSources }) | \(median { $0.daemonCPU / $0.paced.codecs }) | "
        + "**\(median { $0.daemonCPU / $0.pacedWithSources })** |")
}

var template = Array("/tmp/parley-callbench.XXXXXX".utf8CString)
guard let made = mkdtemp(&template) else {
    print("parley-call-bench: cannot create a temporary directory in /tmp")
    exit(1)
}
let directory = String(cString: made)
var daemons: [Daemon] = []
var rounds: [Round] = []
var failed = false
do {
    let executable = try locateParleyd(options.parleyd)
    let video = ["--video-size", "640x480", "--frame-rate", "30"]
    print("parley-call-bench: two parleyd (\(executable)) on 127.0.0.1, files in \(directory)")
    daemons.append(try Daemon(name: "a", executable: executable, directory: directory, arguments: video))
    daemons.append(try Daemon(name: "b", executable: executable, directory: directory, arguments: video + ["--auto-answer"]))
    for daemon in daemons { try await daemon.waitUntilServing() }
    for index in 1...options.rounds {
        print("round \(index) of \(options.rounds):")
        let call = try await measureCall(daemons, options: options)
        guard call.window.allSatisfy({ $0.videoFramesDecoded > 0 && $0.audioPacketsReceived > 0 }) else {
            throw BenchmarkFailure("media did not flow both ways in round \(index)'s window")
        }
        print("measuring the baseline (the same frames, in this process)…")
        rounds.append(try measureBaselines(of: call))
    }
} catch {
    print("parley-call-bench: FAILED — \(error)")
    failed = true
}
var stops: [String] = []
for daemon in daemons { stops.append("parleyd \(daemon.name): \(await daemon.stop())") }

guard !failed, !rounds.isEmpty else {
    for line in stops { print(line) }
    for daemon in daemons {
        print("── \(daemon.logPath) ──")
        print(readSmallFile(daemon.logPath).map { String($0.suffix(3_000)) } ?? "")
    }
    if !options.keepState { try? FileManager.default.removeItem(atPath: directory) }
    exit(1)
}
if options.keepState {
    print("state, sockets and logs kept in \(directory)")
} else {
    try? FileManager.default.removeItem(atPath: directory)
}

let wakeCost = measureWakeCost()
// The round whose ratio (a) is the median, shown whole.
let order = rounds.indices.sorted { rounds[$0].daemonCPU / rounds[$0].codecsAlone < rounds[$1].daemonCPU / rounds[$1].codecsAlone }
let shown = rounds[order[order.count / 2]]
if rounds.count > 1 { print("\nRound \(order[order.count / 2] + 1) of \(rounds.count), the median by ratio (a), in full:") }
report(shown.call, codecsOnly: shown.codecsOnly, withSources: shown.withSources, baselineLoad: shown.baselineLoad, options: options)
reportPaced(shown, wakeCost: wakeCost)
reportRounds(rounds)
print("")
for line in stops { print(line) }
