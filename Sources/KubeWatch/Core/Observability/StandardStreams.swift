import Foundation

/// Standard output and error as a command-line program writes them: straight to the
/// descriptor (nothing waits in a buffer when the output is a pipe), and a reader that went
/// away (`| head`) ends the program quietly, as SIGPIPE would have before libcurl's set-up
/// ignored it, instead of FileHandle.write trapping on EPIPE.
public enum StandardStreams {
    public enum Stream: Sendable {
        case output, error
        var descriptor: Int32 { self == .output ? STDOUT_FILENO : STDERR_FILENO }
    }

    public static func write(_ text: String, to stream: Stream) {
        var bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeMutableBytes { buffer in
                Foundation.write(stream.descriptor, buffer.baseAddress.map { $0 + offset }, buffer.count - offset)
            }
            if written >= 0 {
                offset += written
            } else if errno == EINTR || errno == EAGAIN {
                continue
            } else if errno == EPIPE {
                signal(SIGPIPE, SIG_DFL)
                raise(SIGPIPE)
                _exit(141)
            } else {
                return
            }
        }
    }

    /// A line on standard output.
    public static func say(_ line: String) { write(line + "\n", to: .output) }

    /// A line on standard error.
    public static func complain(_ line: String) { write(line + "\n", to: .error) }
}
