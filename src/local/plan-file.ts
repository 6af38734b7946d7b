/**
 * A plans document on disk (`plan --json`, or `synth`'s `pipelines.plan.json`): what `run --plan`
 * runs, with no config at all.
 */
import { readFile } from 'node:fs/promises';
import { InputError } from '../model/errors.js';
import { parsePlansDocument } from '../model/plan.js';
import type { PipelinePlan, PlansDocument } from '../model/plan-schema.js';

/**
 * Read and check a plans document.
 *
 * @throws InputError when the file is missing, is not JSON, or is not a plans document of this schema version
 */
export async function readPlansFile(file: string): Promise<PlansDocument> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new InputError(`cannot read the plans document ${file}`, [
      { where: '--plan', message: code === 'ENOENT' ? 'no such file: write one with `service-pipelines plan --json > pipelines.plan.json`' : (error as Error).message },
    ]);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new InputError(`the plans document ${file} is not JSON`, [{ where: file, message: (error as Error).message }]);
  }
  return parsePlansDocument(value, file);
}

/**
 * The pipeline of a plans document to run: the one of `service` (or of the document's only
 * service) for that trigger.
 *
 * @param where - what to name in errors (the file as given)
 * @throws InputError naming the services and pipelines the document has, when there is no such pipeline or several services to choose from
 */
export function selectPipeline(document: PlansDocument, service: string | undefined, trigger: 'push' | 'pull-request', where: string): PipelinePlan {
  const services = [...new Set(document.pipelines.map((p) => p.service))];
  const chosen = service ?? (services.length === 1 ? services[0] : undefined);
  if (chosen === undefined) {
    throw new InputError(`${where} holds the pipelines of several services: which one?`, [{ where: '--service', message: `give one of: ${services.join(', ') || '(none)'}` }]);
  }
  const plan = document.pipelines.find((p) => p.service === chosen && p.trigger === trigger);
  if (!plan) {
    const pipelines = document.pipelines.map((p) => `${p.pipelineName} (${p.trigger})`);
    throw new InputError(`${where} has no ${trigger} pipeline of service "${chosen}"`, [
      { where: service === undefined ? '--plan' : '--service', message: `it has: ${pipelines.join(', ') || 'no pipelines'}` },
    ]);
  }
  return plan;
}
