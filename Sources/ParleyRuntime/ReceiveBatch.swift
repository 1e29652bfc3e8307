import CParleyShims
import Glibc

/// Buffers for receiving up to `capacity` datagrams with one `recvmmsg(2)` call
/// (``UDPSocket/receive(into:)-(ReceiveBatch)``); after a receive, datagrams `0..<count` are valid until
/// the next one.
///
/// Not `Sendable`: the socket's owner keeps its batch beside it.
public final class ReceiveBatch {
    /// How many datagrams one receive can take.
    public let capacity: Int
    /// The bytes each datagram may occupy; a longer datagram is cut and marked truncated.
    public let maximumDatagramSize: Int
    /// How many datagrams the last receive delivered.
    public internal(set) var count = 0

    /// The bytes of every slot, `maximumDatagramSize` apart.
    private let data: UnsafeMutableRawPointer
    private let vectors: UnsafeMutablePointer<iovec>
    private let addresses: UnsafeMutablePointer<sockaddr_storage>
    /// `struct mmsghdr` array, laid out as C lays it out: a `msghdr`, then an `unsigned int` length.
    let headers: UnsafeMutableRawPointer

    /// The size of one C `struct mmsghdr`: a `msghdr` and a 32-bit length, padded to `msghdr`'s alignment.
    static let headerStride = (MemoryLayout<msghdr>.size + MemoryLayout<UInt32>.size + MemoryLayout<msghdr>.alignment - 1)
        / MemoryLayout<msghdr>.alignment * MemoryLayout<msghdr>.alignment
    private static let lengthOffset = MemoryLayout<msghdr>.size

    /// Room for `capacity` datagrams (at least 1) of up to `maximumDatagramSize` bytes each.
    public init(capacity: Int, maximumDatagramSize: Int = 2_048) {
        precondition(capacity >= 1 && capacity <= 1_024, "a batch holds 1 to 1024 datagrams")
        precondition(maximumDatagramSize >= 1 && maximumDatagramSize <= 65_535, "slot size 1 to 65535 bytes")
        self.capacity = capacity
        self.maximumDatagramSize = maximumDatagramSize
        data = .allocate(byteCount: capacity * maximumDatagramSize, alignment: 16)
        vectors = .allocate(capacity: capacity)
        addresses = .allocate(capacity: capacity)
        addresses.initialize(repeating: sockaddr_storage(), count: capacity)
        headers = .allocate(byteCount: capacity * Self.headerStride, alignment: MemoryLayout<msghdr>.alignment)
        headers.initializeMemory(as: UInt8.self, repeating: 0, count: capacity * Self.headerStride)
        for index in 0..<capacity {
            vectors.advanced(by: index).initialize(to: iovec(iov_base: data + index * maximumDatagramSize, iov_len: maximumDatagramSize))
            var header = msghdr()
            header.msg_iov = vectors.advanced(by: index)
            header.msg_iovlen = 1
            header.msg_name = UnsafeMutableRawPointer(addresses.advanced(by: index))
            (headers + index * Self.headerStride).storeBytes(of: header, as: msghdr.self)
        }
    }

    deinit {
        data.deallocate()
        vectors.deinitialize(count: capacity).deallocate()
        addresses.deinitialize(count: capacity).deallocate()
        headers.deallocate()
    }

    /// Readies every slot for the kernel: the address space and flags it overwrites on each receive.
    func prepare() {
        for index in 0..<capacity {
            let header = (headers + index * Self.headerStride).assumingMemoryBound(to: msghdr.self)
            header.pointee.msg_namelen = socklen_t(MemoryLayout<sockaddr_storage>.size)
            header.pointee.msg_flags = 0
        }
        count = 0
    }

    /// Calls `body` with the bytes of datagram `index` (`0..<count`); the bytes are valid only inside.
    public func withBytes<Result, Failure: Error>(
        at index: Int, _ body: (UnsafeRawBufferPointer) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        precondition(index >= 0 && index < count, "datagram \(index) of \(count)")
        return try body(UnsafeRawBufferPointer(start: data + index * maximumDatagramSize, count: length(at: index)))
    }

    /// The bytes of datagram `index` (`0..<count`), copied.
    public func bytes(at index: Int) -> [UInt8] {
        withBytes(at: index) { Array($0) }
    }

    /// Where datagram `index` (`0..<count`) came from (an IPv4-mapped source reported as IPv4).
    public func source(at index: Int) -> SocketAddress {
        precondition(index >= 0 && index < count, "datagram \(index) of \(count)")
        // The kernel fills in an IPv4 or IPv6 source for every UDP datagram it delivers.
        var address = SocketAddress(storage: addresses[index]) ?? SocketAddress(.anyV6, port: 0)
        address.ip = address.ip.unmapped
        return address
    }

    /// True when datagram `index` was longer than ``maximumDatagramSize`` and lost its tail.
    public func wasTruncated(at index: Int) -> Bool {
        precondition(index >= 0 && index < count, "datagram \(index) of \(count)")
        let header = (headers + index * Self.headerStride).assumingMemoryBound(to: msghdr.self)
        return header.pointee.msg_flags & Int32(MSG_TRUNC) != 0
    }

    private func length(at index: Int) -> Int {
        Int((headers + index * Self.headerStride + Self.lengthOffset).load(as: UInt32.self))
    }
}

extension UDPSocket {
    /// Receives as many waiting datagrams as `batch` holds with one system call, without blocking;
    /// returns how many (0 when none is waiting), also left in `batch.count`.
    ///
    @discardableResult
    public func receive(into batch: ReceiveBatch) throws(RuntimeError) -> Int {
        while true {
            batch.prepare()
            let received = parley_recvmmsg(descriptor, batch.headers, UInt32(batch.capacity), Int32(MSG_DONTWAIT), nil)
            if received >= 0 {
                batch.count = Int(received)
                return batch.count
            }
            let code = errno
            switch code {
            case EAGAIN, EWOULDBLOCK:
                return 0
            case EINTR:
                continue
            case ECONNREFUSED:
                notePortUnreachable()
            default:
                throw .system(operation: .receive, errno: code)
            }
        }
    }
}
