// The layers as README's "What is here" draws them, checked by `npm run lint` (part of `npm test`).
// Type-only imports count: a type pulls its module's meaning across a layer as much as a value does.

const UI = '^src/(app|features|client|storage|ui)/|^src/main\\.tsx$';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'Modules that import each other cannot be read, tested or moved one at a time.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'features-not-app',
      severity: 'error',
      comment: 'The app shell composes the features; a feature never reaches back into the shell.',
      from: { path: '^src/features/' },
      to: { path: '^src/app/' },
    },
    {
      name: 'src-ships-alone',
      severity: 'error',
      comment: 'src/ is what users get: it never imports the lab, the tests or the command-line tools.',
      from: { path: '^src/' },
      to: { path: '^(lab|tests|tools)/' },
    },
    {
      name: 'engine-not-ui',
      severity: 'error',
      comment: 'src/engine/ runs in the worker: it never imports the UI, its client or its storage.',
      from: { path: '^src/engine/' },
      to: { path: UI },
    },
    {
      name: 'main-thread-not-engine',
      severity: 'error',
      comment:
        'The UI and the model store run on the main thread and reach the engine only through the worker ' +
        '(client/ starts it by URL); shared shapes live in protocol/ or models/.',
      from: { path: `${UI}|^src/(models|protocol)/` },
      to: { path: '^src/engine/' },
    },
    {
      name: 'protocol-imports-nothing',
      severity: 'error',
      comment: 'protocol/ is the plain data both sides agree on; it depends on no other part of the app.',
      from: { path: '^src/protocol/' },
      to: { path: '^src/', pathNot: '^src/protocol/' },
    },
    {
      name: 'engine-floors-kv-kernels',
      severity: 'error',
      comment:
        'The engine is built in floors: the cache (kv/) and the GPU kernels (kernels/) sit under the forward pass ' +
        '(decoder/), the decode loop (generate/) and the chat (chat/), and never reach up to them.',
      from: { path: '^src/engine/(kv|kernels)/' },
      to: { path: '^src/engine/(decoder|generate|chat)/' },
    },
    {
      name: 'engine-floors-model',
      severity: 'error',
      comment:
        'files/ reads the model files, llama2c/ converts a llama2.c checkpoint and split/ cuts the graph for the ' +
        'forward pass (decoder/); none of them reaches up to it.',
      from: { path: '^src/engine/(files|llama2c|split)/' },
      to: { path: '^src/engine/(decoder|generate|chat)/' },
    },
    {
      name: 'models-under-session',
      severity: 'error',
      comment: 'The session (features/session/) loads what the model picker (features/models/) chose; the picker never reaches up to it.',
      from: { path: '^src/features/models/' },
      to: { path: '^src/features/session/' },
    },
    {
      name: 'only-ort-imports-onnxruntime',
      severity: 'error',
      comment: 'In the app, only src/engine/ort/ talks to onnxruntime-web, so its API stays behind one door.',
      from: { path: '^src/', pathNot: '^src/engine/ort/' },
      to: { path: '(^|/)onnxruntime-web(/|$)' },
    },
    {
      name: 'tests-not-tools',
      severity: 'error',
      comment: 'What tests and tools share lives in lab/; tests never import the command-line scripts.',
      from: { path: '^tests/' },
      to: { path: '^tools/' },
    },
    {
      name: 'tools-not-tests',
      severity: 'error',
      comment: 'What tests and tools share lives in lab/; tools never import the tests.',
      from: { path: '^tools/' },
      to: { path: '^tests/' },
    },
    {
      name: 'lab-not-tests-or-tools',
      severity: 'error',
      comment: 'lab/ is shared by tests and tools, so it imports neither.',
      from: { path: '^lab/' },
      to: { path: '^(tests|tools)/' },
    },
  ],
  options: {
    // Builder exports and their tokenizers: data, not code.
    exclude: { path: '^tests/fixtures/' },
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'browser', 'default'],
      extensions: ['.ts', '.tsx', '.js', '.mjs'],
    },
  },
};
