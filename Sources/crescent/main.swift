import CrescentCLI
import Foundation

exit(CrescentCommand.run(arguments: Array(CommandLine.arguments.dropFirst())))
