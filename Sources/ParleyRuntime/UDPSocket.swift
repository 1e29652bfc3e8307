import CParleyShims
import Glibc
import Synchronization

/// A non-blocking UDP socket bound to one local address; it owns its file descriptor and closes it when
/// it goes away.
///
/// A socket bound to an IPv6 address is dual-stack (`IPV6_V6ONLY` off): bound to `::` it also exchanges
/// datagrams with IPv4 peers. The socket speaks plain IPv4 addresses to its caller either way: a source
/// that arrives IPv4-mapped (`::ffff:a.b.c.d`) is reported as `a.b.c.d`, and an IPv4 destination is
/// mapped before it is sent from an IPv6 socket.
///
/// An ICMP port-unreachable reported by the kernel (`ECONNREFUSED`, about an earlier datagram) never
/// breaks the socket: it is counted in ``portUnreachableCount`` and the call goes on.
///
/// `Sendable`: the kernel serialises calls on one descriptor, so several threads may send (and receive)
/// at once; the only state kept here is an atomic counter.
public final class UDPSocket: Sendable {
    /// What one ``receive(into:)`` delivered.
    public struct Reception: Equatable, Sendable {
        /// How many bytes were written to the buffer.
        public var byteCount: Int
        /// Where the datagram came from.
        public var source: SocketAddress
        /// True when the datagram was longer than the buffer and its tail was lost.
        public var wasTruncated: Bool

        /// A reception of `byteCount` bytes from `source`.
        public init(byteCount: Int, source: SocketAddress, wasTruncated: Bool = false) {
            self.byteCount = byteCount
            self.source = source
            self.wasTruncated = wasTruncated
        }
    }

    /// A received datagram and where it came from.
    public struct Datagram: Equatable, Sendable {
        /// The datagram's bytes.
        public var bytes: [UInt8]
        /// Where it came from.
        public var source: SocketAddress

        /// `bytes` from `source`.
        public init(bytes: [UInt8], source: SocketAddress) {
            self.bytes = bytes
            self.source = source
        }
    }

    /// The largest payload a UDP datagram can carry over IPv4 (65 535 − 20 − 8).
    public static let maximumIPv4Payload = 65_507

    /// The address the socket is bound to, with the port the kernel picked when asked for port 0.
    public let localAddress: SocketAddress
    /// How many ICMP port-unreachable reports (`ECONNREFUSED`) the socket has absorbed.
    public var portUnreachableCount: Int { portUnreachableReports.load(ordering: .relaxed) }
    private let portUnreachableReports = Atomic(0)

    /// The socket's file descriptor (owned: closed in `deinit`).
    let descriptor: Int32
    private let isIPv6: Bool

    /// A socket bound to `address` (port 0: any free port), e.g. `SocketAddress(.anyV6, port: 0)`.
    public init(binding address: SocketAddress) throws(RuntimeError) {
        isIPv6 = if case .v6 = address.ip { true } else { false }
        let kind = Int32(SOCK_DGRAM.rawValue | SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue)
        let descriptor = socket(isIPv6 ? AF_INET6 : AF_INET, kind, Int32(IPPROTO_UDP))
        guard descriptor >= 0 else { throw .system(operation: .open, errno: errno) }
        self.descriptor = descriptor
        // From here on `deinit` closes the descriptor, but `localAddress` must be set first.
        do throws(RuntimeError) {
            if isIPv6 { try Self.setOption(descriptor, Int32(IPPROTO_IPV6), IPV6_V6ONLY, 0) }
            var (storage, length) = address.storage
            let bound = withUnsafePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) }
            }
            guard bound == 0 else { throw .system(operation: .bind, errno: errno) }
            localAddress = try Self.localAddress(of: descriptor)
        } catch {
            close(descriptor)
            throw error
        }
    }

    deinit {
        close(descriptor)
    }

    // MARK: Sending

    /// Sends `bytes` as one datagram to `destination`.
    ///
    /// Throws `.system(operation: .send, errno: EAGAIN)` when the kernel's send buffer is full (the
    /// datagram was not sent) and `.familyMismatch` for an IPv6 destination on an IPv4 socket.
    public func send(_ bytes: [UInt8], to destination: SocketAddress) throws(RuntimeError) {
        // `withUnsafeBytes` cannot forward a typed error, so the result travels out as a value.
        let result = bytes.withUnsafeBytes { raw in Result { () throws(RuntimeError) in try send(raw, to: destination) } }
        try result.get()
    }

    /// Sends the bytes in `bytes` as one datagram to `destination` (see ``send(_:to:)-([UInt8],_)``).
    public func send(_ bytes: UnsafeRawBufferPointer, to destination: SocketAddress) throws(RuntimeError) {
        var target = destination
        if isIPv6 {
            target.ip = target.ip.v4Mapped
        } else if case .v6 = target.ip {
            throw .familyMismatch(destination: destination)
        }
        var (storage, length) = target.storage
        var refusalsAbsorbed = 0
        while true {
            let sent = withUnsafePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(descriptor, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL), $0, length)
                }
            }
            if sent >= 0 { return }
            let code = errno
            switch code {
            case EINTR:
                continue
            case ECONNREFUSED where refusalsAbsorbed == 0:
                // The report is about an earlier datagram; this one has not been sent yet.
                notePortUnreachable()
                refusalsAbsorbed += 1
                continue
            default:
                throw .system(operation: .send, errno: code)
            }
        }
    }

    /// What ``send(batch:to:)`` did with a batch.
    public struct BatchSendOutcome: Equatable, Sendable {
        /// How many datagrams the kernel took.
        public var sent = 0
        /// How many it refused (each skipped; the rest were still tried).
        public var failed = 0
        /// Why the last refused one was refused.
        public var lastError: RuntimeError?

        /// An outcome of `sent` datagrams taken and `failed` refused.
        public init(sent: Int = 0, failed: Int = 0, lastError: RuntimeError? = nil) {
            self.sent = sent
            self.failed = failed
            self.lastError = lastError
        }
    }

    /// The most datagrams one `sendmmsg(2)` takes (the kernel's UIO_MAXIOV).
    static let largestSendBatch = 1_024

    /// Sends each of `datagrams`, in order, to `destination` with as few system calls as the kernel
    /// allows (`sendmmsg(2)`: the datagrams of one video frame leave together, so the peer wakes once
    /// for them).
    ///
    /// A datagram the kernel refuses (e.g. `EAGAIN` with a full send buffer) is skipped and counted in
    /// the outcome; the ones after it are still sent. Throws `.familyMismatch` for an IPv6 destination
    /// on an IPv4 socket (nothing is sent).
    public func send(batch datagrams: [[UInt8]], to destination: SocketAddress) throws(RuntimeError) -> BatchSendOutcome {
        var target = destination
        if isIPv6 {
            target.ip = target.ip.v4Mapped
        } else if case .v6 = target.ip {
            throw .familyMismatch(destination: destination)
        }
        guard datagrams.count > 1 else {
            guard let only = datagrams.first else { return BatchSendOutcome() }
            do {
                try send(only, to: destination)
                return BatchSendOutcome(sent: 1)
            } catch {
                return BatchSendOutcome(failed: 1, lastError: error)
            }
        }
        // One contiguous copy (a frame's few kilobytes) gives every iovec a stable address.
        var joined: [UInt8] = []
        joined.reserveCapacity(datagrams.reduce(0) { $0 + $1.count })
        for datagram in datagrams { joined += datagram }
        var (storage, length) = target.storage
        let count = datagrams.count
        let stride = ReceiveBatch.headerStride
        var outcome = BatchSendOutcome()
        joined.withUnsafeMutableBytes { bytes in
            withUnsafeMutablePointer(to: &storage) { address in
                withUnsafeTemporaryAllocation(of: iovec.self, capacity: count) { vectors in
                    withUnsafeTemporaryAllocation(byteCount: count * stride, alignment: MemoryLayout<msghdr>.alignment) { headers in
                        var offset = 0
                        for (index, datagram) in datagrams.enumerated() {
                            vectors[index] = iovec(iov_base: bytes.baseAddress.map { $0 + offset }, iov_len: datagram.count)
                            offset += datagram.count
                            var header = msghdr()
                            header.msg_name = UnsafeMutableRawPointer(address)
                            header.msg_namelen = length
                            header.msg_iov = vectors.baseAddress.map { $0 + index }
                            header.msg_iovlen = 1
                            (headers.baseAddress! + index * stride).storeBytes(of: header, as: msghdr.self)
                            (headers.baseAddress! + index * stride + MemoryLayout<msghdr>.size).storeBytes(of: UInt32(0), as: UInt32.self)
                        }
                        outcome = sendPrepared(headers.baseAddress!, count: count, stride: stride)
                    }
                }
            }
        }
        return outcome
    }

    /// Sends `count` prepared `mmsghdr`s, `stride` bytes apart, skipping each one the kernel refuses.
    private func sendPrepared(_ headers: UnsafeMutableRawPointer, count: Int, stride: Int) -> BatchSendOutcome {
        var outcome = BatchSendOutcome()
        var next = 0
        var refusalsAbsorbed = 0
        while next < count {
            let chunk = UInt32(min(count - next, Self.largestSendBatch))
            let sent = parley_sendmmsg(descriptor, headers + next * stride, chunk, Int32(MSG_NOSIGNAL))
            if sent > 0 {
                outcome.sent += Int(sent)
                next += Int(sent)
                continue
            }
            let code = sent < 0 ? errno : EAGAIN
            switch code {
            case EINTR:
                continue
            case ECONNREFUSED where refusalsAbsorbed == 0:
                // A report about an earlier datagram; this one has not been sent yet.
                notePortUnreachable()
                refusalsAbsorbed += 1
            default:
                outcome.failed += 1
                outcome.lastError = .system(operation: .send, errno: code)
                next += 1
            }
        }
        return outcome
    }

    // MARK: Receiving

    /// Receives one waiting datagram into `buffer`, without blocking; nil when none is waiting.
    ///
    /// A datagram longer than the buffer fills it and is reported with `wasTruncated`.
    public func receive(into buffer: UnsafeMutableRawBufferPointer) throws(RuntimeError) -> Reception? {
        while true {
            var storage = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let received = withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    recvfrom(descriptor, buffer.baseAddress, buffer.count, Int32(MSG_DONTWAIT | MSG_TRUNC), $0, &length)
                }
            }
            if received < 0 {
                let code = errno
                switch code {
                case EAGAIN, EWOULDBLOCK:
                    return nil
                case EINTR:
                    continue
                case ECONNREFUSED:
                    notePortUnreachable()
                    continue
                default:
                    throw .system(operation: .receive, errno: code)
                }
            }
            // The kernel only ever reports IPv4 or IPv6 sources on these sockets; anything else is skipped.
            guard var source = SocketAddress(storage: storage) else { continue }
            source.ip = source.ip.unmapped
            return Reception(byteCount: min(received, buffer.count), source: source, wasTruncated: received > buffer.count)
        }
    }

    /// Receives one waiting datagram into the start of `buffer` (its whole count is the space offered),
    /// without blocking; nil when none is waiting.
    public func receive(into buffer: inout [UInt8]) throws(RuntimeError) -> Reception? {
        let result = buffer.withUnsafeMutableBytes { raw in
            Result { () throws(RuntimeError) in try receive(into: raw) }
        }
        return try result.get()
    }

    /// Receives one waiting datagram of up to `maximumSize` bytes (longer ones are cut), without
    /// blocking; nil when none is waiting.
    public func receive(maximumSize: Int = 65_535) throws(RuntimeError) -> Datagram? {
        var buffer = [UInt8](repeating: 0, count: maximumSize)
        guard let reception = try receive(into: &buffer) else { return nil }
        buffer.removeSubrange(reception.byteCount...)
        return Datagram(bytes: buffer, source: reception.source)
    }

    /// Blocks until a datagram is waiting or `timeout` has passed; true when one is waiting.
    ///
    /// The timeout is rounded up to whole milliseconds. An interrupted wait (`EINTR`) starts again.
    public func waitForReadable(timeout: Duration) throws(RuntimeError) -> Bool {
        // Whole milliseconds, rounded up; a negative timeout is zero (poll(2) reads a negative one as
        // "forever") and a huge one is capped at Int32.max ms, about 24 days.
        let (seconds, attoseconds) = timeout.components
        let pollTimeout: Int32
        if seconds < 0 || (seconds == 0 && attoseconds <= 0) {
            pollTimeout = 0
        } else if seconds >= Int64(Int32.max / 1_000) {
            pollTimeout = Int32.max
        } else {
            pollTimeout = Int32(max(0, seconds * 1_000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000))
        }
        while true {
            var entry = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            let ready = poll(&entry, 1, pollTimeout)
            if ready > 0 { return true }
            if ready == 0 { return false }
            let code = errno
            if code != EINTR { throw .system(operation: .poll, errno: code) }
        }
    }

    // MARK: Buffer sizes

    /// Asks for a kernel receive buffer of `bytes` (capped by `net.core.rmem_max` unless privileged).
    public func setReceiveBufferSize(_ bytes: Int) throws(RuntimeError) {
        try Self.setOption(descriptor, SOL_SOCKET, SO_RCVBUF, Int32(clamping: bytes))
    }

    /// Asks for a kernel send buffer of `bytes` (capped by `net.core.wmem_max` unless privileged).
    public func setSendBufferSize(_ bytes: Int) throws(RuntimeError) {
        try Self.setOption(descriptor, SOL_SOCKET, SO_SNDBUF, Int32(clamping: bytes))
    }

    /// The kernel's receive buffer size (Linux reports twice what was asked: it counts its bookkeeping).
    public func receiveBufferSize() throws(RuntimeError) -> Int {
        try Self.option(descriptor, SOL_SOCKET, SO_RCVBUF)
    }

    /// The kernel's send buffer size (Linux reports twice what was asked: it counts its bookkeeping).
    public func sendBufferSize() throws(RuntimeError) -> Int {
        try Self.option(descriptor, SOL_SOCKET, SO_SNDBUF)
    }

    // MARK: Helpers

    /// Counts one ICMP port-unreachable report.
    func notePortUnreachable() {
        portUnreachableReports.add(1, ordering: .relaxed)
    }

    private static func setOption(_ descriptor: Int32, _ level: Int32, _ name: Int32, _ value: Int32) throws(RuntimeError) {
        var value = value
        guard setsockopt(descriptor, level, name, &value, socklen_t(MemoryLayout<Int32>.size)) == 0 else {
            throw .system(operation: .setOption, errno: errno)
        }
    }

    private static func option(_ descriptor: Int32, _ level: Int32, _ name: Int32) throws(RuntimeError) -> Int {
        var value: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(descriptor, level, name, &value, &length) == 0 else {
            throw .system(operation: .getOption, errno: errno)
        }
        return Int(value)
    }

    private static func localAddress(of descriptor: Int32) throws(RuntimeError) -> SocketAddress {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let result = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        guard result == 0, let address = SocketAddress(storage: storage) else {
            throw .system(operation: .localAddress, errno: result == 0 ? EAFNOSUPPORT : errno)
        }
        return address
    }
}
