import ArgumentParser
import Foundation
import SCIM
import Store

/// `portcullis token`: API tokens for identity providers (scope scim) and administrators (scope admin).
struct Token: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create, list and revoke bearer tokens.",
        discussion: "Tokens are stored only as SHA-256 hashes: a token's secret is printed once, when it is created.",
        subcommands: [Create.self, List.self, Revoke.self]
    )

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a token and print it, alone on its line, on standard output.",
            discussion: "Example: portcullis token create --data ./data --name okta --scope scim"
        )

        @OptionGroup var dataOptions: DataOptions

        @Option(help: "A name for the token, e.g. the identity provider that will use it.")
        var name: String

        @Option(help: "scim (for identity providers) or admin (for /api/v1).")
        var scope: String = TokenScope.scim.rawValue

        func validate() throws {
            guard TokenScope(rawValue: scope) != nil else {
                throw ValidationError("--scope must be 'scim' or 'admin', not '\(scope)'")
            }
        }

        func run() throws {
            let store = try openStore(dataOptions)
            do {
                print(try store.createToken(name: name, scope: TokenScope(rawValue: scope) ?? .scim))
            } catch let error as SCIMError {
                printError("error: \(error.detail)")
                throw ExitCode.failure
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List tokens: name, scope and creation time (never the secret).")

        @OptionGroup var dataOptions: DataOptions

        func run() throws {
            let store = try openStore(dataOptions)
            let tokens = try store.tokens()
            guard !tokens.isEmpty else {
                printError("no tokens; create one with: portcullis token create --data \(dataOptions.data) --name NAME --scope scim")
                return
            }
            var rows = [["NAME", "SCOPE", "CREATED"]]
            for token in tokens { rows.append([token.name, token.scope.rawValue, SCIMDateTime.format(token.created)]) }
            print(Table.render(rows), terminator: "")
        }
    }

    struct Revoke: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a token by name; it stops working at once, also for a running server.")

        @OptionGroup var dataOptions: DataOptions

        @Argument(help: "The token's name.")
        var name: String

        func run() throws {
            let store = try openStore(dataOptions)
            guard try store.revokeToken(name: name) else {
                printError("error: no token named '\(name)'; see: portcullis token list --data \(dataOptions.data)")
                throw ExitCode.failure
            }
            printError("revoked token '\(name)'")
        }
    }
}

/// Opens the store for a command, turning failures into one clear line.
func openStore(_ options: DataOptions) throws -> Store {
    try openStore(directory: options.data)
}

/// Opens the store in a data folder, turning failures into one clear line.
func openStore(directory: String) throws -> Store {
    do {
        return try Store(directory: directory)
    } catch {
        printError("error: cannot open the database in \(directory): \(error)")
        throw ExitCode.failure
    }
}
