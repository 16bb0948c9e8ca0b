import Foundation

/// The process collector of Prometheus' client libraries, under their names, so the dashboards
/// and alerts written for any Go operator read this one: resident and virtual memory, CPU
/// seconds, open and maximum descriptors, start time. Read from /proc when `/metrics` is rendered.
public enum ProcessMetrics {
    public static func register(in registry: MetricsRegistry) {
        let resident = registry.gauge("process_resident_memory_bytes", help: "Resident memory size in bytes.")
        let virtual = registry.gauge("process_virtual_memory_bytes", help: "Virtual memory size in bytes.")
        let cpu = registry.counter("process_cpu_seconds_total", help: "Total user and system CPU time spent in seconds.")
        let open = registry.gauge("process_open_fds", help: "Number of open file descriptors.")
        let maximum = registry.gauge("process_max_fds", help: "Maximum number of open file descriptors.")
        let start = registry.gauge("process_start_time_seconds", help: "Start time of the process since unix epoch in seconds.")
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        let page = Double(sysconf(Int32(_SC_PAGESIZE)))
        let bootTime = Self.bootTime()
        registry.collect {
            // /proc/self/stat: the fields after the command's closing parenthesis, from state (3).
            if let stat = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") {
                let fields = stat[stat.index(after: close)...].split(separator: " ")
                func field(_ number: Int) -> Double { fields.count > number - 3 ? Double(fields[number - 3]) ?? 0 : 0 }
                if ticks > 0 {
                    cpu.set((field(14) + field(15)) / ticks)
                    if let bootTime { start.set(bootTime + field(22) / ticks) }
                }
                virtual.set(field(23))
                resident.set(field(24) * page)
            }
            open.set(Double((try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? 0))
            var limit = rlimit()
            if getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 { maximum.set(Double(limit.rlim_cur)) }
        }
    }

    /// The machine's boot time (`btime` in /proc/stat), which a process's start ticks count from.
    static func bootTime() -> Double? {
        guard let stat = try? String(contentsOfFile: "/proc/stat", encoding: .utf8) else { return nil }
        return stat.split(separator: "\n").first { $0.hasPrefix("btime ") }.flatMap { Double($0.dropFirst(6).trimmingCharacters(in: .whitespaces)) }
    }
}
