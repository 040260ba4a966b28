// ONNX Runtime (CPU, npm onnxruntime-node) worker for bench/peers/compare.py.
//
//   node ort_worker.js CONFIG.json
// CONFIG: {"threads": T, "variants": {"NAME": {"path": "m.onnx",
//          "inputs": {"x": "x.npy", ...}}, ...}}
// Every session is created up front (intra-op threads T, inter-op 1, all graph
// optimizations, sequential execution), then stdin is served line by line,
// one JSON line answering each command:
//   forward NAME N   N timed runs -> {"forward_ms": [...]}
//   warmup NAME N    N untimed runs
//   save NAME PATH   last output of NAME as .npy
//   quit
'use strict';
const fs = require('fs');
const readline = require('readline');
const ort = require('onnxruntime-node');

function readNpy(path) {
  const buf = fs.readFileSync(path);
  if (buf.toString('latin1', 1, 6) !== 'NUMPY') throw new Error(path + ': not a .npy file');
  const major = buf[6];
  const hlen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = (major === 1 ? 10 : 12);
  const header = buf.toString('latin1', start, start + hlen);
  const descr = /'descr':\s*'([^']+)'/.exec(header)[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)[1];
  const shape = shapeText.split(',').map((s) => s.trim()).filter((s) => s.length).map(Number);
  if (/True/.test(/'fortran_order':\s*(\w+)/.exec(header)[1])) throw new Error(path + ': fortran order');
  const body = buf.subarray(start + hlen);
  const copy = new Uint8Array(body.length);
  copy.set(body);
  let tensor;
  if (descr === '<f4') tensor = new ort.Tensor('float32', new Float32Array(copy.buffer), shape);
  else if (descr === '<i8') tensor = new ort.Tensor('int64', new BigInt64Array(copy.buffer), shape);
  else if (descr === '<i4') tensor = new ort.Tensor('int32', new Int32Array(copy.buffer), shape);
  else throw new Error(path + ': unsupported dtype ' + descr);
  return tensor;
}

function writeNpyF32(path, data, shape) {
  let header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + shape.join(', ') +
      (shape.length === 1 ? ',' : '') + '), }';
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const pre = Buffer.alloc(10);
  pre.write('\x93NUMPY', 0, 'latin1');
  pre[6] = 1;
  pre[7] = 0;
  pre.writeUInt16LE(header.length, 8);
  fs.writeFileSync(path, Buffer.concat([pre, Buffer.from(header, 'latin1'),
    Buffer.from(data.buffer, data.byteOffset, data.byteLength)]));
}

async function main() {
  const cfg = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  const opts = {
    executionProviders: ['cpu'],
    intraOpNumThreads: cfg.threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    enableCpuMemArena: true,
    enableMemPattern: true,
  };
  const variants = {};
  for (const [name, v] of Object.entries(cfg.variants)) {
    const session = await ort.InferenceSession.create(v.path, opts);
    const feeds = {};
    for (const [k, p] of Object.entries(v.inputs)) feeds[k] = readNpy(p);
    variants[name] = {session, feeds, last: null};
  }
  process.stdout.write(JSON.stringify({ready: true, ort_version: ort.env.versions ? ort.env.versions.common : null,
    variants: Object.keys(variants)}) + '\n');

  const rl = readline.createInterface({input: process.stdin});
  for await (const line of rl) {
    const [cmd, name, arg] = line.trim().split(/\s+/);
    let reply;
    try {
      if (cmd === 'quit') break;
      const v = variants[name];
      if (!v) throw new Error('unknown variant ' + name);
      if (cmd === 'forward' || cmd === 'warmup') {
        const ms = [];
        for (let i = 0; i < Number(arg); ++i) {
          const t0 = process.hrtime.bigint();
          const out = await v.session.run(v.feeds);
          ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
          v.last = out[v.session.outputNames[0]];
        }
        reply = cmd === 'forward' ? {forward_ms: ms} : {ok: true};
      } else if (cmd === 'save') {
        writeNpyF32(arg, v.last.data, v.last.dims);
        reply = {ok: true};
      } else {
        throw new Error('unknown command ' + cmd);
      }
    } catch (e) {
      reply = {error: String(e.message || e)};
    }
    process.stdout.write(JSON.stringify(reply) + '\n');
  }
  process.exit(0);
}

main().catch((e) => {
  process.stdout.write(JSON.stringify({ready: false, error: String(e.message || e)}) + '\n');
  process.exit(1);
});
