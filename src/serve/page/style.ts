/** The dashboard's stylesheet. Status is always written out, never shown by color alone. */
export const STYLE_CSS = String.raw`
:root {
  --bg: #f6f7f9; --panel: #ffffff; --text: #16191f; --muted: #5f6b7a; --line: #d5dbdb; --link: #0b5fad;
  --ok: #1d8102; --ok-bg: #e9f6e5; --fail: #b0160c; --fail-bg: #fdecea; --run: #0b5fad; --run-bg: #e8f1fb;
  --wait: #8a5a00; --wait-bg: #fdf3dc; --idle: #5f6b7a; --idle-bg: #eef0f2;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; font-size: 15px; line-height: 1.4;
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--text); }
a { color: var(--link); }
a:focus-visible, button:focus-visible, summary:focus-visible, textarea:focus-visible { outline: 3px solid #ec7211; outline-offset: 2px; }
header.top { background: #232f3e; color: #fff; padding: 0.6rem 1.2rem; display: flex; gap: 1.5rem; align-items: baseline; }
header.top a { color: #fff; text-decoration: none; font-weight: 600; }
header.top nav a { font-weight: 400; opacity: 0.9; }
main { padding: 1rem 1.2rem 3rem; max-width: 100%; }
h1 { font-size: 1.4rem; margin: 0.2rem 0 1rem; }
h2 { font-size: 1.1rem; margin: 0; }
.muted { color: var(--muted); }
.panel { background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: 0.9rem 1rem; margin-bottom: 1rem; }
.pipeline-head { display: flex; flex-wrap: wrap; gap: 0.4rem 1rem; align-items: baseline; margin-bottom: 0.7rem; }
.stages { display: flex; align-items: stretch; gap: 0; overflow-x: auto; padding-bottom: 0.3rem; }
.stage { min-width: 13rem; max-width: 18rem; flex: 0 0 auto; border: 1px solid var(--line); border-radius: 6px; background: #fbfbfc; padding: 0.5rem 0.6rem; }
.stage h3 { font-size: 0.95rem; margin: 0 0 0.35rem; display: flex; justify-content: space-between; gap: 0.5rem; }
.arrow { align-self: center; color: var(--muted); padding: 0 0.35rem; font-size: 1.2rem; }
.actions { list-style: none; margin: 0; padding: 0; display: grid; gap: 0.3rem; }
.action { border-left: 4px solid var(--idle); background: var(--panel); padding: 0.25rem 0.45rem; border-radius: 3px; font-size: 0.88rem; }
.action .row { display: flex; justify-content: space-between; gap: 0.5rem; }
.action .reason { color: var(--muted); font-size: 0.8rem; overflow-wrap: anywhere; }
.action button.link { background: none; border: 0; padding: 0; color: var(--link); text-decoration: underline; cursor: pointer; font: inherit; text-align: left; }
.status { display: inline-block; font-size: 0.75rem; font-weight: 600; letter-spacing: 0.02em; padding: 0.05rem 0.4rem; border-radius: 999px; white-space: nowrap; background: var(--idle-bg); color: var(--idle); }
.s-SUCCEEDED { background: var(--ok-bg); color: var(--ok); border-color: var(--ok); }
.s-FAILED, .s-REJECTED, .s-ABANDONED, .s-STOPPED { background: var(--fail-bg); color: var(--fail); border-color: var(--fail); }
.s-IN_PROGRESS { background: var(--run-bg); color: var(--run); border-color: var(--run); }
.s-AWAITING_APPROVAL, .s-WAITING, .s-QUEUED, .s-PENDING-approval { background: var(--wait-bg); color: var(--wait); border-color: var(--wait); }
.s-SUPERSEDED, .s-SKIPPED, .s-PENDING { background: var(--idle-bg); color: var(--idle); border-color: var(--idle); }
.action.s-SUCCEEDED, .action.s-FAILED, .action.s-IN_PROGRESS, .action.s-AWAITING_APPROVAL, .action.s-REJECTED, .action.s-ABANDONED { background: var(--panel); }
table { border-collapse: collapse; width: 100%; background: var(--panel); }
th, td { text-align: left; padding: 0.4rem 0.6rem; border-bottom: 1px solid var(--line); font-size: 0.9rem; vertical-align: top; }
th { background: #f2f3f3; }
.dots { display: flex; gap: 3px; }
.dot { width: 0.8rem; height: 0.8rem; border-radius: 2px; border: 1px solid; }
.approval { border: 2px solid var(--wait); background: var(--wait-bg); }
.approval textarea { width: 100%; min-height: 3.5rem; font: inherit; margin: 0.4rem 0; }
.approval .buttons { display: flex; gap: 0.6rem; }
button.primary, button.danger { font: inherit; font-weight: 600; padding: 0.35rem 1rem; border-radius: 4px; cursor: pointer; border: 1px solid; }
button.primary { background: #ec7211; border-color: #ec7211; color: #fff; }
button.danger { background: #fff; border-color: var(--fail); color: var(--fail); }
button:disabled { opacity: 0.6; cursor: wait; }
details.log { margin: 0.4rem 0; border: 1px solid var(--line); border-radius: 4px; background: var(--panel); }
details.log summary { padding: 0.35rem 0.6rem; cursor: pointer; display: flex; gap: 0.6rem; align-items: baseline; }
pre.log { margin: 0; padding: 0.5rem 0.7rem; background: #0f1b2a; color: #e6edf3; font: 0.8rem/1.35 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; max-height: 28rem; overflow: auto; white-space: pre-wrap; overflow-wrap: anywhere; }
.facts { display: flex; flex-wrap: wrap; gap: 0.3rem 1.4rem; margin: 0 0 0.8rem; padding: 0; list-style: none; }
.error { color: var(--fail); font-weight: 600; }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
@media (prefers-reduced-motion: no-preference) { .s-IN_PROGRESS.status::before { content: "● "; animation: pulse 1.2s infinite; } }
@keyframes pulse { 50% { opacity: 0.3; } }
`;
