// swift-nio beside Parley's hand-written UDP loop, measured in one run: the record behind issue 6's
// "choose swift-nio or a hand-written loop by measurement, not taste".
//
// Receive path. One sender thread (bare C `sendto`, the same for every receiver) sends 1200-byte
// datagrams over 127.0.0.1 to the receiver under test, in two shapes:
//   - saturating: as fast as the receiver keeps up — at most `window` datagrams in flight, the sender
//     waiting (yielding) while the receiver's count lags that far behind;
//   - paced: a fixed rate, `pacedBurst` datagrams every `pacedInterval` (absolute deadlines);
//   - trickle: one datagram every `trickleInterval`, each a wake-up of its own (a call's shape).
// Receivers:
//   1. bare C (baseline): a blocking `recvfrom` loop, no wrapper, the bytes left in one reused buffer;
//   2. Parley: `UDPSocket` + `ReceiveBatch` (`recvmmsg`, 64 a call) after `poll`, as SessionHost's loop
//      does, copying each datagram into a `[UInt8]` and reading its source (`bytes(at:)`, `source(at:)`);
//   3. swift-nio: `DatagramBootstrap` on a `MultiThreadedEventLoopGroup` of one thread, vector reads of
//      64 (`datagramVectorReadMessageCount`, `recvmmsg`), 16 reads a wake-up like Parley's budget of
//      1 024, and a handler that copies each datagram into a `[UInt8]` and reads its source.
// Reported per receiver: CPU of the receiving thread per datagram (user + kernel; for swift-nio its event
// loop thread), datagrams per second, datagrams lost, and the ratio of CPU to the baseline's.
//
// Send path. The same fixed-rate shape, the sender under test feeding a bare C receiver thread:
// bare C `sendto` (baseline), `UDPSocket.send` from raw bytes, and swift-nio (`write` of each datagram,
// copied from a `[UInt8]` into a `ByteBuffer`, then one `flush` a burst: `sendmmsg`), driven by
// `scheduleTask(deadline:)` on its event loop. Reported: CPU of the sending thread per datagram. On
// loopback the kernel's receive path runs inside the sender's system call, so send CPU includes it.
//
// The cases of a table run round-robin, one repetition of each in turn; the median is reported.
// `--quick`: a short run.
import Glibc
import NIOCore
import NIOPosix
import ParleyRuntime
import Synchronization

let quick = CommandLine.arguments.contains("--quick")
let repetitions = quick ? 3 : 7
let saturatingCount = quick ? 20_000 : 200_000
let pacedCount = quick ? 10_000 : 50_000
let datagramSize = 1_200
let window = 64
let pacedBurst = 10
let pacedInterval: Int64 = 200_000  // ns: 10 every 200 µs = 50 000 datagrams/s
let trickleCount = quick ? 4_000 : 20_000
let trickleInterval: Int64 = 100_000  // ns: 1 every 100 µs = 10 000 datagrams/s
let batchCapacity = 64
let slotSize = 2_048
let receiveBufferBytes: Int32 = 4 << 20
/// A receiver that hears nothing for this long after the sender finished counts the rest as lost.
let idleLimit: Int64 = 200_000_000

// MARK: - Clocks and threads

/// CPU time of the calling thread (user and kernel), nanoseconds.
func threadCPUNanoseconds() -> Int64 {
    var time = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
    return Int64(time.tv_sec) * 1_000_000_000 + Int64(time.tv_nsec)
}

/// Monotonic wall-clock time, nanoseconds.
func wallNanoseconds() -> Int64 {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return Int64(time.tv_sec) * 1_000_000_000 + Int64(time.tv_nsec)
}

/// Sleeps until the monotonic clock reads `deadline` (nanoseconds).
func sleep(until deadline: Int64) {
    var time = timespec(tv_sec: Int(deadline / 1_000_000_000), tv_nsec: Int(deadline % 1_000_000_000))
    while clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &time, nil) == EINTR {}
}

/// A value a thread hands back when joined.
final class ThreadResult: @unchecked Sendable {
    var value: Int64 = 0
}

/// A closure handed to a new thread.
final class ThreadBody {
    let run: () -> Void
    init(_ run: @escaping () -> Void) { self.run = run }
}

/// Runs `body` on a new thread; `join` waits for it and returns what it returned.
struct Worker {
    let thread: pthread_t
    let result: ThreadResult

    init(_ body: @escaping @Sendable () -> Int64) {
        let result = ThreadResult()
        self.result = result
        let box = Unmanaged.passRetained(ThreadBody { result.value = body() }).toOpaque()
        var thread = pthread_t()
        let created = pthread_create(&thread, nil, { raw in
            Unmanaged<ThreadBody>.fromOpaque(raw!).takeRetainedValue().run()
            return nil
        }, box)
        precondition(created == 0, "pthread_create: \(created)")
        self.thread = thread
    }

    func join() -> Int64 {
        pthread_join(thread, nil)
        return result.value
    }
}

// MARK: - Progress shared between sender, receiver and the main thread

final class Progress: Sendable {
    /// Datagrams the receiver has taken (written by the receiver only).
    let received = Atomic<Int>(0)
    /// When the receiver last took datagrams (wall ns).
    let lastArrival = Atomic<Int64>(0)
    /// Set by the sender when it has sent everything.
    let senderFinished = Atomic<Bool>(false)
    /// Something computed from the bytes, so that no copy can be optimised away.
    let checksum = Atomic<Int>(0)

    func reset() {
        received.store(0, ordering: .sequentiallyConsistent)
        lastArrival.store(wallNanoseconds(), ordering: .sequentiallyConsistent)
        senderFinished.store(false, ordering: .sequentiallyConsistent)
    }

    /// True once `expected` arrived, or the sender finished and nothing came for `idleLimit`.
    func isOver(expecting expected: Int) -> Bool {
        if received.load(ordering: .relaxed) >= expected { return true }
        return senderFinished.load(ordering: .acquiring)
            && wallNanoseconds() - lastArrival.load(ordering: .relaxed) > idleLimit
    }
}

/// How the sender spaces its datagrams.
enum Shape {
    /// As fast as the receiver keeps up: at most `window` in flight.
    case saturating
    /// `pacedBurst` every `pacedInterval`.
    case paced
    /// One datagram every `trickleInterval`: each datagram a wake-up of its own, as in a call.
    case trickle
}

// MARK: - Bare C sockets

func cAddress(port: UInt16) -> sockaddr_in {
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = port.bigEndian
    address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
    return address
}

/// An IPv4 UDP socket bound to 127.0.0.1 on a free port; returns it and the port.
func openCSocket(receiveTimeoutMilliseconds: Int = 0) -> (Int32, UInt16) {
    let descriptor = socket(AF_INET, Int32(SOCK_DGRAM.rawValue | SOCK_CLOEXEC.rawValue), 0)
    precondition(descriptor >= 0, "socket: errno \(errno)")
    var address = cAddress(port: 0)
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    precondition(bound == 0, "bind: errno \(errno)")
    var size = receiveBufferBytes
    setsockopt(descriptor, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
    setsockopt(descriptor, SOL_SOCKET, SO_SNDBUF, &size, socklen_t(MemoryLayout<Int32>.size))
    if receiveTimeoutMilliseconds > 0 {
        var timeout = timeval(tv_sec: 0, tv_usec: receiveTimeoutMilliseconds * 1_000)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let named = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
    }
    precondition(named == 0, "getsockname: errno \(errno)")
    return (descriptor, UInt16(bigEndian: address.sin_port))
}

/// The bare C receive loop: blocking `recvfrom` into one reused buffer until `expected` arrived or the
/// flow stopped; returns the thread's CPU time.
func cReceiveLoop(_ descriptor: Int32, expecting expected: Int, progress: Progress) -> Int64 {
    let cpuStart = threadCPUNanoseconds()
    let buffer = UnsafeMutableRawPointer.allocate(byteCount: 65_536, alignment: 16)
    defer { buffer.deallocate() }
    var count = 0
    var checksum = 0
    while count < expected {
        var source = sockaddr_storage()
        var sourceLength = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let received = withUnsafeMutablePointer(to: &source) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(descriptor, buffer, 65_536, 0, $0, &sourceLength) }
        }
        if received > 0 {
            count += 1
            checksum &+= Int(buffer.load(as: UInt8.self))
            progress.received.store(count, ordering: .relaxed)
            progress.lastArrival.store(wallNanoseconds(), ordering: .relaxed)
        } else if errno == EAGAIN || errno == EWOULDBLOCK {
            if progress.isOver(expecting: expected) { break }
        } else if errno != EINTR {
            fatalError("recvfrom: errno \(errno)")
        }
    }
    progress.checksum.store(checksum, ordering: .relaxed)
    return threadCPUNanoseconds() - cpuStart
}

/// The sender every receive case shares: bare C `sendto` of `count` datagrams in `shape`; returns the
/// thread's CPU time.
func cSendLoop(to port: UInt16, count: Int, shape: Shape, progress: Progress) -> Int64 {
    let (descriptor, _) = openCSocket()
    defer { close(descriptor) }
    var destination = cAddress(port: port)
    let payload = [UInt8](repeating: 0x80, count: datagramSize)
    let cpuStart = threadCPUNanoseconds()
    func sendOne() {
        let sent = payload.withUnsafeBytes { bytes in
            withUnsafePointer(to: &destination) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(descriptor, bytes.baseAddress, bytes.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        }
        precondition(sent == datagramSize, "sendto: errno \(errno)")
    }
    switch shape {
    case .saturating:
        var sent = 0
        var writtenOff = 0  // datagrams given up as lost, so that a loss cannot close the window for good
        while sent < count {
            var waitStart: Int64 = 0
            while sent - writtenOff - progress.received.load(ordering: .relaxed) >= window {
                if waitStart == 0 { waitStart = wallNanoseconds() }
                if wallNanoseconds() - waitStart > 50_000_000 {
                    writtenOff = sent - progress.received.load(ordering: .relaxed)
                    break
                }
                sched_yield()
            }
            sendOne()
            sent += 1
        }
    case .paced, .trickle:
        let (burst, interval) = shape == .paced ? (pacedBurst, pacedInterval) : (1, trickleInterval)
        var deadline = wallNanoseconds()
        var sent = 0
        while sent < count {
            for _ in 0..<min(burst, count - sent) { sendOne() }
            sent += min(burst, count - sent)
            deadline += interval
            sleep(until: deadline)
        }
    }
    let cpu = threadCPUNanoseconds() - cpuStart
    progress.senderFinished.store(true, ordering: .releasing)
    return cpu
}

// MARK: - Receivers under test

protocol Receiver: AnyObject {
    var name: String { get }
    var port: UInt16 { get }
    /// Starts receiving `expected` datagrams.
    func start(expecting expected: Int, progress: Progress)
    /// Waits until they arrived or the flow stopped; returns the receiving thread's CPU time.
    func finish() -> Int64
}

final class BareCReceiver: Receiver, @unchecked Sendable {
    let name = "bare C recvfrom loop (baseline)"
    let descriptor: Int32
    let port: UInt16
    private var worker: Worker?

    init() {
        (descriptor, port) = openCSocket(receiveTimeoutMilliseconds: 20)
    }

    func start(expecting expected: Int, progress: Progress) {
        worker = Worker { [self] in cReceiveLoop(descriptor, expecting: expected, progress: progress) }
    }

    func finish() -> Int64 { worker!.join() }
}

/// Parley's loop: `poll` (`waitForReadable`), then `recvmmsg` batches until the socket is empty, each
/// datagram copied out with its source, as SessionHost's loop thread does.
final class ParleyReceiver: Receiver, @unchecked Sendable {
    let name = "Parley UDPSocket + ReceiveBatch(64) + poll"
    let socket: UDPSocket
    let batch = ReceiveBatch(capacity: batchCapacity, maximumDatagramSize: slotSize)
    let port: UInt16
    private var worker: Worker?

    init() throws {
        socket = try UDPSocket(binding: .loopbackV4(port: 0))
        try socket.setReceiveBufferSize(Int(receiveBufferBytes))
        port = socket.localAddress.port
    }

    func start(expecting expected: Int, progress: Progress) {
        worker = Worker { [self] in receiveLoop(expecting: expected, progress: progress) }
    }

    func finish() -> Int64 { worker!.join() }

    private func receiveLoop(expecting expected: Int, progress: Progress) -> Int64 {
        let cpuStart = threadCPUNanoseconds()
        var count = 0
        var checksum = 0
        do {
            while count < expected {
                let received = try socket.receive(into: batch)
                if received > 0 {
                    for index in 0..<received {
                        let bytes = batch.bytes(at: index)
                        let source = batch.source(at: index)
                        checksum &+= Int(bytes[0]) &+ Int(source.port)
                        count += 1
                        progress.received.store(count, ordering: .relaxed)
                    }
                    progress.lastArrival.store(wallNanoseconds(), ordering: .relaxed)
                } else if try !socket.waitForReadable(timeout: .milliseconds(20)) {
                    if progress.isOver(expecting: expected) { break }
                }
            }
        } catch {
            fatalError("\(name): \(error)")
        }
        progress.checksum.store(checksum, ordering: .relaxed)
        return threadCPUNanoseconds() - cpuStart
    }
}

/// Counts the datagrams it is handed, copying each into a `[UInt8]` and reading its source.
final class CountingHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    let progress: Progress
    private var checksum = 0

    init(progress: Progress) { self.progress = progress }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        let bytes = Array(envelope.data.readableBytesView)
        checksum &+= Int(bytes[0]) &+ (envelope.remoteAddress.port ?? 0)
        progress.received.store(progress.received.load(ordering: .relaxed) + 1, ordering: .relaxed)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        progress.lastArrival.store(wallNanoseconds(), ordering: .relaxed)
        progress.checksum.store(checksum, ordering: .relaxed)
    }
}

final class NIOReceiver: Receiver {
    let name = "swift-nio DatagramBootstrap, vector reads of 64"
    let group: MultiThreadedEventLoopGroup
    let channel: any Channel
    let port: UInt16
    let progress: Progress
    private var cpuStart: Int64 = 0
    private var expected = 0

    /// One channel for the whole run; its handler reports into `progress`.
    init(progress: Progress) throws {
        self.progress = progress
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        channel = try DatagramBootstrap(group: group)
            .channelOption(ChannelOptions.socketOption(.so_rcvbuf), value: SocketOptionValue(receiveBufferBytes))
            .channelOption(ChannelOptions.datagramVectorReadMessageCount, value: batchCapacity)
            .channelOption(ChannelOptions.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: batchCapacity * slotSize))
            .channelOption(ChannelOptions.maxMessagesPerRead, value: 16)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(CountingHandler(progress: progress))
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .wait()
        port = UInt16(channel.localAddress!.port!)
    }

    func start(expecting expected: Int, progress: Progress) {
        precondition(progress === self.progress, "the handler reports into the progress given at init")
        self.expected = expected
        cpuStart = try! channel.eventLoop.submit { threadCPUNanoseconds() }.wait()
    }

    func finish() -> Int64 {
        while !progress.isOver(expecting: expected) { usleep(1_000) }
        return try! channel.eventLoop.submit { threadCPUNanoseconds() }.wait() - cpuStart
    }

    func shutdown() {
        try? channel.close().wait()
        try? group.syncShutdownGracefully()
    }
}

// MARK: - Senders under test (send path)

protocol Sender: AnyObject {
    var name: String { get }
    /// Sends `count` datagrams to `port`, paced; returns the sending thread's CPU time.
    func send(count: Int, to port: UInt16, progress: Progress) -> Int64
}

final class BareCSender: Sender {
    let name = "bare C sendto (baseline)"
    func send(count: Int, to port: UInt16, progress: Progress) -> Int64 {
        Worker { cSendLoop(to: port, count: count, shape: .paced, progress: progress) }.join()
    }
}

final class ParleySender: Sender, @unchecked Sendable {
    let name = "Parley UDPSocket.send (raw bytes)"
    let socket: UDPSocket

    init() throws {
        socket = try UDPSocket(binding: .loopbackV4(port: 0))
        try socket.setSendBufferSize(Int(receiveBufferBytes))
    }

    func send(count: Int, to port: UInt16, progress: Progress) -> Int64 {
        Worker { [self] in
            let destination = SocketAddress.loopbackV4(port: port)
            let payload = [UInt8](repeating: 0x80, count: datagramSize)
            let cpuStart = threadCPUNanoseconds()
            var deadline = wallNanoseconds()
            var sent = 0
            do {
                try payload.withUnsafeBytes { bytes in
                    while sent < count {
                        for _ in 0..<min(pacedBurst, count - sent) { try socket.send(bytes, to: destination) }
                        sent += min(pacedBurst, count - sent)
                        deadline += pacedInterval
                        sleep(until: deadline)
                    }
                }
            } catch {
                fatalError("\(name): \(error)")
            }
            let cpu = threadCPUNanoseconds() - cpuStart
            progress.senderFinished.store(true, ordering: .releasing)
            return cpu
        }.join()
    }
}

/// swift-nio's send path: on its event loop, each burst written datagram by datagram (each copied from a
/// `[UInt8]` into a `ByteBuffer`, as the engine's packets are arrays) and flushed once.
final class NIOSender: Sender {
    let name = "swift-nio write ×10 + flush (sendmmsg)"
    let group: MultiThreadedEventLoopGroup
    let channel: any Channel

    init() throws {
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        channel = try DatagramBootstrap(group: group)
            .channelOption(ChannelOptions.socketOption(.so_sndbuf), value: SocketOptionValue(receiveBufferBytes))
            .bind(host: "127.0.0.1", port: 0)
            .wait()
    }

    func send(count: Int, to port: UInt16, progress: Progress) -> Int64 {
        let channel = self.channel
        let destination = try! NIOCore.SocketAddress(ipAddress: "127.0.0.1", port: Int(port))
        let done = channel.eventLoop.makePromise(of: Int64.self)
        channel.eventLoop.execute {
            PacedWriter(channel: channel, destination: destination, count: count, done: done).burst()
        }
        let cpu = try! done.futureResult.wait()
        progress.senderFinished.store(true, ordering: .releasing)
        return cpu
    }

    func shutdown() {
        try? channel.close().wait()
        try? group.syncShutdownGracefully()
    }
}

/// One paced run of `NIOSender`, confined to the channel's event loop.
final class PacedWriter {
    let channel: any Channel
    let destination: NIOCore.SocketAddress
    let count: Int
    let done: EventLoopPromise<Int64>
    let payload = [UInt8](repeating: 0x80, count: datagramSize)
    let cpuStart = threadCPUNanoseconds()
    var deadline = NIODeadline.now()
    var sent = 0

    init(channel: any Channel, destination: NIOCore.SocketAddress, count: Int, done: EventLoopPromise<Int64>) {
        self.channel = channel
        self.destination = destination
        self.count = count
        self.done = done
    }

    /// Writes one burst, flushes it, and schedules the next at the next deadline.
    func burst() {
        for _ in 0..<min(pacedBurst, count - sent) {
            let buffer = channel.allocator.buffer(bytes: payload)
            channel.write(AddressedEnvelope(remoteAddress: destination, data: buffer), promise: nil)
        }
        channel.flush()
        sent += min(pacedBurst, count - sent)
        if sent >= count {
            done.succeed(threadCPUNanoseconds() - cpuStart)
            return
        }
        deadline = deadline + .nanoseconds(pacedInterval)
        channel.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { self.burst() }
    }
}

// MARK: - Running

struct Sample {
    var cpuNanosecondsPerDatagram: Double
    var senderCPUNanosecondsPerDatagram: Double
    var datagramsPerSecond: Double
    var lost: Int
}

func measure(_ receiver: some Receiver, count: Int, shape: Shape, progress: Progress) -> Sample {
    progress.reset()
    receiver.start(expecting: count, progress: progress)
    let start = wallNanoseconds()
    let port = receiver.port
    let senderCPU = Worker { cSendLoop(to: port, count: count, shape: shape, progress: progress) }.join()
    let receiverCPU = receiver.finish()
    let received = progress.received.load(ordering: .acquiring)
    let wall = progress.lastArrival.load(ordering: .relaxed) - start
    return Sample(
        cpuNanosecondsPerDatagram: Double(receiverCPU) / Double(max(received, 1)),
        senderCPUNanosecondsPerDatagram: Double(senderCPU) / Double(count),
        datagramsPerSecond: Double(received) / (Double(wall) / 1e9),
        lost: count - received
    )
}

func measure(_ sender: some Sender, count: Int, progress: Progress) -> Sample {
    let (descriptor, port) = openCSocket(receiveTimeoutMilliseconds: 20)
    defer { close(descriptor) }
    progress.reset()
    let start = wallNanoseconds()
    let receiver = Worker { cReceiveLoop(descriptor, expecting: count, progress: progress) }
    let senderCPU = sender.send(count: count, to: port, progress: progress)
    _ = receiver.join()
    let received = progress.received.load(ordering: .acquiring)
    let wall = progress.lastArrival.load(ordering: .relaxed) - start
    return Sample(
        cpuNanosecondsPerDatagram: Double(senderCPU) / Double(count),
        senderCPUNanosecondsPerDatagram: Double(senderCPU) / Double(count),
        datagramsPerSecond: Double(received) / (Double(wall) / 1e9),
        lost: count - received
    )
}

func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }

func format(_ value: Double, decimals: Int) -> String {
    var scaled = value
    for _ in 0..<decimals { scaled *= 10 }
    let rounded = Int(scaled.rounded())
    guard decimals > 0 else { return "\(rounded)" }
    var divisor = 1
    for _ in 0..<decimals { divisor *= 10 }
    let fraction = String(rounded % divisor)
    return "\(rounded / divisor)." + String(repeating: "0", count: decimals - fraction.count) + fraction
}

func printTable(title: String, header: String, names: [String], samples: [[Sample]]) {
    print(title)
    print()
    print(header)
    print("|---|---:|---:|---:|---:|---:|")
    let baseline = median(samples[0].map(\.cpuNanosecondsPerDatagram))
    for (index, name) in names.enumerated() {
        let cpu = median(samples[index].map(\.cpuNanosecondsPerDatagram))
        let rate = median(samples[index].map(\.datagramsPerSecond))
        let lost = samples[index].map(\.lost).reduce(0, +)
        let spread = samples[index].map(\.cpuNanosecondsPerDatagram).sorted()
        let range = "\(format(spread.first! / 1_000, decimals: 2))–\(format(spread.last! / 1_000, decimals: 2))"
        print("| \(name) | \(format(cpu / 1_000, decimals: 3)) | \(range) | \(format(rate, decimals: 0)) | \(lost) | \(format(cpu / baseline, decimals: 2))× |")
    }
    print()
}

let progress = Progress()
let bareC = BareCReceiver()
let parley = try ParleyReceiver()
let nio = try NIOReceiver(progress: progress)
let receivers: [any Receiver] = [bareC, parley, nio]

// Warm-up: a short pass of each receiver in each shape.
for receiver in receivers {
    _ = measure(receiver, count: 5_000, shape: .saturating, progress: progress)
    _ = measure(receiver, count: 1_000, shape: .paced, progress: progress)
    _ = measure(receiver, count: 500, shape: .trickle, progress: progress)
}

var saturating: [[Sample]] = Array(repeating: [], count: receivers.count)
var paced: [[Sample]] = Array(repeating: [], count: receivers.count)
for _ in 0..<repetitions {
    for (index, receiver) in receivers.enumerated() {
        saturating[index].append(measure(receiver, count: saturatingCount, shape: .saturating, progress: progress))
    }
}
for _ in 0..<repetitions {
    for (index, receiver) in receivers.enumerated() {
        paced[index].append(measure(receiver, count: pacedCount, shape: .paced, progress: progress))
    }
}
var trickle: [[Sample]] = Array(repeating: [], count: receivers.count)
for _ in 0..<repetitions {
    for (index, receiver) in receivers.enumerated() {
        trickle[index].append(measure(receiver, count: trickleCount, shape: .trickle, progress: progress))
    }
}
nio.shutdown()

let cSender = BareCSender()
let parleySender = try ParleySender()
let nioSender = try NIOSender()
let senders: [any Sender] = [cSender, parleySender, nioSender]
for sender in senders { _ = measure(sender, count: 1_000, progress: progress) }
var sending: [[Sample]] = Array(repeating: [], count: senders.count)
for _ in 0..<repetitions {
    for (index, sender) in senders.enumerated() {
        sending[index].append(measure(sender, count: pacedCount, progress: progress))
    }
}
nioSender.shutdown()

let rateText = format(Double(pacedBurst) * 1e9 / Double(pacedInterval), decimals: 0)
print("## swift-nio vs Parley's hand-written loop: \(datagramSize)-byte UDP datagrams on 127.0.0.1")
print()
print("\(repetitions) repetitions per case, round-robin, median; CPU is the receiving (or sending) thread's user + kernel time — for swift-nio its event loop thread. Lost: summed over repetitions.")
print()
let receiveHeader = "| receiver | µs CPU / datagram | min–max | datagrams / s | lost | CPU vs baseline |"
let names = receivers.map(\.name)
printTable(
    title: "### Receive, saturating: \(saturatingCount) datagrams, sent as fast as the receiver keeps up (≤ \(window) in flight)",
    header: receiveHeader, names: names, samples: saturating
)
printTable(
    title: "### Receive, paced: \(pacedCount) datagrams at \(rateText) / s (\(pacedBurst) every \(pacedInterval / 1_000) µs)",
    header: receiveHeader, names: names, samples: paced
)
printTable(
    title: "### Receive, trickle: \(trickleCount) datagrams, one every \(trickleInterval / 1_000) µs (\(format(1e9 / Double(trickleInterval), decimals: 0)) / s, a wake-up each)",
    header: receiveHeader, names: names, samples: trickle
)
printTable(
    title: "### Send, paced: \(pacedCount) datagrams at \(rateText) / s to a bare C receiver (send CPU includes the kernel's loopback delivery)",
    header: "| sender | µs CPU / datagram | min–max | datagrams / s | lost | CPU vs baseline |", names: senders.map(\.name), samples: sending
)
