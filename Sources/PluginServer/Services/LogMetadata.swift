import Logging

extension Logger.MetadataValue {
    /// An error for a log line's metadata: a Postgres server error as Postgres words it, with its
    /// statement (postgres-nio's own description hides both), any other error in full.
    static func failure(_ error: any Error) -> Logger.MetadataValue {
        .string(PostgresFailure.summary(error))
    }
}
