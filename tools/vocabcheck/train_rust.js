// train_rust.js: train a BERT WordPiece vocabulary with the official Rust
// trainer (npm `tokenizers`) for comparison with `bioenc vocab train`.
//
//   node train_rust.js CORPUS OUT_VOCAB_TXT [--cased]
//
// The npm binding only exposes Tokenizer.train(files), which uses the
// model's default trainer: WordPieceTrainer::builder().build(), i.e.
// vocab_size 30000, min_frequency 0, no special tokens, no alphabet limit,
// prefix "##". Compare with
//   bioenc vocab train --vocab-size 30000 --min-frequency 0 --limit-alphabet 0 --special-tokens "[UNK]"
// (drop the leading [UNK] line of ours; the Rust vocabulary has no specials).
// Rust numbers the "##x" character tokens in hash-map order, so runs can
// differ from each other on count ties.
const fs = require('fs');
const os = require('os');
const path = require('path');
const { tokenizers, texts } = require('./lib');
const tk = tokenizers();

const [corpus, out] = process.argv.slice(2, 4);
const lower = !process.argv.includes('--cased');
if (!corpus || !out) {
  console.error('usage: node train_rust.js CORPUS OUT_VOCAB_TXT [--cased]');
  process.exit(2);
}
// train(files) reads lines of plain text; documents with newlines become
// several lines, which splits words the same way (newline is whitespace).
const tmp = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'vocabcheck-')), 'corpus.txt');
fs.writeFileSync(tmp, texts(corpus).join('\n') + '\n');

const tok = new tk.Tokenizer(tk.WordPiece.init({}, { unkToken: '[UNK]' }));
tok.setNormalizer(tk.bertNormalizer({ cleanText: true, handleChineseChars: true, stripAccents: lower, lowercase: lower }));
tok.setPreTokenizer(tk.bertPreTokenizer());
const t0 = Date.now();
tok.train([tmp]);
const ms = Date.now() - t0;
const vocab = tok.getVocab(false);
const toks = Object.keys(vocab).sort((a, b) => vocab[a] - vocab[b]);
toks.forEach((t, i) => {
  if (vocab[t] !== i) throw new Error(`ids not dense at ${i}`);
});
fs.writeFileSync(out, toks.join('\n') + '\n');
fs.rmSync(path.dirname(tmp), { recursive: true });
console.error(`rust: ${toks.length} tokens in ${ms} ms -> ${out}`);
