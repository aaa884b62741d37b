// bench.js: throughput of the official Hugging Face tokenizers (npm package
// `tokenizers`, Rust core) on the same corpus `bioenc bench tokenize` uses.
//
//   cd tools/tokbench && npm install   (tokenizers@0.23.2, see package.json)
//   RAYON_NUM_THREADS=1 node bench.js TOKENIZER_JSON[.gz] INPUT [repeats] [mode]
//
// INPUT is JSON Lines with a "text" field or plain lines, gzip'd or not.
// mode "batch" (default) times encodeBatch over chunks of 256 texts (the Rust
// side runs them on RAYON_NUM_THREADS threads); mode "single" awaits encode()
// one text at a time. One warm-up pass, then the median of the repeats.
const fs = require('fs');
const zlib = require('zlib');
const { Tokenizer } = require('tokenizers');

function readMaybeGzip(path) {
  let b = fs.readFileSync(path);
  if (b.length > 1 && b[0] === 0x1f && b[1] === 0x8b) b = zlib.gunzipSync(b);
  return b.toString('utf8');
}

const [tokPath, inPath, repArg, modeArg] = process.argv.slice(2);
const repeats = parseInt(repArg || '5', 10);
const mode = modeArg || 'batch';
const tok = Tokenizer.fromString(readMaybeGzip(tokPath));
const texts = [];
for (const line of readMaybeGzip(inPath).split('\n')) {
  if (!line.trim()) continue;
  if (line[0] === '{') texts.push(JSON.parse(line).text);
  else texts.push(line);
}
const bytes = texts.reduce((n, t) => n + Buffer.byteLength(t, 'utf8'), 0);

async function pass() {
  const t0 = process.hrtime.bigint();
  let ntok = 0;
  if (mode === 'single') {
    for (const t of texts) ntok += (await tok.encode(t)).getLength();
  } else {
    for (let i = 0; i < texts.length; i += 256) {
      const encs = await tok.encodeBatch(texts.slice(i, i + 256));
      for (const e of encs) ntok += e.getLength();
    }
  }
  return [Number(process.hrtime.bigint() - t0) / 1e9, ntok];
}

(async () => {
  await pass(); // warm-up
  const times = [];
  let ntok = 0;
  for (let r = 0; r < repeats; r++) {
    const [s, n] = await pass();
    times.push(s);
    ntok = n;
  }
  times.sort((a, b) => a - b);
  const med = times[Math.floor(times.length / 2)];
  console.log(`rust tokenizers ${require('tokenizers/package.json').version} mode=${mode} RAYON_NUM_THREADS=${process.env.RAYON_NUM_THREADS || '(default)'}`);
  console.log(`input: ${inPath} (${texts.length} texts, ${(bytes / 1e6).toFixed(2)} MB, ${ntok} tokens)`);
  console.log(`median ${med.toFixed(3)} s  ${(bytes / 1e6 / med).toFixed(2)} MB/s  ${(ntok / med).toFixed(0)} tokens/s  (min ${times[0].toFixed(3)} s, max ${times[times.length - 1].toFixed(3)} s)`);
})();
