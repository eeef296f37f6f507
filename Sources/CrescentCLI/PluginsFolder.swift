import Foundation

/// Where `require` finds plugin modules: the folder `--plugins` names (which
/// must exist), else `plugins` in the current folder, else the `plugins`
/// folder beside the rules folder (`--rules ../shop/rules` finds
/// `../shop/plugins`); nil when there is none.
enum PluginsFolder {
    static let defaultName = "plugins"

    static func resolve(_ option: String?, rules: String) throws -> String? {
        if let option {
            guard isFolder(option) else { throw MissingFolder(description: "--plugins \(option): no such folder") }
            return option
        }
        let beside = URL(fileURLWithPath: rules).standardizedFileURL.deletingLastPathComponent()
            .appendingPathComponent(defaultName).path
        return [defaultName, beside].first(where: isFolder)
    }

    static func isFolder(_ path: String) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
    }
}

/// A folder named on the command line that does not exist.
struct MissingFolder: Error, CustomStringConvertible {
    var description: String
}
