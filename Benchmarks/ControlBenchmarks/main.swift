// The control protocol's unary round trip on one connection: an in-process `ControlServer` on a Unix
// socket in a temporary directory, one `ControlClient`, and `parley.v1.Engine/Health` called
// (1) sequentially — one call in flight; latency percentiles of every call and calls per second — and
// (2) pipelined — `window` calls in flight on the same connection; calls per second.
// The baseline, measured in the same run: two threads ping-ponging lines of the same sizes (the exact
// bytes of a Health request and its reply) over a raw Unix stream socket pair — no JSON, no server,
// no tasks — sequentially and with the same window in flight (there each end reads what is waiting
// and answers or refills it with one write, as a lean server would). Reported: the engine's figures, the
// baseline's, and their ratios; CPU per call is the whole process's user + kernel time (getrusage), so
// it counts both ends, client and server, in either case. The cases run round-robin, one repetition of
// each in turn; the median over repetitions is reported. `--quick`: a short run.
import Glibc
import ParleyBenchmarkSupport
import ParleyControl

let quick = CommandLine.arguments.contains("--quick")
let sequentialCalls = quick ? 2_000 : 20_000
let pipelinedCalls = quick ? 10_000 : 100_000
let warmUpCalls = quick ? 500 : 2_000
let repetitions = quick ? 3 : 5
/// Calls in flight on the connection in the pipelined cases.
let window = 64

// MARK: - Measuring

/// What one repetition of a case measured.
struct Sample {
    /// Round-trip times, nanoseconds (sequential cases only).
    var latencies: [Int64] = []
    var callsPerSecond: Double
    var cpuNanosecondsPerCall: Double
}

/// The process's CPU time so far (user + kernel, every thread), nanoseconds.
func processCPUNanoseconds() -> Int64 {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    func nanoseconds(_ time: timeval) -> Int64 { Int64(time.tv_sec) * 1_000_000_000 + Int64(time.tv_usec) * 1_000 }
    return nanoseconds(usage.ru_utime) + nanoseconds(usage.ru_stime)
}

/// Runs `body`, which makes `calls` calls, and measures the wall and CPU time it took.
func measure(calls: Int, _ body: () async throws -> [Int64]) async rethrows -> Sample {
    let cpuStart = processCPUNanoseconds()
    let wallStart = wallNanoseconds()
    let latencies = try await body()
    let wall = wallNanoseconds() - wallStart
    let cpu = processCPUNanoseconds() - cpuStart
    return Sample(
        latencies: latencies,
        callsPerSecond: Double(calls) / (Double(wall) / 1e9),
        cpuNanosecondsPerCall: Double(cpu) / Double(calls)
    )
}

// MARK: - Threads

/// A closure handed to a new thread.
final class ThreadBody {
    let run: @Sendable () -> Void
    init(_ run: @escaping @Sendable () -> Void) { self.run = run }
}

/// Starts a thread running `body`; join it with `pthread_join`.
func spawn(_ body: @escaping @Sendable () -> Void) -> pthread_t {
    let box = Unmanaged.passRetained(ThreadBody(body)).toOpaque()
    var thread = pthread_t()
    let result = pthread_create(&thread, nil, { raw in
        Unmanaged<ThreadBody>.fromOpaque(raw!).takeRetainedValue().run()
        return nil
    }, box)
    precondition(result == 0, "pthread_create: \(result)")
    return thread
}

// MARK: - Baseline: raw Unix stream socket ping-pong

/// Two ends of a Unix stream socket pair; a server thread answers every `request` line with `reply`.
/// The client end writes requests and counts reply lines. Neither end parses anything but newlines.
final class RawLinePingPong: @unchecked Sendable {
    let request: [UInt8]
    let reply: [UInt8]
    private let client: Int32
    private let server: Int32
    private var serverThread: pthread_t?

    init(request: [UInt8], reply: [UInt8]) {
        self.request = request
        self.reply = reply
        var ends: [Int32] = [-1, -1]
        let made = socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue), 0, &ends)
        precondition(made == 0, "socketpair: errno \(errno)")
        client = ends[0]
        server = ends[1]
        serverThread = spawn { [self] in serve() }
    }

    /// Closes the client end; the server thread sees the end of the stream and stops.
    func stop() {
        shutdown(client, Int32(SHUT_RDWR))
        if let serverThread { pthread_join(serverThread, nil) }
        close(client)
        close(server)
    }

    /// Reads request lines; for every chunk read, writes one reply per complete line in one write.
    private func serve() {
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        var replies: [UInt8] = []
        while true {
            let count = buffer.withUnsafeMutableBytes { read(server, $0.baseAddress, $0.count) }
            if count == 0 { return }
            if count < 0 {
                if errno == EINTR { continue }
                return
            }
            let lines = buffer[..<count].reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
            replies.removeAll(keepingCapacity: true)
            for _ in 0..<lines { replies.append(contentsOf: reply) }
            guard writeAll(server, replies) else { return }
        }
    }

    /// Sends one request and waits for its reply, `calls` times; returns each round trip's time.
    func sequential(calls: Int) -> [Int64] {
        var latencies = [Int64](repeating: 0, count: calls)
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        for index in 0..<calls {
            let start = wallNanoseconds()
            precondition(writeAll(client, request), "write: errno \(errno)")
            var complete = false
            while !complete {
                let count = buffer.withUnsafeMutableBytes { read(client, $0.baseAddress, $0.count) }
                precondition(count > 0 || errno == EINTR, "read: errno \(errno)")
                if count > 0, buffer[count - 1] == 0x0A { complete = true }
            }
            latencies[index] = wallNanoseconds() - start
        }
        return latencies
    }

    /// Keeps `window` requests in flight until `calls` replies have come back.
    func pipelined(calls: Int, window: Int) {
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        var requests: [UInt8] = []
        func send(_ count: Int) {
            requests.removeAll(keepingCapacity: true)
            for _ in 0..<count { requests.append(contentsOf: request) }
            precondition(writeAll(client, requests), "write: errno \(errno)")
        }
        var sent = min(window, calls)
        send(sent)
        var answered = 0
        while answered < calls {
            let count = buffer.withUnsafeMutableBytes { read(client, $0.baseAddress, $0.count) }
            precondition(count > 0 || errno == EINTR, "read: errno \(errno)")
            guard count > 0 else { continue }
            let lines = buffer[..<count].reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
            answered += lines
            let more = min(lines, calls - sent)
            if more > 0 {
                send(more)
                sent += more
            }
        }
    }
}

/// Writes all of `bytes` to `fd`; false on an error.
func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
    bytes.withUnsafeBytes { raw in
        var offset = 0
        while offset < raw.count {
            let written = write(fd, raw.baseAddress! + offset, raw.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                return false
            }
            offset += written
        }
        return true
    }
}

// MARK: - The engine: ControlServer and ControlClient

/// The method every call here makes (a constant name: it always parses).
let health: MethodName = {
    do { return try MethodName(service: "Engine", method: "Health") } catch { fatalError("\(error)") }
}()

/// Calls Health `calls` times, one after another; returns each round trip's time.
func engineSequential(_ client: ControlClient, calls: Int) async throws -> [Int64] {
    var latencies = [Int64](repeating: 0, count: calls)
    for index in 0..<calls {
        let start = wallNanoseconds()
        let result = try await client.call(health)
        latencies[index] = wallNanoseconds() - start
        consume(result)
    }
    return latencies
}

/// Calls Health `calls` times with `window` calls in flight (one task per slot, each calling in turn).
func enginePipelined(_ client: ControlClient, calls: Int, window: Int) async throws {
    try await withThrowingTaskGroup(of: Void.self) { group in
        for slot in 0..<window {
            let share = calls / window + (slot < calls % window ? 1 : 0)
            group.addTask {
                for _ in 0..<share { consume(try await client.call(health)) }
            }
        }
        try await group.waitForAll()
    }
}

// MARK: - Running

var directoryTemplate = Array("/tmp/parley-control-bench-XXXXXX".utf8CString)
guard let madeDirectory = mkdtemp(&directoryTemplate) else { fatalError("mkdtemp: errno \(errno)") }
let directory = String(cString: madeDirectory)
let socketPath = directory + "/control.sock"

let server = ControlServer(socketPath: socketPath)
try await server.start()
let client = try ControlClient(connectingTo: socketPath)

// The baseline's lines: the bytes of a Health request and its reply with a five-digit id, as long as
// the engine's first measured ids (the last ones have six digits).
let requestLine = ControlRequest(id: 10_000, method: health).serialized()
let replyLine = ControlReply(id: 10_000, body: .result(["status": "SERVING"])).serialized()
let baseline = RawLinePingPong(request: requestLine, reply: replyLine)

// Warm-up, both sides, both shapes; it also brings the engine's ids to 10 000, five digits like the
// baseline's (later ones reach six digits: one byte more).
consume(baseline.sequential(calls: warmUpCalls))
baseline.pipelined(calls: warmUpCalls, window: window)
consume(try await engineSequential(client, calls: 9_999 - warmUpCalls))
try await enginePipelined(client, calls: warmUpCalls, window: window)

var baselineSequential: [Sample] = []
var engineSequentialSamples: [Sample] = []
var baselinePipelined: [Sample] = []
var enginePipelinedSamples: [Sample] = []
for _ in 0..<repetitions {
    baselineSequential.append(await measure(calls: sequentialCalls) { baseline.sequential(calls: sequentialCalls) })
    engineSequentialSamples.append(try await measure(calls: sequentialCalls) { try await engineSequential(client, calls: sequentialCalls) })
    baselinePipelined.append(await measure(calls: pipelinedCalls) {
        baseline.pipelined(calls: pipelinedCalls, window: window)
        return []
    })
    enginePipelinedSamples.append(try await measure(calls: pipelinedCalls) {
        try await enginePipelined(client, calls: pipelinedCalls, window: window)
        return []
    })
}

client.close()
await server.stop()
baseline.stop()
unlink(socketPath)
rmdir(directory)

// MARK: - Reporting


/// The `fraction` percentile of one sample's latencies, nanoseconds.
func percentile(_ sample: Sample, _ fraction: Double) -> Double {
    let sorted = sample.latencies.sorted()
    let index = min(sorted.count - 1, Int((Double(sorted.count) * fraction).rounded(.up)) - 1)
    return Double(sorted[max(0, index)])
}


/// The median over repetitions of one figure, in µs, formatted.
func microseconds(_ samples: [Sample], _ figure: (Sample) -> Double) -> String {
    format(median(samples.map(figure)) / 1_000, decimals: 1)
}

let baselineP50 = median(baselineSequential.map { percentile($0, 0.5) })
let engineP50 = median(engineSequentialSamples.map { percentile($0, 0.5) })

print("## Control protocol: unary `parley.v1.Engine/Health` round trip on one Unix-socket connection")
print()
print("Request \(requestLine.count) bytes, reply \(replyLine.count) bytes. Sequential: \(sequentialCalls) calls, one in flight; pipelined: \(pipelinedCalls) calls, \(window) in flight. \(repetitions) repetitions per case, round-robin, median. CPU is the whole process's user + kernel time per call (both ends). Baseline: the same bytes ping-ponged between two threads over a raw Unix stream socket pair (no JSON, no server).")
print()
print("| sequential | p50 µs | p90 µs | p99 µs | max µs | requests / s | µs CPU / request |")
print("|---|---:|---:|---:|---:|---:|---:|")
for (name, samples) in [("raw socket ping-pong (baseline)", baselineSequential), ("ControlClient → ControlServer", engineSequentialSamples)] {
    let rate = format(median(samples.map(\.callsPerSecond)), decimals: 0)
    print("| \(name) | \(microseconds(samples) { percentile($0, 0.5) }) | \(microseconds(samples) { percentile($0, 0.9) }) | \(microseconds(samples) { percentile($0, 0.99) }) | \(microseconds(samples) { percentile($0, 1) }) | \(rate) | \(microseconds(samples, \.cpuNanosecondsPerCall)) |")
}
print()
print("| pipelined (\(window) in flight) | requests / s | µs CPU / request |")
print("|---|---:|---:|")
for (name, samples) in [("raw socket ping-pong (baseline)", baselinePipelined), ("ControlClient → ControlServer", enginePipelinedSamples)] {
    print("| \(name) | \(format(median(samples.map(\.callsPerSecond)), decimals: 0)) | \(microseconds(samples, \.cpuNanosecondsPerCall)) |")
}
print()
let sequentialCPURatio = median(engineSequentialSamples.map(\.cpuNanosecondsPerCall)) / median(baselineSequential.map(\.cpuNanosecondsPerCall))
let pipelinedRateRatio = median(baselinePipelined.map(\.callsPerSecond)) / median(enginePipelinedSamples.map(\.callsPerSecond))
let pipelinedCPURatio = median(enginePipelinedSamples.map(\.cpuNanosecondsPerCall)) / median(baselinePipelined.map(\.cpuNanosecondsPerCall))
print("| engine vs baseline | ratio |")
print("|---|---:|")
print("| sequential p50 latency | \(format(engineP50 / baselineP50, decimals: 2))× |")
print("| sequential CPU / request | \(format(sequentialCPURatio, decimals: 2))× |")
print("| pipelined requests / s (baseline ÷ engine) | \(format(pipelinedRateRatio, decimals: 2))× |")
print("| pipelined CPU / request | \(format(pipelinedCPURatio, decimals: 2))× |")
