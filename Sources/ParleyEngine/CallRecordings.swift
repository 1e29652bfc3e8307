import ParleyDevices
import ParleyMedia
import Synchronization

/// A call's recording sinks (services.md `Calls/Record`): received and local video to Y4M, received and
/// local audio to WAV. The media threads hand every frame to `record`; a stream without a file costs a
/// lock and a dictionary look-up.
final class CallRecordings: Sendable {
    /// Which stream a recording takes.
    enum Stream: String, CaseIterable {
        case receivedVideo = "received_video"
        case receivedAudio = "received_audio"
        case localVideo = "local_video"
        case localAudio = "local_audio"

        var isVideo: Bool { self == .receivedVideo || self == .localVideo }
    }

    /// One stream's file: video waits for its first frame to learn the size.
    ///
    /// `@unchecked Sendable`: touched only while `recordings`' lock is held, or by the one thread that
    /// took it out of the table to close it.
    private final class Recording: @unchecked Sendable {
        let path: String
        var video: Y4MRecorder?
        var audio: WAVRecorder?
        var framesSkipped = 0
        var failed = false

        init(path: String) { self.path = path }

        var framesWritten: Int { video?.framesWritten ?? audio?.sampleFramesWritten ?? 0 }

        func close() {
            video?.close()
            audio?.close()
        }
    }

    private let recordings = Mutex<[String: Recording]>([:])

    /// Starts recording `stream` into `path` (closing an earlier file of the stream), or stops it (nil).
    ///
    /// - Throws: `DeviceError` if the file cannot be created (audio files are created at once, video
    ///   files at their first frame, but their directory is checked now).
    func set(_ stream: Stream, to path: String?) throws(DeviceError) {
        var recording: Recording?
        if let path {
            let new = Recording(path: path)
            if stream.isVideo {
                // Created at the first frame; prove now that the path can be written.
                let probe = try WAVRecorder(path: path)
                probe.close()
            } else {
                new.audio = try WAVRecorder(path: path)
            }
            recording = new
        }
        let previous = recordings.withLock { recordings in
            defer { recordings[stream.rawValue] = recording }
            return recordings[stream.rawValue]
        }
        previous?.close()
    }

    /// Appends a picture to `stream`'s file, if it is recorded.
    func record(_ frame: VideoFrame, as stream: Stream, frameRate: Int) {
        recordings.withLock { recordings in
            guard let recording = recordings[stream.rawValue], !recording.failed else { return }
            do {
                if recording.video == nil {
                    recording.video = try Y4MRecorder(path: recording.path, width: frame.width, height: frame.height, frameRate: frameRate)
                }
                guard let video = recording.video, video.width == frame.width, video.height == frame.height else {
                    recording.framesSkipped += 1
                    return
                }
                try video.write(frame)
            } catch {
                recording.failed = true
            }
        }
    }

    /// Appends samples to `stream`'s file, if it is recorded.
    func record(_ samples: [Int16], as stream: Stream) {
        recordings.withLock { recordings in
            guard let recording = recordings[stream.rawValue], !recording.failed, let audio = recording.audio else { return }
            do {
                try audio.write(samples)
            } catch {
                recording.failed = true
            }
        }
    }

    /// What each stream records now: (path, frames written, frames skipped), nil when not recorded.
    func summary() -> [Stream: (path: String, written: Int, skipped: Int)?] {
        recordings.withLock { recordings in
            Dictionary(uniqueKeysWithValues: Stream.allCases.map { stream in
                (stream, recordings[stream.rawValue].map { ($0.path, $0.framesWritten, $0.framesSkipped) })
            })
        }
    }

    /// Closes every file (the call ended).
    func closeAll() {
        let all = recordings.withLock { recordings in
            defer { recordings.removeAll() }
            return Array(recordings.values)
        }
        for recording in all { recording.close() }
    }
}
