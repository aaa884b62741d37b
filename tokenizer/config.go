package tokenizer

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// maxFileSize bounds what Load reads (a tokenizer.json of a large
// multilingual model is ~20 MB).
const maxFileSize = 1 << 30

// Load reads a tokenizer from a tokenizer.json file (optionally gzip'd) or
// from a model folder: its tokenizer.json, else vocab.txt with
// tokenizer_config.json and special_tokens_map.json (BERT). The
// tokenizer_config.json and special_tokens_map.json next to the file, when
// present, fill Config and name the special tokens.
func Load(path string) (*Tokenizer, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	dir := path
	file := ""
	if st.IsDir() {
		for _, name := range []string{"tokenizer.json", "tokenizer.json.gz"} {
			if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
				file = filepath.Join(dir, name)
				break
			}
		}
		if file == "" {
			if _, err := os.Stat(filepath.Join(dir, "vocab.txt")); err == nil {
				return LoadVocab(dir)
			}
			return nil, fmt.Errorf("tokenizer: %s has neither tokenizer.json nor vocab.txt", dir)
		}
	} else {
		file = path
		dir = filepath.Dir(path)
	}
	data, err := readMaybeGzip(file)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	cfg, _, err := readFolderConfig(dir)
	if err != nil {
		return nil, err
	}
	t, err := fromJSON(data, cfg)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %s: %w", file, err)
	}
	return t, nil
}

// FromJSON parses the contents of a tokenizer.json file.
func FromJSON(data []byte) (*Tokenizer, error) {
	t, err := fromJSON(data, nil)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	return t, nil
}

func readMaybeGzip(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var r io.Reader = f
	var head [2]byte
	n, _ := io.ReadFull(f, head[:])
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	if n == 2 && head[0] == 0x1f && head[1] == 0x8b {
		gz, err := gzip.NewReader(f)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		defer gz.Close()
		r = gz
	}
	data, err := io.ReadAll(io.LimitReader(r, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, maxFileSize)
	}
	return data, nil
}

// ---- tokenizer.json ----

type fileJSON struct {
	Version       *string         `json:"version"`
	Padding       json.RawMessage `json:"padding"`
	AddedTokens   []AddedToken    `json:"added_tokens"`
	Normalizer    json.RawMessage `json:"normalizer"`
	PreTokenizer  json.RawMessage `json:"pre_tokenizer"`
	PostProcessor json.RawMessage `json:"post_processor"`
	Decoder       json.RawMessage `json:"decoder"`
	Model         json.RawMessage `json:"model"`
}

func isNull(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) == 0 || string(raw) == "null"
}

func typeOf(raw json.RawMessage) (string, error) {
	var h struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(raw, &h); err != nil {
		return "", err
	}
	return h.Type, nil
}

func fromJSON(data []byte, cfg *folderConfig) (*Tokenizer, error) {
	var f fileJSON
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("parsing tokenizer.json: %w", err)
	}
	if f.Version != nil && *f.Version != "1.0" {
		return nil, fmt.Errorf("unknown tokenizer.json version %q", *f.Version)
	}
	if isNull(f.Model) {
		return nil, errors.New("tokenizer.json has no model")
	}
	t := &Tokenizer{}
	var err error
	if t.model, err = parseModel(f.Model); err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	if !isNull(f.Normalizer) {
		if t.norm, err = parseNormalizer(f.Normalizer, 0); err != nil {
			return nil, fmt.Errorf("normalizer: %w", err)
		}
	}
	if !isNull(f.PreTokenizer) {
		if t.pre, err = parsePreTokenizer(f.PreTokenizer, 0); err != nil {
			return nil, fmt.Errorf("pre_tokenizer: %w", err)
		}
	}
	if !isNull(f.PostProcessor) {
		if t.post, err = parsePostProcessor(f.PostProcessor, 0); err != nil {
			return nil, fmt.Errorf("post_processor: %w", err)
		}
	}
	if !isNull(f.Decoder) {
		if t.dec, err = parseDecoder(f.Decoder, 0); err != nil {
			return nil, fmt.Errorf("decoder: %w", err)
		}
	}
	if !isNull(f.Padding) {
		var p struct {
			PadID     int    `json:"pad_id"`
			PadTypeID int    `json:"pad_type_id"`
			PadToken  string `json:"pad_token"`
		}
		if err := json.Unmarshal(f.Padding, &p); err != nil {
			return nil, fmt.Errorf("padding: %w", err)
		}
		t.filePad = &padParams{id: p.PadID, typeID: p.PadTypeID, token: p.PadToken}
	}
	t.addTokens(f.AddedTokens)
	if cfg != nil {
		t.cfg = cfg.Config
	}
	return t, nil
}

// addTokens adds tokens one by one the way the Rust deserializer does
// (AddedVocabulary::add_tokens): the ids in the file are not used; a token
// gets its id from the vocabulary, or the next free one after the model
// vocabulary.
func (t *Tokenizer) addTokens(list []AddedToken) {
	av := &t.added
	av.byContent = map[string]int32{}
	av.byID = map[int32]*AddedToken{}
	av.special = map[string]bool{}
	av.normForm = map[int32]string{}
	var specials, normals []*AddedToken
	modelSize := t.model.vocabSize()
	for i := range list {
		tk := list[i]
		if tk.Special && tk.Content != "" && !av.special[tk.Content] {
			c := tk
			specials = append(specials, &c)
			av.special[tk.Content] = true
		}
		if tk.Content == "" {
			continue
		}
		dup := false
		for _, old := range av.byID {
			if sameToken(old, &tk) {
				dup = true
				break
			}
		}
		if dup {
			continue
		}
		var id int32
		if v, ok := av.byContent[tk.Content]; ok {
			id = v
		} else if v, ok := t.model.tokenToID(tk.Content); ok {
			id = int32(v)
		} else {
			maxID, any := int32(-1), false
			for _, v := range av.byContent {
				if !any || v > maxID {
					maxID, any = v, true
				}
			}
			switch {
			case !any:
				id = int32(modelSize)
			case int(maxID) >= modelSize || modelSize == 0:
				id = maxID + 1
			default:
				id = int32(modelSize)
			}
		}
		av.byContent[tk.Content] = id
		if tk.Normalized && t.norm != nil {
			if n := t.normalizeStandalone(tk.Content); n != tk.Content {
				av.normForm[id] = n
			}
		}
		c := tk
		c.ID = int(id)
		av.byID[id] = &c
		if !av.special[tk.Content] {
			normals = append(normals, &c)
		}
	}
	// Matchers: special tokens first, then the others, split by normalized.
	var rawP, normP []string
	var rawT, normT []*AddedToken
	for _, tk := range append(specials, normals...) {
		id, ok := t.TokenToID(tk.Content)
		if !ok {
			continue
		}
		cur := av.byID[int32(id)]
		if cur == nil {
			c := *tk
			c.ID = id
			cur = &c
		}
		if tk.Normalized {
			normP = append(normP, t.normalizeStandalone(tk.Content))
			normT = append(normT, cur)
		} else {
			rawP = append(rawP, tk.Content)
			rawT = append(rawT, cur)
		}
	}
	av.raw = newMatcher(rawP, rawT)
	av.norm = newMatcher(normP, normT)
	// len(tokenizer): model vocabulary and added contents, distinct.
	t.vocabSize = modelSize
	for c := range av.byContent {
		if _, ok := t.model.tokenToID(c); !ok {
			t.vocabSize++
		}
	}
}

func sameToken(a, b *AddedToken) bool {
	return a.Content == b.Content && a.SingleWord == b.SingleWord && a.LStrip == b.LStrip &&
		a.RStrip == b.RStrip && a.Normalized == b.Normalized && a.Special == b.Special
}

// ---- components ----

const maxNesting = 32

func parseNormalizer(raw json.RawMessage, depth int) (normalizer, error) {
	if depth > maxNesting {
		return nil, errors.New("nested too deeply")
	}
	typ, err := typeOf(raw)
	if err != nil {
		return nil, err
	}
	switch typ {
	case "BertNormalizer":
		p := struct {
			CleanText    *bool `json:"clean_text"`
			Chinese      *bool `json:"handle_chinese_chars"`
			StripAccents *bool `json:"strip_accents"`
			Lowercase    *bool `json:"lowercase"`
		}{}
		if err := json.Unmarshal(raw, &p); err != nil {
			return nil, err
		}
		n := bertNorm{cleanText: boolOr(p.CleanText, true), chinese: boolOr(p.Chinese, true), lowercase: boolOr(p.Lowercase, true)}
		n.stripAccents = boolOr(p.StripAccents, n.lowercase)
		return n, nil
	case "NFC":
		return unicodeNorm{formNFC}, nil
	case "NFD":
		return unicodeNorm{formNFD}, nil
	case "NFKC":
		return unicodeNorm{formNFKC}, nil
	case "NFKD":
		return unicodeNorm{formNFKD}, nil
	case "Lowercase":
		return lowercaseNorm{}, nil
	case "StripAccents":
		return stripAccentsNorm{}, nil
	case "Strip":
		p := struct {
			Left  *bool `json:"strip_left"`
			Right *bool `json:"strip_right"`
		}{}
		if err := json.Unmarshal(raw, &p); err != nil {
			return nil, err
		}
		return stripNorm{left: boolOr(p.Left, true), right: boolOr(p.Right, true)}, nil
	case "Replace":
		p := struct {
			Pattern patternJSON `json:"pattern"`
			Content string      `json:"content"`
		}{}
		if err := json.Unmarshal(raw, &p); err != nil {
			return nil, err
		}
		pat, err := compilePattern(p.Pattern.String, p.Pattern.Regex)
		if err != nil {
			return nil, fmt.Errorf("Replace: %w", err)
		}
		return replaceNorm{pat: pat, content: []rune(p.Content)}, nil
	case "Prepend":
		p := struct {
			Prepend string `json:"prepend"`
		}{}
		if err := json.Unmarshal(raw, &p); err != nil {
			return nil, err
		}
		return prependNorm{[]rune(p.Prepend)}, nil
	case "ByteLevel":
		return byteLevelNorm{}, nil
	case "Sequence":
		p := struct {
			Normalizers []json.RawMessage `json:"normalizers"`
		}{}
		if err := json.Unmarshal(raw, &p); err != nil {
			return nil, err
		}
		var seq normSequence
		for i, r := range p.Normalizers {
			n, err := parseNormalizer(r, depth+1)
			if err != nil {
				return nil, fmt.Errorf("Sequence[%d]: %w", i, err)
			}
			seq = append(seq, n)
		}
		return seq, nil
	}
	return nil, fmt.Errorf("unsupported normalizer type %q", typ)
}

type patternJSON struct {
	String *string `json:"String"`
	Regex  *string `json:"Regex"`
}

func boolOr(p *bool, d bool) bool {
	if p == nil {
		return d
	}
	return *p
}

func parsePreTokenizer(raw json.RawMessage, depth int) (preTokenizer, error) {
	if depth > maxNesting {
		return nil, errors.New("nested too deeply")
	}
	typ, err := typeOf(raw)
	if err != nil {
		return nil, err
	}
	switch typ {
	case "BertPreTokenizer":
		return bertPre{}, nil
	case "Whitespace":
		return whitespacePre{}, nil
	case "WhitespaceSplit":
		return whitespaceSplitPre{}, nil
	case "ByteLevel":
		p := struct {
			AddPrefixSpace *bool `json:"add_prefix_space"`
			UseRegex       *bool `json:"use_regex"`
		}{}
		if err := json.Unmarshal(raw, &p); err != nil {
			return nil, err
		}
		return byteLevelPre{addPrefixSpace: boolOr(p.AddPrefixSpace, true), useRegex: boolOr(p.UseRegex, true)}, nil
	case "Punctuation":
		p := struct {
			Behavior *string `json:"behavior"`
		}{}
		if err := json.Unmarshal(raw, &p); err != nil {
			return nil, err
		}
		beh := behIsolated
		if p.Behavior != nil {
			b, ok := parseBehavior(*p.Behavior)
			if !ok {
				return nil, fmt.Errorf("Punctuation: unknown behavior %q", *p.Behavior)
			}
			beh = b
		}
		return punctuationPre{beh}, nil
	case "Digits":
		p := struct {
			Individual bool `json:"individual_digits"`
		}{}
		if err := json.Unmarshal(raw, &p); err != nil {
			return nil, err
		}
		return digitsPre{p.Individual}, nil
	case "CharDelimiterSplit":
		p := struct {
			Delimiter string `json:"delimiter"`
		}{}
		if err := json.Unmarshal(raw, &p); err != nil {
			return nil, err
		}
		if utf8.RuneCountInString(p.Delimiter) != 1 {
			return nil, fmt.Errorf("CharDelimiterSplit: delimiter %q is not one character", p.Delimiter)
		}
		r, _ := utf8.DecodeRuneInString(p.Delimiter)
		return charDelimiterPre{r}, nil
	case "Split":
		p := struct {
			Pattern  patternJSON `json:"pattern"`
			Behavior string      `json:"behavior"`
			Invert   bool        `json:"invert"`
		}{}
		if err := json.Unmarshal(raw, &p); err != nil {
			return nil, err
		}
		pat, err := compilePattern(p.Pattern.String, p.Pattern.Regex)
		if err != nil {
			return nil, fmt.Errorf("Split: %w", err)
		}
		beh, ok := parseBehavior(p.Behavior)
		if !ok {
			return nil, fmt.Errorf("Split: unknown behavior %q", p.Behavior)
		}
		return splitPre{pat: pat, beh: beh, invert: p.Invert}, nil
	case "Metaspace":
		p := struct {
			Replacement    *string `json:"replacement"`
			PrependScheme  *string `json:"prepend_scheme"`
			AddPrefixSpace *bool   `json:"add_prefix_space"`
			Split          *bool   `json:"split"`
		}{}
		if err := json.Unmarshal(raw, &p); err != nil {
			return nil, err
		}
		repl, scheme, err := metaspaceParams(p.Replacement, p.PrependScheme, p.AddPrefixSpace)
		if err != nil {
			return nil, err
		}
		return metaspacePre{repl: repl, scheme: scheme, split: boolOr(p.Split, true),
			replPat: literalPattern{[]byte(string(repl))}}, nil
	case "Sequence":
		p := struct {
			Pre []json.RawMessage `json:"pretokenizers"`
		}{}
		if err := json.Unmarshal(raw, &p); err != nil {
			return nil, err
		}
		var seq preSequence
		for i, r := range p.Pre {
			q, err := parsePreTokenizer(r, depth+1)
			if err != nil {
				return nil, fmt.Errorf("Sequence[%d]: %w", i, err)
			}
			seq = append(seq, q)
		}
		return seq, nil
	}
	return nil, fmt.Errorf("unsupported pre-tokenizer type %q", typ)
}

func metaspaceParams(replacement, scheme *string, addPrefix *bool) (rune, int, error) {
	repl := '▁'
	if replacement != nil {
		if utf8.RuneCountInString(*replacement) != 1 {
			return 0, 0, fmt.Errorf("Metaspace: replacement %q is not one character", *replacement)
		}
		repl, _ = utf8.DecodeRuneInString(*replacement)
	}
	sc := prependAlways
	switch {
	case scheme != nil:
		switch *scheme {
		case "always":
			sc = prependAlways
		case "first":
			sc = prependFirst
		case "never":
			sc = prependNever
		default:
			return 0, 0, fmt.Errorf("Metaspace: unknown prepend_scheme %q", *scheme)
		}
	case addPrefix != nil && !*addPrefix:
		sc = prependNever
	}
	return repl, sc, nil
}

type modelJSON struct {
	Type                    string            `json:"type"`
	Vocab                   json.RawMessage   `json:"vocab"`
	Merges                  []json.RawMessage `json:"merges"`
	UnkToken                *string           `json:"unk_token"`
	ContinuingSubwordPrefix *string           `json:"continuing_subword_prefix"`
	EndOfWordSuffix         *string           `json:"end_of_word_suffix"`
	MaxInputCharsPerWord    *int              `json:"max_input_chars_per_word"`
	FuseUnk                 bool              `json:"fuse_unk"`
	ByteFallback            bool              `json:"byte_fallback"`
	IgnoreMerges            bool              `json:"ignore_merges"`
}

func parseModel(raw json.RawMessage) (model, error) {
	var m modelJSON
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	typ := m.Type
	if typ == "" {
		switch {
		case m.Merges != nil:
			typ = "BPE"
		case m.ContinuingSubwordPrefix != nil || m.MaxInputCharsPerWord != nil:
			typ = "WordPiece"
		default:
			typ = "WordLevel"
		}
	}
	if typ == "Unigram" {
		return nil, errors.New("unsupported model type \"Unigram\"")
	}
	if typ != "WordPiece" && typ != "BPE" && typ != "WordLevel" {
		return nil, fmt.Errorf("unsupported model type %q", typ)
	}
	var vm map[string]int
	if err := json.Unmarshal(m.Vocab, &vm); err != nil {
		return nil, fmt.Errorf("%s vocab: %w", typ, err)
	}
	v, err := newVocabTable(vm, typ+" vocab")
	if err != nil {
		return nil, err
	}
	switch typ {
	case "WordPiece":
		unk := "[UNK]"
		if m.UnkToken != nil {
			unk = *m.UnkToken
		}
		prefix := "##"
		if m.ContinuingSubwordPrefix != nil {
			prefix = *m.ContinuingSubwordPrefix
		}
		maxChars := 100
		if m.MaxInputCharsPerWord != nil {
			maxChars = *m.MaxInputCharsPerWord
		}
		return newWordPiece(v, unk, prefix, maxChars), nil
	case "WordLevel":
		unk := "<unk>"
		if m.UnkToken != nil {
			unk = *m.UnkToken
		}
		return &wordLevel{vocabTable: v, unk: unk}, nil
	}
	b := &bpe{vocabTable: v, fuseUnk: m.FuseUnk, byteFallback: m.ByteFallback, ignoreMerges: m.IgnoreMerges}
	if m.UnkToken != nil {
		b.unk, b.hasUnk = *m.UnkToken, true
	}
	if m.ContinuingSubwordPrefix != nil {
		b.prefix = *m.ContinuingSubwordPrefix
	}
	if m.EndOfWordSuffix != nil {
		b.suffix = *m.EndOfWordSuffix
	}
	for i := 0; i < 256; i++ {
		b.byteIDs[i], b.fallbackIDs[i] = -1, -1
		if id, ok := v.ids[string(byteToRune[i])]; ok {
			b.byteIDs[i] = id
		}
		if id, ok := v.ids[fmt.Sprintf("<0x%02X>", i)]; ok {
			b.fallbackIDs[i] = id
		}
	}
	b.merges = make(map[uint64]uint64, len(m.Merges))
	for rank, mr := range m.Merges {
		var l, r string
		mr = bytes.TrimSpace(mr)
		switch {
		case len(mr) > 0 && mr[0] == '"':
			var s string
			if err := json.Unmarshal(mr, &s); err != nil {
				return nil, fmt.Errorf("BPE merges[%d]: %w", rank, err)
			}
			var ok bool
			l, r, ok = strings.Cut(s, " ")
			if !ok {
				return nil, fmt.Errorf("BPE merges[%d]: %q is not two tokens", rank, s)
			}
		default:
			var pr []string
			if err := json.Unmarshal(mr, &pr); err != nil || len(pr) != 2 {
				return nil, fmt.Errorf("BPE merges[%d]: want a pair of tokens", rank)
			}
			l, r = pr[0], pr[1]
		}
		a, okA := v.ids[l]
		c, okC := v.ids[r]
		if !okA || !okC {
			return nil, fmt.Errorf("BPE merges[%d]: %q %q not in the vocabulary", rank, l, r)
		}
		n, ok := v.ids[l+r]
		if !ok {
			return nil, fmt.Errorf("BPE merges[%d]: merged token %q not in the vocabulary", rank, l+r)
		}
		b.merges[uint64(uint32(a))<<32|uint64(uint32(c))] = uint64(rank)<<32 | uint64(uint32(n))
	}
	return b, nil
}

func parsePostProcessor(raw json.RawMessage, depth int) (postProcessor, error) {
	if depth > maxNesting {
		return nil, errors.New("nested too deeply")
	}
	typ, err := typeOf(raw)
	if err != nil {
		return nil, err
	}
	switch typ {
	case "TemplateProcessing":
		return parseTemplate(raw)
	case "BertProcessing", "RobertaProcessing":
		p := struct {
			Sep            [2]json.RawMessage `json:"sep"`
			Cls            [2]json.RawMessage `json:"cls"`
			TrimOffsets    *bool              `json:"trim_offsets"`
			AddPrefixSpace *bool              `json:"add_prefix_space"`
		}{}
		if err := json.Unmarshal(raw, &p); err != nil {
			return nil, err
		}
		sep, err := parseSpecialPair(p.Sep)
		if err != nil {
			return nil, fmt.Errorf("%s sep: %w", typ, err)
		}
		cls, err := parseSpecialPair(p.Cls)
		if err != nil {
			return nil, fmt.Errorf("%s cls: %w", typ, err)
		}
		if typ == "BertProcessing" {
			return &bertProc{cls: cls, sep: sep}, nil
		}
		return &robertaProc{cls: cls, sep: sep, trimOffsets: boolOr(p.TrimOffsets, true), addPrefixSpace: boolOr(p.AddPrefixSpace, true)}, nil
	case "ByteLevel":
		p := struct {
			TrimOffsets    *bool `json:"trim_offsets"`
			AddPrefixSpace *bool `json:"add_prefix_space"`
		}{}
		if err := json.Unmarshal(raw, &p); err != nil {
			return nil, err
		}
		return &byteLevelProc{trimOffsets: boolOr(p.TrimOffsets, true), addPrefixSpace: boolOr(p.AddPrefixSpace, true)}, nil
	case "Sequence":
		p := struct {
			Processors []json.RawMessage `json:"processors"`
		}{}
		if err := json.Unmarshal(raw, &p); err != nil {
			return nil, err
		}
		sq := &seqProc{}
		for i, r := range p.Processors {
			q, err := parsePostProcessor(r, depth+1)
			if err != nil {
				return nil, fmt.Errorf("Sequence[%d]: %w", i, err)
			}
			if bl, ok := q.(*byteLevelProc); ok && sq.last == nil {
				sq.trims = append(sq.trims, bl)
				continue
			}
			if sq.last != nil {
				return nil, errors.New("Sequence: more than one post-processor adds special tokens")
			}
			sq.last = q
		}
		return sq, nil
	}
	return nil, fmt.Errorf("unsupported post-processor type %q", typ)
}

func parseSpecialPair(p [2]json.RawMessage) (specialTok, error) {
	var s specialTok
	if err := json.Unmarshal(p[0], &s.tok); err != nil {
		return s, err
	}
	var id int64
	if err := json.Unmarshal(p[1], &id); err != nil {
		return s, err
	}
	if id < 0 || id > math.MaxInt32 {
		return s, fmt.Errorf("id %d out of range", id)
	}
	s.id = int32(id)
	return s, nil
}

func parseTemplate(raw json.RawMessage) (postProcessor, error) {
	p := struct {
		Single        json.RawMessage `json:"single"`
		Pair          json.RawMessage `json:"pair"`
		SpecialTokens map[string]struct {
			ID     string   `json:"id"`
			IDs    []int64  `json:"ids"`
			Tokens []string `json:"tokens"`
		} `json:"special_tokens"`
	}{}
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, err
	}
	specials := map[string][]specialTok{}
	for name, st := range p.SpecialTokens {
		if len(st.IDs) != len(st.Tokens) {
			return nil, fmt.Errorf("TemplateProcessing special token %q: %d ids but %d tokens", name, len(st.IDs), len(st.Tokens))
		}
		var toks []specialTok
		for i, id := range st.IDs {
			if id < 0 || id > math.MaxInt32 {
				return nil, fmt.Errorf("TemplateProcessing special token %q: id %d out of range", name, id)
			}
			toks = append(toks, specialTok{id: int32(id), tok: st.Tokens[i]})
		}
		specials[name] = toks
	}
	single, err := parseTemplatePieces(p.Single, specials)
	if err != nil {
		return nil, fmt.Errorf("TemplateProcessing single: %w", err)
	}
	pair, err := parseTemplatePieces(p.Pair, specials)
	if err != nil {
		return nil, fmt.Errorf("TemplateProcessing pair: %w", err)
	}
	return &templateProc{single: single, pair: pair}, nil
}

func parseTemplatePieces(raw json.RawMessage, specials map[string][]specialTok) ([]templatePiece, error) {
	if isNull(raw) {
		return nil, nil
	}
	var items []json.RawMessage
	raw = bytes.TrimSpace(raw)
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, err
		}
		for _, f := range strings.Fields(s) {
			b, _ := json.Marshal(f)
			items = append(items, b)
		}
	} else if err := json.Unmarshal(raw, &items); err != nil {
		return nil, err
	}
	var out []templatePiece
	for _, it := range items {
		var q templatePiece
		it = bytes.TrimSpace(it)
		if len(it) > 0 && it[0] == '"' {
			var s string
			if err := json.Unmarshal(it, &s); err != nil {
				return nil, err
			}
			var err error
			if q, err = parsePieceString(s); err != nil {
				return nil, err
			}
		} else {
			var pc struct {
				Sequence *struct {
					ID     string `json:"id"`
					TypeID int32  `json:"type_id"`
				} `json:"Sequence"`
				SpecialToken *struct {
					ID     string `json:"id"`
					TypeID int32  `json:"type_id"`
				} `json:"SpecialToken"`
			}
			if err := json.Unmarshal(it, &pc); err != nil {
				return nil, err
			}
			switch {
			case pc.Sequence != nil:
				q.typeID = pc.Sequence.TypeID
				switch pc.Sequence.ID {
				case "A":
					q.seq = 0
				case "B":
					q.seq = 1
				default:
					return nil, fmt.Errorf("unknown sequence %q", pc.Sequence.ID)
				}
			case pc.SpecialToken != nil:
				q.seq = -1
				q.typeID = pc.SpecialToken.TypeID
				q.special = []specialTok{{tok: pc.SpecialToken.ID}}
			default:
				return nil, fmt.Errorf("template piece %s is neither a Sequence nor a SpecialToken", it)
			}
		}
		if q.seq < 0 {
			name := q.special[0].tok
			st, ok := specials[name]
			if !ok {
				return nil, fmt.Errorf("special token %q is not in special_tokens", name)
			}
			q.special = st
		}
		out = append(out, q)
	}
	return out, nil
}

// parsePieceString reads the string form of a template piece: "$A", "$B:1",
// "[CLS]:0"...
func parsePieceString(s string) (templatePiece, error) {
	id, typ, hasType := strings.Cut(s, ":")
	var q templatePiece
	if hasType {
		v, err := strconv.ParseUint(typ, 10, 31)
		if err != nil {
			return q, fmt.Errorf("template piece %q: bad type id", s)
		}
		q.typeID = int32(v)
	}
	if rest, ok := strings.CutPrefix(id, "$"); ok {
		switch rest {
		case "", "A", "a":
			q.seq = 0
		case "B", "b":
			q.seq = 1
		default:
			v, err := strconv.ParseUint(rest, 10, 31)
			if err != nil {
				return q, fmt.Errorf("template piece %q: unknown sequence", s)
			}
			q.seq = 0
			if !hasType {
				q.typeID = int32(v)
			}
		}
		return q, nil
	}
	q.seq = -1
	q.special = []specialTok{{tok: id}}
	return q, nil
}

func parseDecoder(raw json.RawMessage, depth int) (decoder, error) {
	if depth > maxNesting {
		return nil, errors.New("nested too deeply")
	}
	typ, err := typeOf(raw)
	if err != nil {
		return nil, err
	}
	switch typ {
	case "WordPiece":
		p := struct {
			Prefix  *string `json:"prefix"`
			Cleanup *bool   `json:"cleanup"`
		}{}
		if err := json.Unmarshal(raw, &p); err != nil {
			return nil, err
		}
		prefix := "##"
		if p.Prefix != nil {
			prefix = *p.Prefix
		}
		return wordPieceDec{prefix: prefix, cleanup: boolOr(p.Cleanup, true)}, nil
	case "ByteLevel":
		return byteLevelDec{}, nil
	case "Metaspace":
		p := struct {
			Replacement    *string `json:"replacement"`
			PrependScheme  *string `json:"prepend_scheme"`
			AddPrefixSpace *bool   `json:"add_prefix_space"`
		}{}
		if err := json.Unmarshal(raw, &p); err != nil {
			return nil, err
		}
		repl, scheme, err := metaspaceParams(p.Replacement, p.PrependScheme, p.AddPrefixSpace)
		if err != nil {
			return nil, err
		}
		return metaspaceDec{repl: repl, dropFirst: scheme != prependNever}, nil
	case "BPEDecoder":
		p := struct {
			Suffix *string `json:"suffix"`
		}{}
		if err := json.Unmarshal(raw, &p); err != nil {
			return nil, err
		}
		suffix := "</w>"
		if p.Suffix != nil {
			suffix = *p.Suffix
		}
		return bpeDec{suffix}, nil
	case "Replace":
		p := struct {
			Pattern patternJSON `json:"pattern"`
			Content string      `json:"content"`
		}{}
		if err := json.Unmarshal(raw, &p); err != nil {
			return nil, err
		}
		if p.Pattern.String == nil {
			return nil, errors.New("Replace decoder: only String patterns are supported")
		}
		return replaceDec{from: *p.Pattern.String, to: p.Content}, nil
	case "Strip":
		p := struct {
			Content string `json:"content"`
			Start   int    `json:"start"`
			Stop    int    `json:"stop"`
		}{}
		if err := json.Unmarshal(raw, &p); err != nil {
			return nil, err
		}
		if utf8.RuneCountInString(p.Content) != 1 {
			return nil, fmt.Errorf("Strip decoder: content %q is not one character", p.Content)
		}
		r, _ := utf8.DecodeRuneInString(p.Content)
		return stripDec{content: r, start: max(p.Start, 0), stop: max(p.Stop, 0)}, nil
	case "Fuse":
		return fuseDec{}, nil
	case "ByteFallback":
		return byteFallbackDec{}, nil
	case "CTC":
		p := struct {
			Pad     *string `json:"pad_token"`
			Delim   *string `json:"word_delimiter_token"`
			Cleanup *bool   `json:"cleanup"`
		}{}
		if err := json.Unmarshal(raw, &p); err != nil {
			return nil, err
		}
		d := ctcDec{pad: "<pad>", delim: "|", cleanup: boolOr(p.Cleanup, true)}
		if p.Pad != nil {
			d.pad = *p.Pad
		}
		if p.Delim != nil {
			d.delim = *p.Delim
		}
		return d, nil
	case "Sequence":
		p := struct {
			Decoders []json.RawMessage `json:"decoders"`
		}{}
		if err := json.Unmarshal(raw, &p); err != nil {
			return nil, err
		}
		var seq decSequence
		for i, r := range p.Decoders {
			d, err := parseDecoder(r, depth+1)
			if err != nil {
				return nil, fmt.Errorf("Sequence[%d]: %w", i, err)
			}
			seq = append(seq, d)
		}
		return seq, nil
	}
	return nil, fmt.Errorf("unsupported decoder type %q", typ)
}

// ---- tokenizer_config.json, special_tokens_map.json, vocab.txt ----

// folderConfig is what the JSON side files of a folder say.
type folderConfig struct {
	Config
	// For the vocab.txt path.
	StripAccents         *bool
	TokenizeChineseChars *bool
	AddedTokensDecoder   []AddedToken // sorted by id
	Additional           []AddedToken
}

// tokenValue is a special token given as a string or as an AddedToken
// object.
type tokenValue struct {
	AddedToken
	set bool
}

func (v *tokenValue) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if string(b) == "null" {
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		v.set = true
		v.Normalized = false
		v.Special = true
		return json.Unmarshal(b, &v.Content)
	}
	var o struct {
		Content    string `json:"content"`
		SingleWord bool   `json:"single_word"`
		LStrip     bool   `json:"lstrip"`
		RStrip     bool   `json:"rstrip"`
		Normalized *bool  `json:"normalized"`
		Special    *bool  `json:"special"`
	}
	if err := json.Unmarshal(b, &o); err != nil {
		return err
	}
	v.set = true
	v.AddedToken = AddedToken{Content: o.Content, SingleWord: o.SingleWord, LStrip: o.LStrip, RStrip: o.RStrip,
		Normalized: boolOr(o.Normalized, false), Special: boolOr(o.Special, true)}
	return nil
}

type sideFile struct {
	ModelMaxLength            json.Number           `json:"model_max_length"`
	DoLowerCase               *bool                 `json:"do_lower_case"`
	ModelInputNames           []string              `json:"model_input_names"`
	PaddingSide               string                `json:"padding_side"`
	TruncationSide            string                `json:"truncation_side"`
	CleanUpTokenizationSpaces *bool                 `json:"clean_up_tokenization_spaces"`
	TokenizerClass            string                `json:"tokenizer_class"`
	StripAccents              *bool                 `json:"strip_accents"`
	TokenizeChineseChars      *bool                 `json:"tokenize_chinese_chars"`
	PadToken                  tokenValue            `json:"pad_token"`
	UnkToken                  tokenValue            `json:"unk_token"`
	ClsToken                  tokenValue            `json:"cls_token"`
	SepToken                  tokenValue            `json:"sep_token"`
	MaskToken                 tokenValue            `json:"mask_token"`
	BosToken                  tokenValue            `json:"bos_token"`
	EosToken                  tokenValue            `json:"eos_token"`
	AdditionalSpecialTokens   []tokenValue          `json:"additional_special_tokens"`
	AddedTokensDecoder        map[string]tokenValue `json:"added_tokens_decoder"`
}

// readFolderConfig reads tokenizer_config.json and special_tokens_map.json
// of dir; it returns nil when neither exists.
func readFolderConfig(dir string) (*folderConfig, bool, error) {
	var fc folderConfig
	found := false
	for _, name := range []string{"tokenizer_config.json", "special_tokens_map.json"} {
		path := filepath.Join(dir, name)
		data, err := os.ReadFile(path)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, false, fmt.Errorf("tokenizer: %w", err)
		}
		found = true
		var sf sideFile
		if err := json.Unmarshal(data, &sf); err != nil {
			return nil, false, fmt.Errorf("tokenizer: %s: %w", path, err)
		}
		fc.merge(&sf)
	}
	if !found {
		return nil, false, nil
	}
	return &fc, true, nil
}

func (fc *folderConfig) merge(sf *sideFile) {
	if sf.ModelMaxLength != "" {
		if v, err := sf.ModelMaxLength.Float64(); err == nil && v > 0 && v < 1e29 {
			fc.ModelMaxLength = int(v)
		}
	}
	if sf.DoLowerCase != nil {
		fc.DoLowerCase, fc.HasDoLowerCase = *sf.DoLowerCase, true
	}
	if sf.ModelInputNames != nil {
		fc.ModelInputNames = sf.ModelInputNames
	}
	if sf.PaddingSide != "" {
		fc.PaddingSide = sf.PaddingSide
	}
	if sf.TruncationSide != "" {
		fc.TruncationSide = sf.TruncationSide
	}
	if sf.CleanUpTokenizationSpaces != nil {
		fc.CleanUpTokenizationSpaces = *sf.CleanUpTokenizationSpaces
	}
	if sf.TokenizerClass != "" {
		fc.TokenizerClass = sf.TokenizerClass
	}
	if sf.StripAccents != nil {
		fc.StripAccents = sf.StripAccents
	}
	if sf.TokenizeChineseChars != nil {
		fc.TokenizeChineseChars = sf.TokenizeChineseChars
	}
	for _, r := range []struct {
		v   tokenValue
		dst *string
	}{{sf.PadToken, &fc.PadToken}, {sf.UnkToken, &fc.UnkToken}, {sf.ClsToken, &fc.ClsToken},
		{sf.SepToken, &fc.SepToken}, {sf.MaskToken, &fc.MaskToken}, {sf.BosToken, &fc.BosToken}, {sf.EosToken, &fc.EosToken}} {
		if r.v.set {
			*r.dst = r.v.Content
		}
	}
	for _, a := range sf.AdditionalSpecialTokens {
		if a.set {
			fc.Additional = append(fc.Additional, a.AddedToken)
		}
	}
	if len(sf.AddedTokensDecoder) > 0 {
		fc.AddedTokensDecoder = fc.AddedTokensDecoder[:0]
		for k, v := range sf.AddedTokensDecoder {
			id, err := strconv.Atoi(k)
			if err != nil || !v.set {
				continue
			}
			at := v.AddedToken
			at.ID = id
			fc.AddedTokensDecoder = append(fc.AddedTokensDecoder, at)
		}
		sort.Slice(fc.AddedTokensDecoder, func(i, j int) bool { return fc.AddedTokensDecoder[i].ID < fc.AddedTokensDecoder[j].ID })
	}
}

// LoadVocab builds a BERT WordPiece tokenizer from dir/vocab.txt and the
// folder's tokenizer_config.json / special_tokens_map.json /
// added_tokens.json, the pipeline transformers' BertConverter creates from
// the slow BertTokenizer.
func LoadVocab(dir string) (*Tokenizer, error) {
	path := filepath.Join(dir, "vocab.txt")
	data, err := readMaybeGzip(path)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	vocab := map[string]int{}
	lines := strings.Split(string(data), "\n")
	if len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	for i, l := range lines {
		vocab[l] = i
	}
	if len(vocab) == 0 {
		return nil, fmt.Errorf("tokenizer: %s is empty", path)
	}
	fc, _, err := readFolderConfig(dir)
	if err != nil {
		return nil, err
	}
	if fc == nil {
		fc = &folderConfig{}
	}
	role := func(v *string, d string) string {
		if *v == "" {
			*v = d
		}
		return *v
	}
	unk := role(&fc.UnkToken, "[UNK]")
	sep := role(&fc.SepToken, "[SEP]")
	pad := role(&fc.PadToken, "[PAD]")
	cls := role(&fc.ClsToken, "[CLS]")
	mask := role(&fc.MaskToken, "[MASK]")
	lower := true
	if fc.HasDoLowerCase {
		lower = fc.DoLowerCase
	} else {
		fc.DoLowerCase = true
	}
	v, err := newVocabTable(vocab, path)
	if err != nil {
		return nil, err
	}
	t := &Tokenizer{cfg: fc.Config}
	t.model = newWordPiece(v, unk, "##", 100)
	n := bertNorm{cleanText: true, chinese: boolOr(fc.TokenizeChineseChars, true), lowercase: lower}
	n.stripAccents = boolOr(fc.StripAccents, lower)
	t.norm = n
	t.pre = bertPre{}
	t.dec = wordPieceDec{prefix: "##", cleanup: true}
	clsID, ok1 := vocab[cls]
	sepID, ok2 := vocab[sep]
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("tokenizer: %s: %q or %q not in the vocabulary", path, cls, sep)
	}
	c := []specialTok{{id: int32(clsID), tok: cls}}
	s := []specialTok{{id: int32(sepID), tok: sep}}
	t.post = &templateProc{
		single: []templatePiece{{seq: -1, special: c}, {seq: 0}, {seq: -1, special: s}},
		pair:   []templatePiece{{seq: -1, special: c}, {seq: 0}, {seq: -1, special: s}, {seq: 1, typeID: 1}, {seq: -1, special: s, typeID: 1}},
	}
	// Added tokens: added_tokens_decoder (by id), legacy added_tokens.json,
	// then the special tokens not listed yet.
	list := append([]AddedToken(nil), fc.AddedTokensDecoder...)
	seen := map[string]bool{}
	for _, a := range list {
		seen[a.Content] = true
	}
	if data, err := os.ReadFile(filepath.Join(dir, "added_tokens.json")); err == nil {
		var m map[string]int
		if err := json.Unmarshal(data, &m); err != nil {
			return nil, fmt.Errorf("tokenizer: %s: %w", filepath.Join(dir, "added_tokens.json"), err)
		}
		var extra []AddedToken
		for tok, id := range m {
			if !seen[tok] {
				extra = append(extra, AddedToken{ID: id, Content: tok, Normalized: true})
				seen[tok] = true
			}
		}
		sort.Slice(extra, func(i, j int) bool { return extra[i].ID < extra[j].ID })
		list = append(list, extra...)
	}
	specials := append([]AddedToken{}, fc.Additional...)
	for _, r := range []string{unk, sep, pad, cls, mask} {
		specials = append(specials, AddedToken{Content: r, Special: true})
	}
	for _, a := range specials {
		if !seen[a.Content] {
			list = append(list, a)
			seen[a.Content] = true
		}
	}
	t.addTokens(list)
	return t, nil
}
