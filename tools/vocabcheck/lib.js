// Shared helpers: load the npm `tokenizers` package (this folder's
// node_modules, else ../tokbench's) and read corpus texts.
const fs = require('fs');
const path = require('path');
const zlib = require('zlib');

function tokenizers() {
  try {
    return require('tokenizers');
  } catch (e) {
    return require(path.join(__dirname, '..', 'tokbench', 'node_modules', 'tokenizers'));
  }
}

// texts reads a corpus: JSON Lines (field `field`) or plain text, gzip or not.
function texts(file, field = 'text', limit = Infinity) {
  let raw = fs.readFileSync(file);
  if (raw[0] === 0x1f && raw[1] === 0x8b) raw = zlib.gunzipSync(raw);
  const out = [];
  for (const line of raw.toString('utf8').split('\n')) {
    if (out.length >= limit) break;
    if (!line.trim()) continue;
    if (line.trimStart().startsWith('{')) out.push(JSON.parse(line)[field]);
    else out.push(line.replace(/\r$/, ''));
  }
  return out;
}

module.exports = { tokenizers, texts };
