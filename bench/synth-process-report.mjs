/**
 * Preloaded (`node --import`) into a process that a benchmark times whole: when the process
 * exits, it writes its own peak memory and CPU time to the file named by SYNTH_BENCH_REPORT.
 * It changes nothing else: the command runs as a user runs it.
 */
import { writeFileSync } from 'node:fs';

const report = process.env.SYNTH_BENCH_REPORT;
if (report) {
  process.on('exit', () => {
    const usage = process.resourceUsage();
    writeFileSync(
      report,
      JSON.stringify({ maxRssMb: Math.round(usage.maxRSS / 1024), cpuSeconds: (usage.userCPUTime + usage.systemCPUTime) / 1e6 }),
    );
  });
}
