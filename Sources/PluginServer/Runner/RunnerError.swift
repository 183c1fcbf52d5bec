/// Why `run-plugin` could not start: bad input it names, before any plugin code ran.
public struct RunnerError: Error, Sendable, CustomStringConvertible {
    public var message: String

    init(_ message: String) { self.message = message }

    public var description: String { message }
}
