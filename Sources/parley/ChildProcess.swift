import Glibc
import Synchronization

/// How a child process ended.
enum Termination: Sendable, Equatable, CustomStringConvertible {
    /// It exited with this status.
    case exited(Int32)
    /// A signal killed it.
    case signalled(Int32)

    /// From a `waitpid` status word.
    init(waitStatus status: Int32) {
        let signal = status & 0x7F
        self = signal == 0 ? .exited((status >> 8) & 0xFF) : .signalled(signal)
    }

    /// `SIGKILL`, `SIGTERM`…, else `signal N`.
    static func signalName(_ signal: Int32) -> String {
        let names: [Int32: String] = [
            SIGHUP: "SIGHUP", SIGINT: "SIGINT", SIGQUIT: "SIGQUIT", SIGILL: "SIGILL", SIGTRAP: "SIGTRAP",
            SIGABRT: "SIGABRT", SIGBUS: "SIGBUS", SIGFPE: "SIGFPE", SIGKILL: "SIGKILL", SIGSEGV: "SIGSEGV",
            SIGPIPE: "SIGPIPE", SIGTERM: "SIGTERM",
        ]
        return names[signal] ?? "signal \(signal)"
    }

    /// `exited 0`, `killed by SIGKILL`…
    var description: String {
        switch self {
        case .exited(let code): "exited \(code)"
        case .signalled(let signal): "killed by \(Termination.signalName(signal))"
        }
    }
}

/// A child process started with `posix_spawn`: stdin from /dev/null, stdout and stderr into a log
/// file, default signal dispositions, and a process group of its own — so a Ctrl-C on the terminal
/// reaches only `parley`, which then stops its children in order instead of leaving that to chance.
///
/// Every live child is listed in `ChildProcess.running`, so a second Ctrl-C can kill them all.
final class ChildProcess: Sendable {
    /// The process id.
    let pid: pid_t
    /// A name for messages, e.g. `parleyd A`.
    let name: String
    private let termination = Mutex<Termination?>(nil)

    /// The pids of children started and not yet reaped.
    private static let running = Mutex<Set<pid_t>>([])

    private init(pid: pid_t, name: String) {
        self.pid = pid
        self.name = name
    }

    /// Starts `executable` with `arguments`, its stdout and stderr appended to a new file at `logPath`.
    static func spawn(name: String, executable: String, arguments: [String], logPath: String) throws(CLIFailure)
        -> ChildProcess
    {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, logPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))
        posix_spawnattr_setpgroup(&attributes, 0)
        // parley ignores SIGINT and SIGTERM while it watches for them; the child must not inherit that.
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for number in [SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGQUIT] { sigaddset(&defaults, number) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var mask = sigset_t()
        sigemptyset(&mask)
        posix_spawnattr_setsigmask(&attributes, &mask)

        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var pid: pid_t = 0
        // Registered under the lock, so an emergency stop never misses a child being born.
        let result = running.withLock { running -> Int32 in
            let result = posix_spawn(&pid, executable, &actions, &attributes, argv, environ)
            if result == 0 { running.insert(pid) }
            return result
        }
        guard result == 0 else { throw CLIFailure("cannot start \(executable): \(errnoText(result))") }
        return ChildProcess(pid: pid, name: name)
    }

    /// How the child ended, or `nil` while it runs (reaps it once it has ended).
    func poll() -> Termination? {
        termination.withLock { termination in
            if let termination { return termination }
            var status: Int32 = 0
            let result = waitpid(pid, &status, WNOHANG)
            if result == pid {
                termination = Termination(waitStatus: status)
                _ = ChildProcess.running.withLock { $0.remove(pid) }
            } else if result < 0 && errno == ECHILD {
                termination = .exited(-1)  // reaped elsewhere; should not happen
                _ = ChildProcess.running.withLock { $0.remove(pid) }
            }
            return termination
        }
    }

    /// Waits up to `timeout` for the child to end; `nil` if it still runs. Not cut short by
    /// cancellation, so clean-up code may call it from a cancelled task.
    func waitForExit(timeout: Duration) async -> Termination? {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let termination = poll() { return termination }
            if ContinuousClock.now >= deadline { return nil }
            await Self.pause(.milliseconds(20))
        }
    }

    /// Sends `signal` to the child, unless it has ended.
    func send(_ signal: Int32) {
        guard poll() == nil else { return }
        kill(pid, signal)
    }

    /// Makes sure the child ends. When it was `asked` to stop (e.g. over its control socket), waits
    /// `grace` for it to exit by itself first; then sends SIGTERM and waits `grace` again; then
    /// SIGKILL. Returns how it ended and what had to be done beyond asking.
    func stop(asked: Bool, grace: Duration) async -> (termination: Termination, forced: String?) {
        if asked {
            if let termination = await waitForExit(timeout: grace) { return (termination, nil) }
        } else if let termination = poll() {
            return (termination, nil)
        }
        send(SIGTERM)
        guard asked else {
            if let termination = await waitForExit(timeout: grace) {
                return (termination, termination == .signalled(SIGTERM) ? nil : "stopped by SIGTERM")
            }
            send(SIGKILL)
            return (await waitForExit(timeout: .seconds(5)) ?? .signalled(SIGKILL), "ignored SIGTERM for \(Int(grace.seconds)) s; killed")
        }
        if let termination = await waitForExit(timeout: grace) {
            return (termination, "did not exit within \(Int(grace.seconds)) s; stopped by SIGTERM")
        }
        send(SIGKILL)
        let termination = await waitForExit(timeout: .seconds(5)) ?? .signalled(SIGKILL)
        return (termination, "ignored SIGTERM for \(Int(grace.seconds)) s; killed")
    }

    /// Kills every child still running at once (SIGKILL): for a second Ctrl-C.
    static func killAll() {
        running.withLock { running in
            for pid in running { kill(pid, SIGKILL) }
        }
    }

    /// Sleeps without throwing, even when the task is cancelled (clean-up must still wait).
    private static func pause(_ duration: Duration) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            Task.detached {
                try? await Task.sleep(for: duration)
                continuation.resume()
            }
        }
    }
}
