#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// CPU time this process has used so far (every thread: user and system), from `getrusage(RUSAGE_SELF)`.
struct ProcessCPU: Sendable, Equatable {
    /// Seconds spent in user mode.
    var user: Double
    /// Seconds spent in the kernel on this process's behalf.
    var system: Double

    var total: Double { self.user + self.system }

    /// The CPU time used until now.
    static func now() -> ProcessCPU {
        var usage = rusage()
        #if canImport(Glibc) || canImport(Musl)
            let who = RUSAGE_SELF.rawValue
        #else
            let who = RUSAGE_SELF
        #endif
        guard getrusage(who, &usage) == 0 else { return ProcessCPU(user: 0, system: 0) }
        return ProcessCPU(user: Self.seconds(usage.ru_utime), system: Self.seconds(usage.ru_stime))
    }

    /// The CPU time used between `earlier` and `self`.
    func since(_ earlier: ProcessCPU) -> ProcessCPU {
        ProcessCPU(user: self.user - earlier.user, system: self.system - earlier.system)
    }

    private static func seconds(_ time: timeval) -> Double {
        Double(time.tv_sec) + Double(time.tv_usec) / 1_000_000
    }
}

/// The system's load averages over 1, 5 and 15 minutes (`getloadavg`), to tell a quiet machine from a busy one.
func systemLoadAverage() -> [Double]? {
    var loads = [Double](repeating: 0, count: 3)
    guard getloadavg(&loads, 3) == 3 else { return nil }
    return loads.map { ($0 * 100).rounded() / 100 }
}
