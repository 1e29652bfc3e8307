internal import CParleyShims
internal import Glibc
internal import Synchronization

/// A named POSIX thread that can be joined once.
///
/// ParleyDevices sits below the runtime (and its thread helpers), so the capture loop gets a thread of
/// its own here: device I/O blocks in `poll`, and must not take a thread of Swift's cooperative pool.
final class V4L2Thread: @unchecked Sendable {
    // Written once in `init`.
    private var thread = pthread_t()
    private let joined = Mutex(false)

    private final class Start {
        let name: String
        let body: @Sendable () -> Void
        init(name: String, body: @escaping @Sendable () -> Void) {
            self.name = name
            self.body = body
        }
    }

    /// Starts `body` on a new thread named `name` (cut to 15 bytes, the kernel's limit).
    ///
    /// - Throws: `DeviceError.system` if the thread cannot be created.
    init(name: String, body: @escaping @Sendable () -> Void) throws(DeviceError) {
        let start = Unmanaged.passRetained(Start(name: name, body: body)).toOpaque()
        let status = pthread_create(
            &thread, nil,
            { context in
                let start = Unmanaged<Start>.fromOpaque(context!).takeRetainedValue()
                _ = parley_set_thread_name(start.name)
                start.body()
                return nil
            }, start)
        guard status == 0 else {
            Unmanaged<Start>.fromOpaque(start).release()
            joined.withLock { $0 = true }  // nothing for `deinit` to detach
            throw .system(call: "pthread_create", code: status, detail: V4L2Ioctl.describe(status))
        }
    }

    /// Whether the caller is this thread.
    var isCurrent: Bool {
        pthread_equal(pthread_self(), thread) != 0
    }

    /// Waits for the thread to finish; later calls return at once. Must not be called on the thread.
    func join() {
        let thread = thread
        joined.withLock { joined in
            guard !joined else { return }
            joined = true
            pthread_join(thread, nil)
        }
    }

    deinit {
        let thread = thread
        joined.withLock { joined in
            if !joined { pthread_detach(thread) }
        }
    }
}
