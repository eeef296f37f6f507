import CrescentCLI
import Foundation

exit(await CrescentCommand.run(arguments: Array(CommandLine.arguments.dropFirst())))
