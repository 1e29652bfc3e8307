import Dispatch
import Foundation
import Glibc
import Synchronization

// The POSIX layer shared by `ControlServer` and `ControlClient`: Unix socket addresses, a reader thread
// and a writer thread per connection. The sans-IO core (framer, envelopes) never touches these.

/// A failed system call: its name and `errno`.
struct SystemCallFailure: Error, Sendable, Equatable {
    let call: String
    let errno: Int32
}

enum UnixSocket {
    /// The longest socket path `sockaddr_un` holds (without the terminating NUL).
    static var maximumPathLength: Int { MemoryLayout.size(ofValue: sockaddr_un().sun_path) - 1 }

    /// Runs `body` with a `sockaddr_un` for `path`; `nil` when the path is empty or too long.
    static func withAddress<R>(
        _ path: String, _ body: (UnsafePointer<sockaddr>, socklen_t) -> R
    ) -> R? {
        let bytes = Array(path.utf8)
        guard !bytes.isEmpty, bytes.count <= maximumPathLength, !bytes.contains(0) else { return nil }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        return withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
    }

    /// A new stream socket, close-on-exec.
    static func makeStreamSocket() throws(SystemCallFailure) -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SystemCallFailure(call: "socket", errno: Glibc.errno) }
        return fd
    }

    /// Connects `fd` to `path`; returns `errno` on failure, 0 on success, `ENAMETOOLONG` for a bad path.
    static func connect(_ fd: Int32, to path: String) -> Int32 {
        let result = withAddress(path) { address, length -> Int32 in
            while true {
                if Glibc.connect(fd, address, length) == 0 { return 0 }
                if Glibc.errno != EINTR { return Glibc.errno }
            }
        }
        return result ?? ENAMETOOLONG
    }

    /// Writes all of `bytes` to `fd`, blocking; returns `errno` on failure, 0 on success.
    static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Int32 {
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { raw in
                Glibc.send(fd, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
            }
            if written < 0 {
                if Glibc.errno == EINTR { continue }
                return Glibc.errno
            }
            offset += written
        }
        return 0
    }
}

/// Starts a detached thread running `body` (a dedicated thread, so blocking calls never occupy the
/// cooperative pool of Swift concurrency).
func startThread(name: String, _ body: @escaping @Sendable () -> Void) {
    let thread = Thread(block: body)
    thread.name = name
    thread.start()
}

/// One connection's outbound side: frames written by the thread that has them when the socket takes
/// them at once, else queued (bounded) for a dedicated writer thread.
///
/// `enqueue` never blocks. When nothing is queued or being written it sends the frame itself
/// (non-blocking): a reply then leaves without waking the writer thread, which on these VMs costs tens
/// of microseconds of CPU. What the socket does not take at once is queued in order, and the writer
/// thread writes the queue, several frames per system call. `enqueue` refuses (returns `false`) once the
/// queued bytes would pass the bound, and the owner then drops the connection, so a peer that stops
/// reading costs at most the bound in memory and never delays other connections. `finish()` writes what
/// is queued, then shuts the socket down; `abort()` drops what is queued and shuts it down at once. On a
/// write error the writer calls `onFailure` once.
final class SocketWriter: Sendable {
    private struct State {
        var queue: [[UInt8]] = []
        var queuedBytes = 0
        /// A thread (an `enqueue` caller or the writer thread) is writing; others queue behind it.
        var writing = false
        /// An `enqueue` caller's write failed (not just a full socket): the writer thread reports it.
        var failed = false
        var finishing = false
        var aborted = false
    }

    let fd: Int32
    let maximumQueuedBytes: Int
    private let state = Mutex(State())
    private let wake = DispatchSemaphore(value: 0)

    init(fd: Int32, maximumQueuedBytes: Int) {
        self.fd = fd
        self.maximumQueuedBytes = maximumQueuedBytes
    }

    /// Sends or queues one frame; `false` when the writer has stopped or the bound would be passed.
    func enqueue(_ bytes: [UInt8]) -> Bool {
        let writesNow = state.withLock { state -> Bool? in
            guard !state.aborted, !state.finishing, state.queuedBytes + bytes.count <= maximumQueuedBytes else { return nil }
            if state.queue.isEmpty, !state.writing {
                state.writing = true
                return true
            }
            state.queue.append(bytes)
            state.queuedBytes += bytes.count
            return false
        }
        guard let writesNow else { return false }
        guard writesNow else {
            wake.signal()
            return true
        }
        let (sent, code) = sendWithoutWaiting(bytes)
        let needsWriter = state.withLock { state -> Bool in
            state.writing = false
            if code != 0, code != EAGAIN, code != EWOULDBLOCK {
                state.failed = true
                return true
            }
            if sent < bytes.count {
                // The rest goes first: frames queued meanwhile came after this one.
                state.queue.insert(Array(bytes[sent...]), at: 0)
                state.queuedBytes += bytes.count - sent
            }
            return !state.queue.isEmpty || state.finishing
        }
        if needsWriter { wake.signal() }
        return true
    }

    /// Writes as much of `bytes` as the socket takes without blocking: the count and 0, or the count
    /// written before the failure and its `errno`.
    private func sendWithoutWaiting(_ bytes: [UInt8]) -> (sent: Int, errno: Int32) {
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { raw in
                Glibc.send(fd, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL | MSG_DONTWAIT))
            }
            if written < 0 {
                if Glibc.errno == EINTR { continue }
                return (offset, Glibc.errno)
            }
            offset += written
        }
        return (offset, 0)
    }

    /// Writes what is queued, then shuts the socket down (both directions).
    func finish() {
        state.withLock { $0.finishing = true }
        wake.signal()
    }

    /// Drops what is queued and shuts the socket down now, waking a blocked read or write.
    func abort() {
        let first = state.withLock { state -> Bool in
            defer { state.aborted = true }
            return !state.aborted
        }
        if first { Glibc.shutdown(fd, Int32(SHUT_RDWR)) }
        wake.signal()
    }

    /// The writer thread's loop; returns when finished or aborted.
    func run(onFailure: @Sendable () -> Void) {
        enum Turn {
            case stop, fail, wait
            case write([UInt8], thenStop: Bool)
        }
        while true {
            wake.wait()
            let turn = state.withLock { state -> Turn in
                if state.aborted { return .stop }
                if state.failed { return .fail }
                // An `enqueue` caller is writing: it signals again when it is done.
                if state.writing { return .wait }
                guard !state.queue.isEmpty else { return state.finishing ? .write([], thenStop: true) : .wait }
                // Several frames in one write.
                let joined = Array(state.queue.joined())
                state.queue.removeAll()
                state.queuedBytes = 0
                state.writing = true
                return .write(joined, thenStop: false)
            }
            switch turn {
            case .stop:
                return
            case .fail:
                abort()
                onFailure()
                return
            case .wait:
                continue
            case .write(let bytes, let thenStop):
                if !bytes.isEmpty, UnixSocket.writeAll(fd, bytes) != 0 {
                    abort()
                    onFailure()
                    return
                }
                if thenStop {
                    // Frames are refused once finishing, and nothing is being written: the queue is empty.
                    Glibc.shutdown(fd, Int32(SHUT_RDWR))
                    return
                }
                let more = state.withLock { state -> Bool in
                    state.writing = false
                    return !state.queue.isEmpty || state.finishing
                }
                if more { wake.signal() }
            }
        }
    }
}

/// Reads `fd` on the calling thread until end of file or an error, handing each chunk to `onBytes`.
/// Returns `true` at a clean end of file, `false` on an error (including a shut-down socket).
func readUntilEnd(_ fd: Int32, onBytes: ([UInt8]) -> Void) -> Bool {
    var buffer = [UInt8](repeating: 0, count: 64 * 1024)
    while true {
        let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress!, $0.count) }
        if count > 0 {
            onBytes(Array(buffer[..<count]))
        } else if count == 0 {
            return true
        } else if Glibc.errno != EINTR {
            return false
        }
    }
}
