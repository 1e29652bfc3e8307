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

/// One connection's outbound side: a bounded queue of frames drained by a dedicated writer thread.
///
/// `enqueue` never blocks: it refuses (returns `false`) once the queued bytes would pass the bound, and
/// the owner then drops the connection, so a peer that stops reading costs at most the bound in memory
/// and never delays other connections. `finish()` writes what is queued, then shuts the socket down;
/// `abort()` drops what is queued and shuts it down at once. On a write error the writer calls
/// `onFailure` once.
final class SocketWriter: Sendable {
    private struct State {
        var queue: [[UInt8]] = []
        var queuedBytes = 0
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

    /// Queues one frame; `false` when the writer has stopped or the bound would be passed.
    func enqueue(_ bytes: [UInt8]) -> Bool {
        let accepted = state.withLock { state -> Bool in
            guard !state.aborted, !state.finishing, state.queuedBytes + bytes.count <= maximumQueuedBytes else { return false }
            state.queue.append(bytes)
            state.queuedBytes += bytes.count
            return true
        }
        if accepted { wake.signal() }
        return accepted
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
        while true {
            wake.wait()
            let (batch, stop) = state.withLock { state -> ([[UInt8]], Bool) in
                if state.aborted { return ([], true) }
                let batch = state.queue
                state.queue.removeAll()
                state.queuedBytes = 0
                return (batch, state.finishing)
            }
            for frame in batch {
                if UnixSocket.writeAll(fd, frame) != 0 {
                    abort()
                    onFailure()
                    return
                }
            }
            if stop {
                // Frames queued after `finish` are refused, so the queue is empty now.
                Glibc.shutdown(fd, Int32(SHUT_RDWR))
                return
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
