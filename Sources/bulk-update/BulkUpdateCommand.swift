import ArgumentParser

@main
struct BulkUpdateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bulk-update",
        abstract: "Change many existing database rows, each to its own new values, fast and safely.",
        discussion: """
            Rows are matched by key and sent in chunks by parallel workers, each chunk in its own transaction. \
            PostgreSQL is reached with a URL: postgres://user:password@host:port/database?sslmode=disable|prefer|require
            """,
        subcommands: [ApplyCommand.self, RunsCommand.self, DemoCommand.self, BenchCommand.self]
    )
}
