import { describe, expect, it } from 'vitest';
import type { RunEvent } from '../../src/local/events.js';
import { ProgressView } from '../../src/local/progress-view.js';

const started: RunEvent = {
  type: 'execution-started',
  executionId: 'e1',
  pipeline: 'svc',
  home: '/home/dev/project/.service-pipelines',
  at: 0,
  stages: [
    { name: 'Build', actions: [{ name: 'Lint', runOrder: 1, kind: 'commands' }, { name: 'UnitTests', runOrder: 1, kind: 'commands' }] },
    { name: 'Deploy-dev', environment: 'dev', actions: [{ name: 'Deploy', runOrder: 1, kind: 'commands' }] },
  ],
};

function render(live: boolean, events: RunEvent[]): string {
  let text = '';
  const view = new ProgressView({ write: (chunk) => (text += chunk) }, { live, now: () => 1_000, refreshMs: 60_000 });
  for (const event of events) {
    view.handle(event);
  }
  view.close();
  return text;
}

const failingBuild: RunEvent[] = [
  started,
  { type: 'stage-started', stage: 'Build', at: 0 },
  { type: 'action-started', stage: 'Build', action: 'Lint', at: 0 },
  { type: 'action-started', stage: 'Build', action: 'UnitTests', at: 0 },
  { type: 'action-log', stage: 'Build', action: 'UnitTests', line: { kind: 'phase', stream: 'system', text: '[Container] 2026/01/01 00:00:00.000 Entering phase BUILD', at: 0 } },
  { type: 'action-log', stage: 'Build', action: 'UnitTests', line: { kind: 'output', stream: 'stderr', text: 'not ok 1 - greets the world', at: 0 } },
  { type: 'action-finished', stage: 'Build', action: 'Lint', status: 'SUCCEEDED', durationMs: 1_200 },
  { type: 'action-finished', stage: 'Build', action: 'UnitTests', status: 'FAILED', durationMs: 2_500, reason: 'command "npm test" exited with status 1' },
  { type: 'stage-finished', stage: 'Build', status: 'FAILED', durationMs: 2_500 },
  { type: 'execution-finished', executionId: 'e1', status: 'FAILED', durationMs: 2_600, reason: 'Build failed' },
];

describe('ProgressView', () => {
  it('GIVEN no terminal WHEN a run fails THEN it prints one plain line per step, with the failing command output', () => {
    const text = render(false, failingBuild);

    expect(text).not.toContain('\x1b[');
    expect(text.split('\n')).toEqual(
      expect.arrayContaining([
        'svc: execution e1 (history in /home/dev/project/.service-pipelines)',
        'Build.Lint: SUCCEEDED in 1.2s',
        'Build.UnitTests: FAILED in 2.5s (command "npm test" exited with status 1)',
        '  not ok 1 - greets the world',
        'execution e1: FAILED in 2.6s (Build failed)',
      ]),
    );
  });

  it('GIVEN a terminal WHEN actions run THEN the block is redrawn in place with statuses, durations and the current log line', () => {
    const text = render(true, failingBuild.slice(0, 6));

    // Redrawn in place: the cursor goes back up over the previous frame.
    expect(text).toContain('F\x1b[0J');
    const lastFrame = text.slice(text.lastIndexOf('\x1b[0J') + 4);
    expect(lastFrame).toContain('▶ Build  1.0s');
    expect(lastFrame).toContain('▶ UnitTests  1.0s  │ not ok 1 - greets the world');
    expect(lastFrame).toContain('· Deploy-dev [dev]');
  });
});
