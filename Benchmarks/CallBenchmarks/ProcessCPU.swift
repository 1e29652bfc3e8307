import Glibc
import ParleyBenchmarkSupport

/// CPU time the kernel charged to a process and to each of its threads (`utime` + `stime` of
/// `/proc/PID/stat` and `/proc/PID/task/TID/stat`), in clock ticks.
struct ProcessCPUSample {
    /// The whole process: every thread, also those that ended (their time stays with the process).
    var ticks: Int64
    /// Each thread alive at the sample, by thread id.
    var threads: [Int32: ThreadSample]

    struct ThreadSample {
        /// `comm`: what `pthread_setname_np` set (15 bytes at most).
        var name: String
        var ticks: Int64
        /// Time spent runnable but waiting for a CPU (`/proc/PID/task/TID/schedstat`, second field), ns.
        var waitNanoseconds: Int64
        /// Times the thread gave up its CPU, by waiting (`voluntary_ctxt_switches`) or pre-empted
        /// (`nonvoluntary_ctxt_switches`), from `/proc/PID/task/TID/status`.
        var switches: Int64
    }

    /// Clock ticks per second (`sysconf(_SC_CLK_TCK)`, usually 100).
    static let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))

    /// Samples process `pid`; nil if it is gone.
    init?(pid: pid_t) {
        guard let process = Self.stat("/proc/\(pid)/stat") else { return nil }
        ticks = process.ticks
        threads = [:]
        for tid in Self.threadIDs(of: pid) {
            guard let thread = Self.stat("/proc/\(pid)/task/\(tid)/stat") else { continue }
            let schedstat = readSmallFile("/proc/\(pid)/task/\(tid)/schedstat")?.split(separator: " ") ?? []
            let wait = schedstat.count > 1 ? Int64(schedstat[1]) ?? 0 : 0
            threads[tid] = ThreadSample(
                name: thread.name, ticks: thread.ticks, waitNanoseconds: wait,
                switches: Self.contextSwitches(readSmallFile("/proc/\(pid)/task/\(tid)/status") ?? ""))
        }
    }

    /// The name and `utime` + `stime` in a `stat` file: `pid (comm) state ppid …`, fields 14 and 15. The
    /// name may hold spaces and parentheses, so the fields are counted from the last `)`.
    static func stat(_ path: String) -> (name: String, ticks: Int64)? {
        guard let text = readSmallFile(path), let open = text.firstIndex(of: "("), let close = text.lastIndex(of: ")") else {
            return nil
        }
        let name = String(text[text.index(after: open)..<close])
        // After ")": field 3 (state) is the first; utime and stime are fields 14 and 15.
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 12, let utime = Int64(fields[11]), let stime = Int64(fields[12]) else { return nil }
        return (name, utime + stime)
    }

    /// `voluntary_ctxt_switches` + `nonvoluntary_ctxt_switches` of a `status` file.
    static func contextSwitches(_ status: String) -> Int64 {
        status.split(separator: "\n").reduce(0) { sum, line in
            guard line.hasPrefix("voluntary_ctxt_switches:") || line.hasPrefix("nonvoluntary_ctxt_switches:") else { return sum }
            return sum + (line.split(separator: ":").last.flatMap { Int64(String($0.filter { !$0.isWhitespace })) } ?? 0)
        }
    }

    private static func threadIDs(of pid: pid_t) -> [Int32] {
        guard let directory = opendir("/proc/\(pid)/task") else { return [] }
        defer { closedir(directory) }
        var ids: [Int32] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if let id = Int32(name) { ids.append(id) }
        }
        return ids
    }
}

/// CPU per thread name between two samples of one process: threads of the same name summed (`count`
/// of them); threads started in between count from zero; threads that ended in between are lost to
/// the per-thread figures and show up as the process total minus the threads' sum.
struct ThreadBreakdown {
    struct Line {
        var name: String
        var count: Int
        var seconds: Double
        /// Time the threads were runnable but waited for a CPU.
        var waitSeconds: Double
        /// Context switches (waits and pre-emptions) of the threads.
        var switches: Int64
    }

    var lines: [Line]
    /// CPU of threads that ended between the samples.
    var endedThreadsSeconds: Double
    var totalSeconds: Double

    init(from start: ProcessCPUSample, to end: ProcessCPUSample) {
        var byName: [String: (count: Int, ticks: Int64, wait: Int64, switches: Int64)] = [:]
        var threadTicks: Int64 = 0
        for (tid, thread) in end.threads {
            let delta = thread.ticks - (start.threads[tid]?.ticks ?? 0)
            threadTicks += delta
            let before = start.threads[tid]
            byName[thread.name, default: (0, 0, 0, 0)].count += 1
            byName[thread.name, default: (0, 0, 0, 0)].ticks += delta
            byName[thread.name, default: (0, 0, 0, 0)].wait += thread.waitNanoseconds - (before?.waitNanoseconds ?? 0)
            byName[thread.name, default: (0, 0, 0, 0)].switches += thread.switches - (before?.switches ?? 0)
        }
        let perSecond = ProcessCPUSample.ticksPerSecond
        lines = byName.map {
            Line(
                name: $0.key, count: $0.value.count, seconds: Double($0.value.ticks) / perSecond,
                waitSeconds: Double($0.value.wait) / 1e9, switches: $0.value.switches)
        }
            .sorted { ($0.seconds, $1.name) > ($1.seconds, $0.name) }
        totalSeconds = Double(end.ticks - start.ticks) / perSecond
        endedThreadsSeconds = totalSeconds - Double(threadTicks) / perSecond
    }
}

/// The whole content of a small file such as those in /proc (whose size `stat` reports as 0).
func readSmallFile(_ path: String) -> String? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4_096)
    while true {
        let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if count < 0, errno == EINTR { continue }
        guard count > 0 else { break }
        bytes += buffer[..<count]
    }
    return String(decoding: bytes, as: UTF8.self)
}

/// CPU time of this whole process (every thread, user + kernel), seconds.
func ownProcessCPUSeconds() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
}

/// How many sleeps `measureWakeCost()` times.
let wakeCostCycles = 150

/// The thread CPU one 20 ms `clock_nanosleep` and the wake-up after it cost, in microseconds: what a
/// thread on a 20 ms clock pays per tick for nothing but sleeping (the kernel's switch away and back,
/// and on a virtual machine the exits around the idle CPU).
func measureWakeCost() -> Double {
    let start = threadCPUNanoseconds()
    for _ in 0..<wakeCostCycles {
        var request = timespec(tv_sec: 0, tv_nsec: 20_000_000)
        var remaining = timespec()
        while clock_nanosleep(CLOCK_MONOTONIC, 0, &request, &remaining) == EINTR { request = remaining }
    }
    return Double(threadCPUNanoseconds() - start) / Double(wakeCostCycles) / 1_000
}
