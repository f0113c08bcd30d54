// steward-plugin-host: runs one plugin for an engine that isolates it (`isolation: process`).
// Started by the engine, never by people: `--plugin LIB --channels N [--memory-limit-bytes B]
// [--cpu-limit-ms M] [--no-network]`, with the channels' sockets as descriptors 3, 4, ...
// It drops what it does not need before any plugin code runs, then serves (see
// `PluginHostServer` for the frames and the watchdog).
import CPluginSandbox
import StewardPlugins

#if canImport(Glibc)
import Glibc
#endif

/// Writes a line to standard error.
func complain(_ line: String) {
    var text = "steward-plugin-host: \(line)\n"
    text.withUTF8 { bytes in _ = write(2, bytes.baseAddress, bytes.count) }
}

var arguments = CommandLine.arguments.dropFirst()
var path: String?
var channelCount = 1
var memoryLimit: Int?
var cpuLimit: Int?
var network = true
while let argument = arguments.popFirst() {
    switch argument {
    case "--plugin": path = arguments.popFirst()
    case "--channels": channelCount = arguments.popFirst().flatMap { Int($0) } ?? 1
    case "--memory-limit-bytes": memoryLimit = arguments.popFirst().flatMap { Int($0) }
    case "--cpu-limit-ms": cpuLimit = arguments.popFirst().flatMap { Int($0) }
    case "--no-network": network = false
    default:
        complain("unknown argument '\(argument)' (it is started by the engine, not by hand)")
        exit(2)
    }
}
guard let path, channelCount >= 1, channelCount <= 64 else {
    complain("usage: --plugin LIB --channels N (it is started by the engine, not by hand)")
    exit(2)
}
let channels = (0..<channelCount).map { Int32(3 + $0) }

/// Tells the engine why the host cannot serve, then exits.
func refuse(_ message: String) -> Never {
    PluginHostServer.refuse(channel: channels[0], message: message)
    exit(3)
}

// Nothing the host runs may gain privileges (setuid binaries, file capabilities).
let privileges = stw_sandbox_no_new_privileges()
if privileges != 0, privileges != ENOSYS { refuse("cannot set no-new-privileges: \(String(cString: strerror(privileges)))") }
// Only the channels stay open: nothing the engine had open leaks into plugin code.
_ = stw_sandbox_close_from(3 + Int32(channelCount))
if !network {
    let status = stw_sandbox_unshare_network()
    if status != 0 { refuse("the plugin is configured without network (network: false), but this machine refuses a new network namespace: \(String(cString: strerror(status)))") }
}
if let memoryLimit {
    var limit = rlimit(rlim_cur: rlim_t(memoryLimit), rlim_max: rlim_t(memoryLimit))
    if setrlimit(__rlimit_resource_t(RLIMIT_AS.rawValue), &limit) != 0 { refuse("cannot set the memory limit: \(String(cString: strerror(errno)))") }
}
exit(PluginHostServer.run(PluginHostServer.Options(path: path, channels: channels, cpuLimitMilliseconds: cpuLimit)))
