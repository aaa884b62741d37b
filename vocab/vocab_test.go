package vocab

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"bioencoder/corpus"
	"bioencoder/internal/testutil"
	"bioencoder/parallel"
	"bioencoder/tokenizer"
)

// trainWords trains on word counts given directly (no normalization).
func trainWords(t *testing.T, o Options, words map[string]int64) *Vocab {
	t.Helper()
	tr, err := NewTrainer(o)
	if err != nil {
		t.Fatal(err)
	}
	for w, c := range words {
		tr.AddWord(w, c)
	}
	v, err := tr.Train()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func opts(mod func(o *Options)) Options {
	o := DefaultOptions()
	o.SpecialTokens = []string{"[UNK]"}
	o.MinFrequency = 0
	o.LimitAlphabet = 0
	o.VocabSize = 1000
	if mod != nil {
		mod(&o)
	}
	return o
}

// The merges below are worked out by hand from the algorithm (see the
// package comment).
func TestMerges(t *testing.T) {
	hug := map[string]int64{"hug": 10, "pug": 5, "pun": 12, "bun": 4, "hugs": 5}
	// [UNK]=0, alphabet b g h n p s u = 1..7, ##g ##n ##s ##u = 8..11 (code
	// point order). Pair counts: (##u,##g) 20, (p,##u) 17, (##u,##n) 16,
	// (h,##u) 15, (##g,##s) 5, (b,##u) 4.
	base := []string{"[UNK]", "b", "g", "h", "n", "p", "s", "u", "##g", "##n", "##s", "##u"}
	all := append(append([]string{}, base...),
		"##ug", // 20
		"##un", // 16 (p,##u) fell to 12
		"hug",  // 15
		"pun",  // 12
		"pug",  // 5, tied with (hug,##s): (p,##ug) = (5,12) < (14,10)
		"hugs", // 5
		"bun")  // 4
	tests := []struct {
		name  string
		words map[string]int64
		mod   func(o *Options)
		want  []string
		stop  string
	}{
		{"all merges", hug, nil, all, "no more pairs"},
		{"vocab size", hug, func(o *Options) { o.VocabSize = 15 }, all[:15], "vocab size"},
		{"min frequency", hug, func(o *Options) { o.MinFrequency = 5 }, all[:len(all)-1], "min frequency"},
		{"min frequency above all", hug, func(o *Options) { o.MinFrequency = 21 }, base, "min frequency"},
		{"vocab smaller than alphabet", hug, func(o *Options) { o.VocabSize = 3 }, base, "vocab size"},
		{
			// Equal counts: the smaller (left id, right id) wins; ##a < ##b.
			"tie", map[string]int64{"ba": 1, "ab": 1}, nil,
			[]string{"[UNK]", "a", "b", "##a", "##b", "ab", "ba"}, "no more pairs",
		},
		{
			// a ##a ##a ##a: (##a,##a) is merged left to right without
			// overlap (a ##aa ##a); then (a,##aa) and (##aa,##a) tie at 1.
			"overlap", map[string]int64{"aaaa": 1}, nil,
			[]string{"[UNK]", "a", "##a", "##aa", "aaa", "aaaa"}, "no more pairs",
		},
		{
			// Equal counts again, deciding three merges in a row:
			// (a,##b) and (##b,##c) tie at 5, then (##b,##c) and (x,##b) at 2.
			"ties", map[string]int64{"abc": 3, "xbc": 2, "ab": 2}, nil,
			[]string{"[UNK]", "a", "b", "c", "x", "##b", "##c", "ab", "abc", "xb", "xbc"}, "no more pairs",
		},
		{
			// A merge that makes an existing token (here a special one)
			// reuses its id and adds nothing.
			"existing token", map[string]int64{"ab": 2},
			func(o *Options) { o.SpecialTokens = []string{"[UNK]", "ab"} },
			[]string{"[UNK]", "ab", "a", "b", "##b"}, "no more pairs",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := trainWords(t, opts(tc.mod), tc.words)
			if !reflect.DeepEqual(v.Tokens, tc.want) {
				t.Errorf("tokens\n got %q\nwant %q", v.Tokens, tc.want)
			}
			if v.Stats.Stop != tc.stop {
				t.Errorf("stopped on %q, want %q", v.Stats.Stop, tc.stop)
			}
		})
	}
}

func TestSpecialTokens(t *testing.T) {
	o := opts(func(o *Options) {
		o.SpecialTokens = []string{"[MASK]", "[CLS]", "a", "[UNK]", "<extra>"}
	})
	v := trainWords(t, o, map[string]int64{"ab": 2})
	// "a" is already a special token, so the alphabet adds only "b".
	want := []string{"[MASK]", "[CLS]", "a", "[UNK]", "<extra>", "b", "##b", "ab"}
	if !reflect.DeepEqual(v.Tokens, want) {
		t.Fatalf("got %q, want %q", v.Tokens, want)
	}
	dir := t.TempDir()
	if err := v.Save(dir); err != nil {
		t.Fatal(err)
	}
	var tj struct {
		AddedTokens []struct {
			ID         int    `json:"id"`
			Content    string `json:"content"`
			Special    bool   `json:"special"`
			Normalized bool   `json:"normalized"`
		} `json:"added_tokens"`
		PostProcessor json.RawMessage `json:"post_processor"`
	}
	readJSON(t, filepath.Join(dir, FileTokenizer), &tj)
	for i, a := range tj.AddedTokens {
		if a.ID != i || a.Content != o.SpecialTokens[i] || !a.Special || a.Normalized {
			t.Errorf("added token %d: %+v", i, a)
		}
	}
	// No [SEP]: no post-processor.
	if string(tj.PostProcessor) != "null" {
		t.Errorf("post_processor %s, want null", tj.PostProcessor)
	}
	var stm map[string]any
	readJSON(t, filepath.Join(dir, FileSpecialTokens), &stm)
	wantMap := map[string]any{"cls_token": "[CLS]", "mask_token": "[MASK]", "unk_token": "[UNK]",
		"additional_special_tokens": []any{"a", "<extra>"}}
	if !reflect.DeepEqual(stm, wantMap) {
		t.Errorf("special_tokens_map.json %v, want %v", stm, wantMap)
	}
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func TestLimitAlphabet(t *testing.T) {
	// Character counts: a 5, b 3, c 1, d 1.
	words := map[string]int64{"ab": 3, "ac": 1, "ad": 1}
	tests := []struct {
		limit   int
		initial []rune
		want    []string
	}{
		{0, nil, []string{"[UNK]", "a", "b", "c", "d", "##b", "##c", "##d", "ab", "ac", "ad"}},
		// c and d tie; the higher code point goes first.
		{3, nil, []string{"[UNK]", "a", "b", "c", "##b", "##c", "ab", "ac"}},
		{2, nil, []string{"[UNK]", "a", "b", "##b", "ab"}},
		// An initial character is kept even though it never occurs, and
		// counts as the most frequent.
		{3, []rune{'z'}, []string{"[UNK]", "a", "b", "z", "##b", "ab"}},
		{1, []rune{'z'}, []string{"[UNK]", "z"}},
	}
	for _, tc := range tests {
		v := trainWords(t, opts(func(o *Options) { o.LimitAlphabet = tc.limit; o.InitialAlphabet = tc.initial }), words)
		if !reflect.DeepEqual(v.Tokens, tc.want) {
			t.Errorf("limit %d initial %q:\n got %q\nwant %q", tc.limit, tc.initial, v.Tokens, tc.want)
		}
	}
	// A dropped first character still leaves the next one a continuation:
	// "xa" with x dropped is the single symbol ##a.
	v := trainWords(t, opts(func(o *Options) { o.LimitAlphabet = 1 }), map[string]int64{"xa": 1, "aa": 5})
	want := []string{"[UNK]", "a", "##a", "aa"}
	if !reflect.DeepEqual(v.Tokens, want) {
		t.Errorf("dropped first character: got %q, want %q", v.Tokens, want)
	}
}

func TestWords(t *testing.T) {
	tests := []struct {
		name string
		mod  func(o *Options)
		text string
		want map[string]int64
	}{
		{"uncased", nil, "Héllo, WORLD!\thello\u00a0world 中文 a\x00b",
			map[string]int64{"hello": 2, ",": 1, "world": 2, "!": 1, "中": 1, "文": 1, "ab": 1}},
		{"cased", func(o *Options) { o.Lowercase = false }, "Héllo, WORLD! [CLS]",
			map[string]int64{"Héllo": 1, ",": 1, "WORLD": 1, "!": 1, "[": 1, "CLS": 1, "]": 1}},
		{"lowercase keeping accents", func(o *Options) { f := false; o.StripAccents = &f }, "Héllo",
			map[string]int64{"héllo": 1}},
		{"invalid utf-8", nil, "a\xffb c", map[string]int64{"ab": 1, "c": 1}},
		{"blank", nil, " \n\t ", map[string]int64{}},
		// Vertical tab, form feed and NEL are whitespace but also control
		// characters, which clean_text deletes: they join, not split.
		{"control whitespace", nil, "a\vb c\fd e\u0085f", map[string]int64{"ab": 1, "cd": 1, "ef": 1}},
		{"control whitespace kept", func(o *Options) { o.CleanText = false }, "a\vb c\u2003d",
			map[string]int64{"a": 1, "b": 1, "c": 1, "d": 1}},
		// A combining mark after a space starts the next word, then goes.
		{"combining after space", nil, "x \u0301y", map[string]int64{"x": 1, "y": 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr, err := NewTrainer(opts(tc.mod))
			if err != nil {
				t.Fatal(err)
			}
			if err := tr.Feed([]string{tc.text}); err != nil {
				t.Fatal(err)
			}
			tr.mu.Lock()
			err = tr.splitRaw()
			tr.mu.Unlock()
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(tr.counts, tc.want) {
				t.Errorf("words %v, want %v", tr.counts, tc.want)
			}
		})
	}
}

// miniCorpus is a few sentences in the style of the abstracts.
var miniCorpus = []string{
	"BACKGROUND\nthe phytohormone indole-3-acetic acid is widely distributed among plant-associated bacteria.",
	"certain strains of the pseudomonas syringae complex can further metabolize iaa into a less active conjugate.",
	"in p. syringae pv. tomato dc <dig> a pathogen of tomato and arabidopsis plants, the hrpl sigma factor controls expression.",
	"RESULTS\na conserved hrp box motif is found upstream of the iaal gene in the genomes of p. syringae strains.",
	"deletion of either the iaal or the mate gene resulted in reduced fitness and virulence of pto dc <dig> in tomato plants.",
	"Naïve Δ-cells (n = 42; p < 0.05) showed 3-fold IL-6/STAT3 signalling — see Fig. 2.",
}

func TestDeterminism(t *testing.T) {
	o := DefaultOptions()
	o.VocabSize = 200
	o.MinFrequency = 1
	var ref []string
	for run, workers := range []int{1, 2, 4} {
		t.Run("", func(t *testing.T) {
			prev := parallel.Workers()
			parallel.SetWorkers(workers)
			defer parallel.SetWorkers(prev)
			tr, err := NewTrainer(o)
			if err != nil {
				t.Fatal(err)
			}
			// Different batchings and orders of the same texts.
			texts := append([]string(nil), miniCorpus...)
			if run == 1 {
				for i, j := 0, len(texts)-1; i < j; i, j = i+1, j-1 {
					texts[i], texts[j] = texts[j], texts[i]
				}
			}
			for k := 0; k < 3; k++ {
				for i := 0; i < len(texts); i += run + 1 {
					if err := tr.Feed(texts[i:min(i+run+1, len(texts))]); err != nil {
						t.Fatal(err)
					}
				}
			}
			v, err := tr.Train()
			if err != nil {
				t.Fatal(err)
			}
			if ref == nil {
				ref = v.Tokens
			} else if !reflect.DeepEqual(v.Tokens, ref) {
				t.Fatalf("run %d differs", run)
			}
		})
	}
}

// TestRoundTrip saves a trained vocabulary and loads it with
// bioencoder/tokenizer both from tokenizer.json and from vocab.txt (with the
// config files), and checks the ids agree.
func TestRoundTrip(t *testing.T) {
	o := DefaultOptions()
	o.VocabSize = 300
	o.MinFrequency = 1
	v, err := TrainDocuments(func(yield func(string) bool) error {
		for _, s := range miniCorpus {
			if !yield(s) {
				break
			}
		}
		return nil
	}, o, nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := v.Save(dir); err != nil {
		t.Fatal(err)
	}
	fromJSON, err := tokenizer.Load(filepath.Join(dir, FileTokenizer))
	if err != nil {
		t.Fatal(err)
	}
	vocabDir := t.TempDir()
	for _, f := range []string{FileVocab, FileConfig, FileSpecialTokens} {
		data, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(vocabDir, f), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	fromVocab, err := tokenizer.Load(vocabDir)
	if err != nil {
		t.Fatal(err)
	}
	if fromJSON.VocabSize() != len(v.Tokens) || fromVocab.VocabSize() != len(v.Tokens) {
		t.Fatalf("vocab sizes %d, %d; trained %d", fromJSON.VocabSize(), fromVocab.VocabSize(), len(v.Tokens))
	}
	inDir, err := tokenizer.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if c := inDir.Config(); c.TokenizerClass != "BertTokenizer" || !c.DoLowerCase || c.ModelMaxLength != 512 {
		t.Errorf("config %+v", c)
	}
	unk, _ := fromJSON.UNKID()
	cls, _ := fromJSON.CLSID()
	sep, _ := fromJSON.SEPID()
	if unk != 1 || cls != 2 || sep != 3 {
		t.Errorf("unk %d cls %d sep %d", unk, cls, sep)
	}
	texts := append([]string{"unseen wörds [MASK] ok [SEP] 中 €", strings.Repeat("x", 120)}, miniCorpus...)
	for i, text := range texts {
		a, err := fromJSON.Encode(text, tokenizer.DefaultOptions())
		if err != nil {
			t.Fatal(err)
		}
		b, err := fromVocab.Encode(text, tokenizer.DefaultOptions())
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(a.IDs, b.IDs) || !reflect.DeepEqual(a.Tokens, b.Tokens) {
			t.Errorf("text %d: tokenizer.json %q, vocab.txt %q", i, a.Tokens, b.Tokens)
		}
		if a.IDs[0] != cls || a.IDs[len(a.IDs)-1] != sep {
			t.Errorf("text %d: not framed by [CLS] [SEP]: %q", i, a.Tokens)
		}
		// Training text is covered by the alphabet: no [UNK].
		if i >= 2 {
			for _, id := range a.IDs {
				if id == unk {
					t.Errorf("training text %d has [UNK]: %q", i, a.Tokens)
				}
			}
			// Decoding gives back the normalized words.
			dec := fromJSON.Decode(a.IDs, true)
			if dec == "" {
				t.Errorf("text %d decodes to nothing", i)
			}
		}
	}
	// A long word is a single [UNK] (max_input_chars_per_word 100).
	e, _ := fromJSON.Encode(strings.Repeat("x", 120), tokenizer.Options{})
	if len(e.IDs) != 1 || e.IDs[0] != unk {
		t.Errorf("long word: %q", e.Tokens)
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name string
		mod  func(o *Options)
		want string
	}{
		{"no unk", func(o *Options) { o.SpecialTokens = []string{"[PAD]"} }, `unknown token "[UNK]" must be one of`},
		{"duplicate", func(o *Options) { o.SpecialTokens = []string{"[UNK]", "[UNK]"} }, "given twice"},
		{"empty special", func(o *Options) { o.SpecialTokens = []string{"[UNK]", ""} }, "empty special token"},
		{"newline", func(o *Options) { o.SpecialTokens = []string{"[UNK]", "a\nb"} }, "line break"},
		{"vocab size", func(o *Options) { o.VocabSize = 0 }, "vocab size 0"},
		{"min frequency", func(o *Options) { o.MinFrequency = -1 }, "min frequency"},
		{"prefix", func(o *Options) { o.Prefix = "" }, "prefix"},
	}
	for _, tc := range tests {
		o := DefaultOptions()
		tc.mod(&o)
		if _, err := NewTrainer(o); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
		}
	}
	tr, _ := NewTrainer(DefaultOptions())
	tr.Feed([]string{"", "   "})
	if _, err := tr.Train(); err == nil || !strings.Contains(err.Error(), "no words") {
		t.Errorf("empty corpus: %v", err)
	}
	// A corpus error surfaces from TrainDocuments.
	_, err := TrainDocuments(corpus.Texts(filepath.Join(t.TempDir(), "missing.jsonl"), "", -1), DefaultOptions(), nil)
	if err == nil || !strings.Contains(err.Error(), "missing.jsonl") {
		t.Errorf("missing corpus: %v", err)
	}
}

// TestSharedCorpus trains a small vocabulary on the first abstracts of the
// shared corpus (skipped without it) and checks coverage: every word of the
// training text encodes without [UNK].
func TestSharedCorpus(t *testing.T) {
	p := testutil.SharedOrSkip(t, "data", "pubmed_abstracts.jsonl.gz")
	var texts []string
	err := corpus.Texts(p, "text", -1)(func(s string) bool {
		texts = append(texts, s)
		return len(texts) < 300
	})
	if err != nil {
		t.Fatal(err)
	}
	o := DefaultOptions()
	o.VocabSize = 2000
	tr, err := NewTrainer(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Feed(texts); err != nil {
		t.Fatal(err)
	}
	v, err := tr.Train()
	if err != nil {
		t.Fatal(err)
	}
	if len(v.Tokens) != 2000 || v.Stats.Stop != "vocab size" {
		t.Fatalf("%v", v)
	}
	tok, err := v.Tokenizer()
	if err != nil {
		t.Fatal(err)
	}
	unk, _ := tok.UNKID()
	for i, text := range texts[:50] {
		e, err := tok.Encode(text, tokenizer.Options{})
		if err != nil {
			t.Fatal(err)
		}
		for k, id := range e.IDs {
			// Words over 100 characters are [UNK] whatever the vocabulary.
			if id == unk && e.ByteOffsets[k][1]-e.ByteOffsets[k][0] <= 100 {
				t.Fatalf("text %d: [UNK] for %q", i, text[e.ByteOffsets[k][0]:e.ByteOffsets[k][1]])
			}
		}
	}
}

var (
	splittersMu sync.Mutex
	splitters   = map[byte]*wordSplitter{}
)

// FuzzPieces checks that counting raw pieces cut at ASCII whitespace and
// splitting each distinct piece gives the words splitting the whole text
// gives, for every normalizer setting.
func FuzzPieces(f *testing.F) {
	f.Add("Héllo, WORLD!\thello\u00a0world 中文 a\x00b", byte(0))
	f.Add("a\vb c\fd e\u0085f x \u0301y \u0301\u0316 z\r\n\n", byte(1))
	f.Add("İstanbul ΣΑΣ ﬁ ǅ \u200b\ufeff \ufffd \xff\xfe q", byte(2))
	f.Add("\u3000中\u3000 \U00020000 p53-mediated IL-6/STAT3 (n = 42; p < 0.05)", byte(7))
	f.Fuzz(func(t *testing.T, text string, flags byte) {
		o := DefaultOptions()
		o.CleanText = flags&1 == 0
		o.HandleChineseChars = flags&2 == 0
		o.Lowercase = flags&4 == 0
		if flags&8 != 0 {
			strip := flags&16 != 0
			o.StripAccents = &strip
		}
		splittersMu.Lock()
		sp := splitters[flags&31]
		if sp == nil {
			var err error
			if sp, err = newWordSplitter(&o); err != nil {
				t.Fatal(err)
			}
			splitters[flags&31] = sp
		}
		splittersMu.Unlock()
		tr := &Trainer{opts: o, split: sp, raw: map[string]int64{}, counts: map[string]int64{}}
		var err error
		whole := map[string]int64{}
		if _, err := tr.split.words(text, nil, func(w []byte) { whole[string(w)]++ }); err != nil {
			t.Fatal(err)
		}
		if err := tr.Feed([]string{text}); err != nil {
			t.Fatal(err)
		}
		tr.mu.Lock()
		err = tr.splitRaw()
		tr.mu.Unlock()
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(whole, tr.counts) && !(len(whole) == 0 && len(tr.counts) == 0) {
			t.Fatalf("%q (flags %d): whole text %v, pieces %v", text, flags, whole, tr.counts)
		}
	})
}
