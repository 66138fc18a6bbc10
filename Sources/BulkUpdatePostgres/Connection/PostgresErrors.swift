package import BulkUpdate
import PostgresNIO

/// Turns driver errors into ``BulkUpdateError`` with the server's own words.
package enum PostgresErrors {
    package static func map(_ error: any Error, doing action: String) -> any Error {
        if error is BulkUpdateError || error is CancellationError { return error }
        guard let error = error as? PSQLError else {
            return BulkUpdateError(.server, "\(action) failed: \(String(reflecting: error))")
        }
        switch error.code {
        case .server:
            let state = error.serverInfo?[.sqlState] ?? ""
            var message = error.serverInfo?[.message] ?? "unknown server error"
            if let detail = error.serverInfo?[.detail] { message += " (\(detail))" }
            let code: BulkUpdateError.Code =
                switch state {
                case "40001", "40P01", "55P03": .conflict
                case "57014": .timeout
                case "42501": .privilege
                case "57P01", "57P02", "57P03": .connection
                case _ where state.hasPrefix("08"), _ where state.hasPrefix("28"), "3D000", "53300": .connection
                case _ where state.hasPrefix("23"): .constraint
                case _ where state.hasPrefix("22"): .input
                default: .server
                }
            return BulkUpdateError(
                code,
                "PostgreSQL rejected \(action): \(message)",
                column: error.serverInfo?[.columnName],
                sqlState: state.isEmpty ? nil : state,
                underlying: error
            )
        case .serverClosedConnection, .clientClosedConnection, .connectionError, .uncleanShutdown, .poolClosed,
            .sslUnsupported, .failedToAddSSLHandler, .unsupportedAuthMechanism, .authMechanismRequiresPassword,
            .saslError:
            return BulkUpdateError(
                .connection,
                "\(action) failed: the connection to PostgreSQL failed (\(error.code))",
                underlying: error
            )
        case .tooManyParameters:
            return BulkUpdateError(.configuration, "\(action) failed: more than 65,535 parameters", underlying: error)
        default:
            return BulkUpdateError(.server, "\(action) failed: \(String(reflecting: error))", underlying: error)
        }
    }
}
