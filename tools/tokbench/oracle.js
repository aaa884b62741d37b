// oracle.js: encode JSON Lines with the official Hugging Face tokenizers
// (npm package `tokenizers`, Rust core) so bioencoder's Go tokenizer can be
// compared with it on arbitrary inputs. Development aid only; no test
// depends on it.
//
//   node oracle.js TOKENIZER_JSON[.gz] < in.jsonl > out.jsonl
//
// Input lines: {"text": "...", "pair": "..."|null, "add_special_tokens": true,
//               "max_length": 16|null, "strategy": "OnlyFirst", "direction": "Left"} or {"decode": [ids], "skip_special_tokens": bool}.
const fs = require('fs');
const zlib = require('zlib');
const readline = require('readline');
const { Tokenizer } = require('tokenizers');

let raw = fs.readFileSync(process.argv[2]);
if (process.argv[2].endsWith('.gz')) raw = zlib.gunzipSync(raw);
const tok = Tokenizer.fromString(raw.toString('utf8'));

async function handle(line) {
  const r = JSON.parse(line);
  if (r.decode) {
    return { text: await tok.decode(r.decode, !!r.skip_special_tokens) };
  }
  if (r.max_length) {
    const opt = {};
    if (r.strategy) opt.strategy = r.strategy;
    if (r.direction) opt.direction = r.direction;
    tok.setTruncation(r.max_length, opt);
  } else tok.disableTruncation();
  const add = r.add_special_tokens !== false;
  const e = await tok.encode(r.text, r.pair === undefined ? null : r.pair, { addSpecialTokens: add });
  return {
    ids: e.getIds(), tokens: e.getTokens(), type_ids: e.getTypeIds(),
    attention_mask: e.getAttentionMask(), special_tokens_mask: e.getSpecialTokensMask(),
    offsets: e.getOffsets(), word_ids: e.getWordIds().map((w) => (w === undefined ? null : w)),
    sequence_ids: e.getSequenceIds().map((w) => (w === undefined ? null : w)),
  };
}

(async () => {
  const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  for await (const line of rl) {
    if (!line.trim()) continue;
    let out;
    try { out = await handle(line); } catch (err) { out = { error: String(err) }; }
    process.stdout.write(JSON.stringify(out) + '\n');
  }
})();
