import Dispatch
import Glibc
import Synchronization

/// Writing to the terminal: unbuffered, so lines appear at once even when stdout is a pipe
/// (`parley events | grep …`), and in the order they were written.
enum Terminal {
    /// Writes `line` and a newline to stdout.
    static func out(_ line: String = "") { write(fd: STDOUT_FILENO, line + "\n") }

    /// Writes `text` to stdout as it is (no newline added).
    static func raw(_ text: String) { write(fd: STDOUT_FILENO, text) }

    /// Writes `line` and a newline to stderr.
    static func error(_ line: String) { write(fd: STDERR_FILENO, line + "\n") }

    /// Whether stdout is a terminal (live tables redraw in place only then).
    static var stdoutIsTerminal: Bool { isatty(STDOUT_FILENO) == 1 }

    /// The terminal's width in columns, or 80 when unknown.
    static var columns: Int {
        var size = winsize()
        guard ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 else { return 80 }
        return Int(size.ws_col)
    }

    private static func write(fd: Int32, _ text: String) {
        var bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeMutableBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if written < 0 {
                if errno == EINTR { continue }
                return  // a closed pipe or terminal: nothing more to say there
            }
            offset += written
        }
    }
}

/// A block of lines shown again and again: redrawn in place on a terminal (cursor up, clear to the
/// end of the screen), else printed as successive blocks separated by a blank line.
struct LiveBlock {
    /// Whether the block is redrawn in place.
    let inPlace: Bool
    private var linesShown = 0

    /// A block that redraws in place when stdout is a terminal.
    init(inPlace: Bool = Terminal.stdoutIsTerminal) { self.inPlace = inPlace }

    /// Shows `lines` in place of the previous block.
    mutating func show(_ lines: [String]) {
        guard inPlace else {
            Terminal.raw(lines.joined(separator: "\n") + "\n\n")
            return
        }
        let width = Terminal.columns
        // Lines are cut to the terminal's width so that none wraps and the count stays right.
        let fitted = lines.map { $0.count > width ? String($0.prefix(width - 1)) + "…" : $0 }
        var text = linesShown > 0 ? "\u{1B}[\(linesShown)A\r" : "\r"
        text += "\u{1B}[J" + fitted.joined(separator: "\n") + "\n"
        Terminal.raw(text)
        linesShown = fitted.count
    }

    /// Forgets the block shown, so the next `show` prints below it rather than over it.
    mutating func detach() { linesShown = 0 }
}

/// Catches SIGINT, SIGTERM and SIGHUP while a command runs. The first signal calls `onInterrupt` (which
/// cancels the command's task); a second one calls `onRepeat` and exits 130 at once, so a command
/// stuck in its clean-up can still be stopped.
final class InterruptWatcher: Sendable {
    private let sources: Mutex<[any DispatchSourceSignal]>
    private let count = SignalCount()
    private static let signals = [SIGINT, SIGTERM, SIGHUP]

    /// Starts watching; signals are ignored by their default action until `stop()`.
    init(onInterrupt: @escaping @Sendable () -> Void, onRepeat: @escaping @Sendable () -> Void = {}) {
        let queue = DispatchQueue(label: "parley.signals")
        var sources: [any DispatchSourceSignal] = []
        let count = self.count
        for number in InterruptWatcher.signals {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler {
                let seen = count.increment()
                if seen == 1 {
                    onInterrupt()
                } else {
                    onRepeat()
                    Glibc._exit(130)
                }
            }
            source.resume()
            sources.append(source)
        }
        self.sources = Mutex(sources)
    }

    /// Whether a signal arrived.
    var interrupted: Bool { count.value > 0 }

    /// Stops watching and restores the default actions.
    func stop() {
        sources.withLock { sources in
            for source in sources { source.cancel() }
        }
        for number in InterruptWatcher.signals { signal(number, SIG_DFL) }
    }
}

/// How many signals arrived, shared by the signal handlers and the watcher.
private final class SignalCount: Sendable {
    private let count = Mutex(0)

    var value: Int { count.withLock { $0 } }

    /// Counts one more signal and returns the new count.
    func increment() -> Int {
        count.withLock { value -> Int in
            value += 1
            return value
        }
    }
}

/// Runs `body` in a task that Ctrl-C (SIGINT), SIGTERM or SIGHUP cancels, and waits for it.
/// Returns its result and whether it was interrupted; `onRepeat` runs on a second signal, just
/// before the process exits 130.
func runInterruptibly<T: Sendable>(
    onRepeat: @escaping @Sendable () -> Void = {}, _ body: @escaping @Sendable () async throws -> T
) async -> (result: Result<T, any Error>, interrupted: Bool) {
    let task = Task { try await body() }
    let watcher = InterruptWatcher(onInterrupt: { task.cancel() }, onRepeat: onRepeat)
    let result = await task.result
    watcher.stop()
    return (result, watcher.interrupted)
}

/// Runs a streaming command's `body` until it returns or Ctrl-C stops it; an interruption is a normal
/// end (exit 0), so `parley events` stops cleanly with the stream cancelled.
func runUntilInterrupted(_ body: @escaping @Sendable () async throws -> Void) async throws {
    let (result, interrupted) = await runInterruptibly(body)
    switch result {
    case .success: return
    case .failure(let error):
        if interrupted { return }
        throw error
    }
}
