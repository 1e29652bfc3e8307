// UDP transport cost on loopback: Parley's hand-written `UDPSocket` beside a bare C `sendto`/`recvfrom`
// loop measured in the same run — the hand-written half of issue 6's "swift-nio or a hand-written loop,
// by measurement". One thread sends a burst of 1200-byte datagrams from one socket to another over
// 127.0.0.1, then drains them, and repeats. Reported: thread CPU per datagram (user + kernel, send and
// receive together), datagrams per second of wall time, and the ratio of CPU against the baseline. The
// last case drains each burst with `recvmmsg` (one system call per burst) instead of one `recvfrom` each.
// The cases run round-robin, one repetition of each in turn; the median is reported. `--quick`: a short
// run.
import Glibc
import ParleyBenchmarkSupport
import ParleyRuntime

let quick = CommandLine.arguments.contains("--quick")
let datagramsPerRepetition = quick ? 10_000 : 100_000
let repetitions = quick ? 3 : 5
let burst = 32
let datagramSize = 1_200
let receiveBufferBytes = 1 << 20

/// What one repetition of a case measured.
struct Sample {
    var cpuNanosecondsPerDatagram: Double
    var sendNanosecondsPerDatagram: Double
    var receiveNanosecondsPerDatagram: Double
    var datagramsPerSecond: Double
    var lost: Int
}

/// A transport under test: sends a burst, then drains it.
protocol Transport {
    var name: String { get }
    /// Sends `burst` datagrams to the receiving socket.
    mutating func send(burst: Int)
    /// Receives `burst` datagrams; returns how many never arrived.
    mutating func drain(burst: Int) -> Int
}

extension Transport {
    /// One burst, sent and drained; returns how many datagrams never arrived.
    mutating func exchange(burst: Int) -> Int {
        send(burst: burst)
        return drain(burst: burst)
    }
}

// MARK: - Baseline: bare C sockets

/// Two IPv4 UDP sockets driven by `sendto` / `recvfrom` directly, no Swift wrapper in between.
struct BareCTransport: Transport {
    let name = "bare C sendto/recvfrom (baseline)"
    let sender: Int32
    let receiver: Int32
    var destination = sockaddr_in()
    var payload = [UInt8](repeating: 0x80, count: datagramSize)
    var buffer = [UInt8](repeating: 0, count: 65_536)

    init() {
        func open() -> Int32 {
            let descriptor = socket(AF_INET, Int32(SOCK_DGRAM.rawValue | SOCK_NONBLOCK.rawValue), 0)
            precondition(descriptor >= 0, "socket: errno \(errno)")
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            precondition(bound == 0, "bind: errno \(errno)")
            var size = Int32(receiveBufferBytes)
            setsockopt(descriptor, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
            return descriptor
        }
        sender = open()
        receiver = open()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &destination) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(receiver, $0, &length) }
        }
        precondition(named == 0, "getsockname: errno \(errno)")
    }

    mutating func send(burst: Int) {
        let length = socklen_t(MemoryLayout<sockaddr_in>.size)
        for _ in 0..<burst {
            let sent = payload.withUnsafeBytes { bytes in
                withUnsafePointer(to: &destination) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        sendto(sender, bytes.baseAddress, bytes.count, 0, $0, length)
                    }
                }
            }
            precondition(sent == datagramSize, "sendto: errno \(errno)")
        }
    }

    mutating func drain(burst: Int) -> Int {
        var lost = 0
        var received = 0
        while received < burst {
            var source = sockaddr_storage()
            var sourceLength = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let count = buffer.withUnsafeMutableBytes { bytes in
                withUnsafeMutablePointer(to: &source) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        recvfrom(receiver, bytes.baseAddress, bytes.count, Int32(MSG_DONTWAIT), $0, &sourceLength)
                    }
                }
            }
            if count >= 0 {
                received += 1
                continue
            }
            precondition(errno == EAGAIN, "recvfrom: errno \(errno)")
            var entry = pollfd(fd: receiver, events: Int16(POLLIN), revents: 0)
            if poll(&entry, 1, 1_000) == 0 {  // a second without the rest: they were dropped
                lost = burst - received
                break
            }
        }
        return lost
    }
}

// MARK: - Parley's UDPSocket

/// Two `UDPSocket`s; `arrays` chooses the `[UInt8]` calls instead of the raw-buffer ones.
struct ParleyTransport: Transport {
    let name: String
    let arrays: Bool
    let sender: UDPSocket
    let receiver: UDPSocket
    let payload = [UInt8](repeating: 0x80, count: datagramSize)
    var buffer = [UInt8](repeating: 0, count: 65_536)

    init(arrays: Bool) throws {
        self.arrays = arrays
        name = arrays ? "UDPSocket send([UInt8]) / receive(into: &[UInt8])" : "UDPSocket send / receive, raw buffers"
        sender = try UDPSocket(binding: .loopbackV4(port: 0))
        receiver = try UDPSocket(binding: .loopbackV4(port: 0))
        try receiver.setReceiveBufferSize(receiveBufferBytes)
    }

    mutating func send(burst: Int) {
        if arrays {
            do {
                for _ in 0..<burst { try sender.send(payload, to: receiver.localAddress) }
            } catch {
                fatalError("\(name): \(error)")
            }
        } else {
            sendRaw(burst: burst, of: payload, from: sender, to: receiver, name: name)
        }
    }

    mutating func drain(burst: Int) -> Int {
        do {
            var received = 0
            while received < burst {
                let reception: UDPSocket.Reception?
                if arrays {
                    reception = try receiver.receive(into: &buffer)
                } else {
                    reception = try buffer.withUnsafeMutableBytes { bytes in try receiver.receive(into: bytes) }
                }
                if reception != nil {
                    received += 1
                } else if try !receiver.waitForReadable(timeout: .seconds(1)) {
                    return burst - received
                }
            }
            return 0
        } catch {
            fatalError("\(name): \(error)")
        }
    }
}

/// Sends `burst` copies of `payload` from `sender` to `receiver` from its raw bytes (no array per send).
func sendRaw(burst: Int, of payload: [UInt8], from sender: UDPSocket, to receiver: UDPSocket, name: String) {
    do {
        let destination = receiver.localAddress
        try payload.withUnsafeBytes { bytes in
            for _ in 0..<burst { try sender.send(bytes, to: destination) }
        }
    } catch {
        fatalError("\(name): \(error)")
    }
}

/// Two `UDPSocket`s; the receiver drains with `recvmmsg` batches of the burst's size.
struct BatchTransport: Transport {
    let name = "UDPSocket send / recvmmsg batches of \(burst)"
    let sender: UDPSocket
    let receiver: UDPSocket
    let batch = ReceiveBatch(capacity: burst, maximumDatagramSize: 2_048)
    let payload = [UInt8](repeating: 0x80, count: datagramSize)

    init() throws {
        sender = try UDPSocket(binding: .loopbackV4(port: 0))
        receiver = try UDPSocket(binding: .loopbackV4(port: 0))
        try receiver.setReceiveBufferSize(receiveBufferBytes)
    }

    mutating func send(burst: Int) {
        sendRaw(burst: burst, of: payload, from: sender, to: receiver, name: name)
    }

    mutating func drain(burst: Int) -> Int {
        do {
            var received = 0
            while received < burst {
                let count = try receiver.receive(into: batch)
                if count > 0 {
                    for index in 0..<count { precondition(batch.withBytes(at: index) { $0.count } == datagramSize) }
                    received += count
                } else if try !receiver.waitForReadable(timeout: .seconds(1)) {
                    return burst - received
                }
            }
            return 0
        } catch {
            fatalError("\(name): \(error)")
        }
    }
}

// MARK: - Running

func measure(_ transport: inout some Transport) -> Sample {
    let bursts = datagramsPerRepetition / burst
    var lost = 0
    var sendCPU: Int64 = 0
    var receiveCPU: Int64 = 0
    let wallStart = wallNanoseconds()
    for _ in 0..<bursts {
        let start = threadCPUNanoseconds()
        transport.send(burst: burst)
        let sent = threadCPUNanoseconds()
        lost += transport.drain(burst: burst)
        let drained = threadCPUNanoseconds()
        sendCPU += sent - start
        receiveCPU += drained - sent
    }
    let wall = Double(wallNanoseconds() - wallStart)
    let datagrams = Double(bursts * burst)
    return Sample(
        cpuNanosecondsPerDatagram: Double(sendCPU + receiveCPU) / datagrams,
        sendNanosecondsPerDatagram: Double(sendCPU) / datagrams,
        receiveNanosecondsPerDatagram: Double(receiveCPU) / datagrams,
        datagramsPerSecond: datagrams / (wall / 1e9),
        lost: lost
    )
}


var baseline = BareCTransport()
var rawBuffers = try ParleyTransport(arrays: false)
var arrays = try ParleyTransport(arrays: true)
var batches = try BatchTransport()
var samples: [[Sample]] = [[], [], [], []]

// Warm-up: one short pass of each.
for _ in 0..<(1_000 / burst) {
    _ = baseline.exchange(burst: burst)
    _ = rawBuffers.exchange(burst: burst)
    _ = arrays.exchange(burst: burst)
    _ = batches.exchange(burst: burst)
}
for _ in 0..<repetitions {
    samples[0].append(measure(&baseline))
    samples[1].append(measure(&rawBuffers))
    samples[2].append(measure(&arrays))
    samples[3].append(measure(&batches))
}

let names = [baseline.name, rawBuffers.name, arrays.name, batches.name]
let baselineCPU = median(samples[0].map(\.cpuNanosecondsPerDatagram))


print("## UDP transport on loopback: \(datagramSize)-byte datagrams, bursts of \(burst), one thread")
print()
print("\(datagramsPerRepetition / burst * burst) datagrams × \(repetitions) repetitions per case, median; CPU is the thread's user + kernel time; on loopback the kernel's receive path runs inside sendto, so it counts as send.")
print()
print("| transport | µs CPU / datagram | send µs | receive µs | datagrams / s | CPU vs baseline | lost |")
print("|---|---:|---:|---:|---:|---:|---:|")
for (index, name) in names.enumerated() {
    let cpu = median(samples[index].map(\.cpuNanosecondsPerDatagram))
    let sendCPU = median(samples[index].map(\.sendNanosecondsPerDatagram))
    let receiveCPU = median(samples[index].map(\.receiveNanosecondsPerDatagram))
    let rate = median(samples[index].map(\.datagramsPerSecond))
    let lost = samples[index].map(\.lost).reduce(0, +)
    print("| \(name) | \(format(cpu / 1_000, decimals: 2)) | \(format(sendCPU / 1_000, decimals: 2)) | \(format(receiveCPU / 1_000, decimals: 2)) | \(format(rate, decimals: 0)) | \(format(cpu / baselineCPU, decimals: 2))× | \(lost) |")
}
