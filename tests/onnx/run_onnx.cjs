// Runs an ONNX model with ONNX Runtime (onnxruntime-web's WebAssembly backend, from the
// dashboard's pinned npm packages) on columns given as JSON, for the export tests:
//
//   NODE_PATH=build/web-deps/node_modules node tests/onnx/run_onnx.cjs MODEL INPUTS OUTPUTS
//
// INPUTS: {"column": [values]} with text for text inputs and numbers (null: missing) for
// float inputs, each fed as an [N, 1] tensor. OUTPUTS gets {"output": [values, row by row]}.
const fs = require('fs');
const ort = require('onnxruntime-web');

(async () => {
  const [model, inputsPath, outputsPath] = process.argv.slice(2);
  ort.env.wasm.numThreads = 1;
  const session = await ort.InferenceSession.create(fs.readFileSync(model));
  const columns = JSON.parse(fs.readFileSync(inputsPath, 'utf8'));
  const feeds = {};
  for (const name of session.inputNames) {
    const values = columns[name];
    if (!values) throw new Error(`no values for the model's input '${name}'`);
    feeds[name] = typeof values.find((v) => v !== null) === 'string'
      ? new ort.Tensor('string', values.map((v) => (v === null ? '' : v)), [values.length, 1])
      : new ort.Tensor('float32', Float32Array.from(values, (v) => (v === null ? NaN : v)), [values.length, 1]);
  }
  const results = await session.run(feeds);
  const out = {};
  for (const name of session.outputNames) {
    out[name] = Array.from(results[name].data, (v) => (typeof v === 'bigint' ? Number(v) : v));
  }
  fs.writeFileSync(outputsPath, JSON.stringify(out));
})().catch((e) => {
  console.error(`run_onnx: ${e.message}`);
  process.exit(1);
});
