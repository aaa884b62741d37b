// encode_compare.js: encode corpus texts with the official Rust tokenizers
// (npm `tokenizers`) from a tokenizer.json and compare with bioenc's output.
//
//   head -n N corpus | bioenc tokenize --tokenizer DIR > ours.jsonl   (JSONL {"text"} input)
//   node encode_compare.js DIR/tokenizer.json CORPUS N ours.jsonl [--pairs]
//
// ours.jsonl holds one {"ids": [...], ...} line per text, in order (with
// --pairs, text i is paired with text i+1, as {"text", "pair"} input).
const fs = require('fs');
const { tokenizers, texts } = require('./lib');
const tk = tokenizers();

(async () => {
  const [tjson, corpus, nStr, ours] = process.argv.slice(2, 6);
  const pairs = process.argv.includes('--pairs');
  const n = parseInt(nStr, 10);
  const tok = tk.Tokenizer.fromString(fs.readFileSync(tjson, 'utf8'));
  const docs = texts(corpus, 'text', pairs ? n + 1 : n);
  const go = fs.readFileSync(ours, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));
  if (go.length !== n) throw new Error(`${ours} has ${go.length} lines, want ${n}`);
  let bad = 0, toks = 0;
  for (let i = 0; i < n; i++) {
    const e = await tok.encode(docs[i], pairs ? docs[i + 1] : null, { addSpecialTokens: true });
    const ids = e.getIds();
    const typeIds = e.getTypeIds();
    toks += ids.length;
    const same = ids.length === go[i].ids.length && ids.every((x, k) => x === go[i].ids[k]) &&
      typeIds.every((x, k) => x === go[i].type_ids[k]);
    if (!same) {
      if (bad < 5) {
        const k = ids.findIndex((x, j) => x !== go[i].ids[j]);
        console.log(`text ${i}: first difference at token ${k}: rust ${JSON.stringify(e.getTokens().slice(k, k + 5))} ours ${JSON.stringify(go[i].tokens.slice(k, k + 5))}`);
      }
      bad++;
    }
  }
  console.log(`${n - bad}/${n} ${pairs ? 'pairs' : 'texts'} identical (${toks} tokens)`);
  process.exit(bad ? 1 : 0);
})();
