/** Remove the scratch folder (the engine's app data and weight cache) the config made for this run. */
import { rmSync } from 'node:fs';

export default function globalTeardown(): void {
  const scratch = process.env.TILLER_E2E_SCRATCH;
  if (scratch && /tiller-e2e-/.test(scratch)) rmSync(scratch, { recursive: true, force: true });
}
