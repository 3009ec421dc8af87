import cliProgress from 'cli-progress';
import type { Io } from './io.ts';

/** A build phase as `buildIndex` reports it. */
export interface ProgressEvent {
  phase: 'read' | 'index' | 'embed' | 'graph' | 'save';
  done: number;
  total: number;
}

/**
 * Shows build progress: on a terminal, a bar per phase with paragraphs/s and the time left
 * (cli-progress); otherwise (logs, CI) a plain line every two seconds and at the end of a phase.
 * The rate counts only paragraphs processed in this phase (reused embeddings are not "embedded").
 */
export function createProgress(io: Io, stream: NodeJS.WriteStream = process.stderr): { update(event: ProgressEvent): void; stop(): void } {
  let phase: ProgressEvent['phase'] | undefined;
  let phaseStart = 0;
  let phaseFrom = 0;
  let lastLine = 0;
  let bar: cliProgress.SingleBar | undefined;
  const label = (p: ProgressEvent['phase']) => (p === 'index' ? 'indexing' : p === 'embed' ? 'embedding' : p === 'graph' ? 'graph' : p === 'read' ? 'reading reports' : 'saving');
  // The graph phase inserts vectors (distinct ones, those the previous graph lacks), the others go through paragraphs.
  const unit = (p: ProgressEvent['phase']) => (p === 'graph' ? 'vectors' : 'paragraphs');
  const stopBar = () => {
    bar?.stop();
    bar = undefined;
  };
  return {
    update({ phase: next, done, total }) {
      const now = performance.now();
      if (next !== phase) {
        stopBar();
        phase = next;
        phaseStart = now;
        phaseFrom = done;
        lastLine = 0;
        if (next === 'read' || next === 'save') io.err(`${label(next)}…`);
        else if (io.isTTY) {
          bar = new cliProgress.SingleBar({
            stream, clearOnComplete: false, hideCursor: true, etaBuffer: 50,
            format: `${label(next).padEnd(9)} [{bar}] {value}/{total} ${unit(next)} | {rate}/s | {eta_formatted} left`,
          }, cliProgress.Presets.shades_classic);
          bar.start(total, done, { rate: '–' });
        }
      }
      if (next === 'read' || next === 'save') return;
      const seconds = (now - phaseStart) / 1000;
      const rate = seconds > 0 && done > phaseFrom ? (done - phaseFrom) / seconds : 0;
      if (bar) {
        bar.setTotal(total);
        bar.update(done, { rate: rate > 0 ? rate.toFixed(0) : '–' });
        if (done === total) stopBar();
      } else if (now - lastLine > 2000 || done === total) {
        lastLine = now;
        const eta = rate <= 0 ? '' : done === total ? `, ${rate.toFixed(0)} ${unit(next)}/s` : `, ${rate.toFixed(0)} ${unit(next)}/s, ${((total - done) / rate).toFixed(0)} s left`;
        io.err(`${label(next)}: ${done}/${total} ${unit(next)}${eta}`);
      }
    },
    stop: stopBar,
  };
}
