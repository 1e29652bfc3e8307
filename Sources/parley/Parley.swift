import ArgumentParser

/// `parley`: the command-line front-end of the Parley call engine.
@main
struct Parley: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Parley: end-to-end encrypted voice and video calls, headless.",
        discussion: """
            For now `parley demo` runs the synthetic camera and microphone through the VP8 and Opus
            codecs and prints live figures. The engine daemon, calls and the control protocol follow.
            """,
        subcommands: [Demo.self]
    )
}
