import ArgumentParser

/// `parley`: the command-line front-end of the Parley call engine. Every command but `demo` and
/// `codec-demo` talks to a running `parleyd` over its control socket (Protocols/control/v1.md).
@main
struct Parley: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Parley: end-to-end encrypted voice and video calls, headless.",
        discussion: """
            Commands talk to parleyd over its control socket. `parley demo` starts two engines on this \
            machine, calls one from the other and shows the media flowing; `parley codec-demo` runs the \
            codecs alone.

            Exit status: 0 success; 1 failure (no engine, no such call, a demo check failed); 2 the \
            engine refused the request (printed as CODE: message); 64 bad usage; 130 interrupted.
            """,
        subcommands: [
            Status.self, Identity.self, Dial.self, Answer.self, Reject.self, Hangup.self, Calls.self, Stats.self,
            Events.self, Verify.self, Mute.self, Unmute.self, LoopbackDemo.self, CodecDemo.self,
        ]
    )

    @OptionGroup var connection: ConnectionOptions
}
