//! What a benchmark ran on, for the report.

use std::fmt;

/// The machine, as the report describes it.
#[derive(Debug, Clone)]
pub struct Machine {
    pub cpu: String,
    pub cores: usize,
    pub kernel: String,
    /// The 1, 5 and 15 minute load averages when the run started: a shared
    /// machine's figures need them.
    pub load_average: String,
}

impl Machine {
    pub fn read() -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find_map(|line| line.strip_prefix("model name"))
            .and_then(|rest| rest.split_once(':'))
            .map(|(_, name)| name.trim().to_owned())
            .unwrap_or_else(|| "unknown CPU".to_owned());
        // Counted from cpuinfo: this process may already be pinned to one.
        let cores = cpuinfo
            .lines()
            .filter(|line| line.starts_with("processor"))
            .count();
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|release| release.trim().to_owned())
            .unwrap_or_default();
        let load_average = std::fs::read_to_string("/proc/loadavg")
            .map(|text| {
                text.split_whitespace()
                    .take(3)
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_default();
        Self {
            cpu,
            cores,
            kernel,
            load_average,
        }
    }
}

impl fmt::Display for Machine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}, {} cores, Linux {}, load average {} at the start",
            self.cpu, self.cores, self.kernel, self.load_average
        )
    }
}
