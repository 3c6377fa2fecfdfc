/**
 * The bench's memory read bandwidth probe: onnxruntime streaming 1 GiB on the same number
 * of intra-op threads as the engine decodes with. It stays open so the bench can run it
 * between decode rounds (quantized-decode.ts): decode's share of the probe then compares
 * two figures taken at the same moment, not a probe at the start against a decode a minute
 * later under other load.
 *
 * The probe reads 256Mi float32 = 1 GiB, far beyond the last-level cache (32 MiB here), so
 * every run streams from DRAM. It sums each of 64 rows (16 MiB each) rather than the whole
 * tensor: onnxruntime 1.30 reduces a whole tensor to one scalar on a single thread whatever
 * intraOpNumThreads says (measured CPU time / wall time: 1.00 with 2 threads), while a
 * per-row reduction spreads the rows over the pool (1.9). ReduceMax streams as fast as
 * ReduceSum. MatMul is no probe: [1,N]x[N,1] runs at 1.7 GB/s, and [1,16384]x[16384,16384]
 * measures the GEMV kernel (22-27 GB/s), not the memory.
 *
 * It is a reference, not a ceiling: run a second apart on this 2-core VM (load average 3),
 * fp32 decode of the SmolLM2-135M-shaped model streamed its weights at 1.05-1.45x this
 * probe's rate (20.5-27.0 GB/s against 17.4-21.1), and a [1,8192]x[8192,16384] MatMul over
 * a prepacked initializer at 0.5-1.2x; a 1 GiB initializer summed by rows (no copy per run)
 * at 0.5-0.8x. So decode's share of it says decode streams about as fast as onnxruntime's
 * best single kernel here, not how far it is from the memory's limit.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GraphBuilder } from '../engine/graph/builder';
import { encodeModel } from '../engine/graph/onnx-proto';
import { Runtime, type Session } from '../engine/runtime/runtime';

const PROBE_ROWS = 64;
const PROBE_COLS = (256 * 1024 * 1024) / PROBE_ROWS;

export class BandwidthProbe {
  readonly op = `ReduceSum over [${PROBE_ROWS}, ${PROBE_COLS}] float32, axis 1`;
  // A plain ArrayBuffer (onnxruntime rejects SharedArrayBuffer feeds), filled with non-zero
  // values so every page is resident. postMessage copies it into the worker on each run;
  // the worker's runMs times session.run alone, so that copy is not counted.
  private readonly data = new Float32Array(PROBE_ROWS * PROBE_COLS).fill(1);
  readonly bytes = this.data.byteLength;

  private constructor(
    private readonly runtime: Runtime,
    private readonly session: Session,
  ) {}

  /** Write the probe graph into `dir` and open it with the engine's intra-op threads and spinning. */
  static async open(options: { threads: number; spinning: boolean }, dir: string): Promise<BandwidthProbe> {
    const g = new GraphBuilder('bandwidth-probe');
    const x = g.input('x', 'float32', [PROBE_ROWS, PROBE_COLS]);
    const columns = g.constant('int64', [1], [1], 'axes');
    g.output(g.op1('ReduceSum', [x, columns], { attrs: { keepdims: 0 }, output: 'row_sums' }), 'float32', [PROBE_ROWS]);
    const path = join(dir, 'probe.onnx');
    writeFileSync(path, encodeModel(g.toModel()));
    const runtime = new Runtime(options);
    try {
      return new BandwidthProbe(runtime, await runtime.createSession(path));
    } catch (error) {
      await runtime.close();
      throw error;
    }
  }

  /** One streaming pass: its read bandwidth in GB/s. */
  async run(): Promise<number> {
    const { outputs, runMs } = await this.session.run({ x: { dtype: 'float32', dims: [PROBE_ROWS, PROBE_COLS], data: this.data } }, ['row_sums']);
    if (outputs.row_sums.data[0] !== PROBE_COLS) throw new Error(`bandwidth probe summed to ${outputs.row_sums.data[0]}, expected ${PROBE_COLS}`);
    return this.bytes / (runMs / 1000) / 1e9;
  }

  close(): Promise<void> {
    return this.runtime.close();
  }
}
