/// Why an event could not be stored. `permanent` failures can never succeed (the message is set
/// aside in the dead-letter list with this reason); transient ones are retried until they do.
public struct IngestionError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable { case permanent, transient }
    public var kind: Kind
    public var message: String
    public var teamId: Int?
    public var eventUUID: String?
    public var sqlState: String?
    public var underlying: (any Error)?

    public static func permanent(_ message: String, teamId: Int? = nil, eventUUID: String? = nil) -> IngestionError {
        IngestionError(kind: .permanent, message: message, teamId: teamId, eventUUID: eventUUID)
    }

    /// Classifies a database failure: connection problems are transient, data errors permanent.
    static func database(_ error: any Error, teamId: Int?, eventUUID: String?) -> IngestionError {
        if let error = error as? IngestionError { return error }
        return IngestionError(
            kind: PostgresFailure.isTransient(error) ? .transient : .permanent,
            message: "database error: \(PostgresFailure.summary(error))",
            teamId: teamId, eventUUID: eventUUID, sqlState: PostgresFailure.sqlState(error), underlying: error)
    }

    public var description: String {
        var text = message
        if let teamId { text += " (team \(teamId))" }
        if let sqlState { text += " [SQLSTATE \(sqlState)]" }
        return text
    }
}
