package main

// The task training commands: bioenc train embeddings | colbert | reranker |
// classifier | ner. Each builds a train.Task from a model folder and data
// (a file, or pairs mined from a corpus with package mining) and runs it
// with the engine's flags, checkpoints, logs and --resume (trainFlags).

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"bioencoder"
	"bioencoder/config"
	"bioencoder/eval"
	"bioencoder/mining"
	"bioencoder/nn"
	"bioencoder/tensor"
	"bioencoder/train"
)

// maxDataLine bounds one line of a training data file.
const maxDataLine = 64 << 20

// ---------------------------------------------------------------------------
// Training rows: --data files and mined pairs.

// trainRow is one training example before it becomes a task's example.
type trainRow struct {
	texts     []string  // the anchor or query first, then the positive / documents
	scores    []float32 // teacher scores of texts[1:]
	labels    []float32 // relevance labels of texts[1:] (reranker bce)
	embedding []float32 // teacher embedding (mse)
	// positiveFirst: texts[1] is the positive and the rest negatives
	// (anchor/positive rows, "texts" rows and mined pairs).
	positiveFirst bool
	where         string // "file:line" or "mined pair N", for errors
}

// rowJSON is every field a row of a --data file may have.
type rowJSON struct {
	Texts     []string  `json:"texts"`
	Anchor    *string   `json:"anchor"`
	Positive  *string   `json:"positive"`
	Negatives []string  `json:"negatives"`
	Query     *string   `json:"query"`
	Document  *string   `json:"document"`
	Documents []string  `json:"documents"`
	Scores    []float32 `json:"scores"`
	Score     *float32  `json:"score"`
	Labels    []float32 `json:"labels"`
	Label     *float32  `json:"label"`
	Text      *string   `json:"text"`
	Embedding []float32 `json:"embedding"`
}

const rowFormats = `Training data (--data, JSON Lines, optionally gzip'd), one object per line in one of these shapes:
  {"anchor": A, "positive": P, "negatives": [N1, ...]}    negatives optional
  {"texts": [A, P, N1, ...]}                               the same, by position
  {"query": Q, "documents": [D1, ...], "scores": [...]}    scores: teacher scores (kl); "labels": [...] for bce
  {"query": Q, "document": D, "label": 1}                  one pair (reranker bce); "score" for a teacher score
  {"text": T, "embedding": [...]}                          a teacher embedding (embeddings --loss mse)
Every row of a run must have the same number of texts (except reranker bce).`

// parseRow parses one line of a --data file.
func parseRow(b []byte) (trainRow, error) {
	var j rowJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return trainRow{}, fmt.Errorf("not a JSON object of a training row: %v", err)
	}
	shapes := 0
	for _, present := range []bool{j.Texts != nil, j.Anchor != nil, j.Query != nil, j.Text != nil} {
		if present {
			shapes++
		}
	}
	if shapes != 1 {
		return trainRow{}, errors.New(`want exactly one of "texts", "anchor" (+"positive"), "query" (+"document" or "documents") or "text"`)
	}
	var r trainRow
	switch {
	case j.Texts != nil:
		if len(j.Texts) == 0 {
			return trainRow{}, errors.New(`"texts" is empty`)
		}
		r.texts, r.positiveFirst = j.Texts, true
	case j.Anchor != nil:
		if j.Positive == nil {
			return trainRow{}, errors.New(`"anchor" without "positive"`)
		}
		r.texts = append([]string{*j.Anchor, *j.Positive}, j.Negatives...)
		r.positiveFirst = true
	case j.Query != nil:
		switch {
		case (j.Document == nil) == (j.Documents == nil):
			return trainRow{}, errors.New(`"query" needs exactly one of "document" or "documents"`)
		case j.Document != nil:
			r.texts = []string{*j.Query, *j.Document}
		default:
			if len(j.Documents) == 0 {
				return trainRow{}, errors.New(`"documents" is empty`)
			}
			r.texts = append([]string{*j.Query}, j.Documents...)
		}
	default:
		r.texts = []string{*j.Text}
	}
	if j.Negatives != nil && j.Anchor == nil {
		return trainRow{}, errors.New(`"negatives" goes with "anchor"`)
	}
	if j.Positive != nil && j.Anchor == nil {
		return trainRow{}, errors.New(`"positive" goes with "anchor"`)
	}
	pick := func(name string, many []float32, one *float32) ([]float32, error) {
		if many != nil && one != nil {
			return nil, fmt.Errorf("give %q or %q, not both", name+"s", name)
		}
		if one != nil {
			many = []float32{*one}
		}
		if many != nil && len(many) != len(r.texts)-1 {
			return nil, fmt.Errorf("%d %ss for %d candidate texts", len(many), name, len(r.texts)-1)
		}
		return many, nil
	}
	var err error
	if r.scores, err = pick("score", j.Scores, j.Score); err != nil {
		return trainRow{}, err
	}
	if r.labels, err = pick("label", j.Labels, j.Label); err != nil {
		return trainRow{}, err
	}
	if j.Embedding != nil && len(j.Embedding) == 0 {
		return trainRow{}, errors.New(`"embedding" is empty`)
	}
	r.embedding = j.Embedding
	return r, nil
}

// openData opens a data file, gunzipping it when it starts with the gzip
// magic bytes.
func openData(path string) (io.Reader, func() error, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	br := bufio.NewReaderSize(f, 1<<16)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("%s: %w", path, err)
		}
		return zr, func() error { zr.Close(); return f.Close() }, nil
	}
	return br, f.Close, nil
}

// eachLine calls fn with every non-blank line of a (possibly gzip'd) file;
// errors name the file and line.
func eachLine(path string, fn func(line int, b []byte) error) error {
	r, closeFn, err := openData(path)
	if err != nil {
		return err
	}
	defer closeFn()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 1<<16), maxDataLine)
	n := 0
	for sc.Scan() {
		n++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		if err := fn(n, b); err != nil {
			return fmt.Errorf("%s:%d: %w", path, n, err)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s: line %d: %w", path, n+1, err)
	}
	return nil
}

// readRows reads a --data file.
func readRows(path string) ([]trainRow, error) {
	var rows []trainRow
	err := eachLine(path, func(n int, b []byte) error {
		r, err := parseRow(b)
		if err != nil {
			return err
		}
		r.where = fmt.Sprintf("%s:%d", path, n)
		rows = append(rows, r)
		return nil
	})
	if err == nil && len(rows) == 0 {
		err = fmt.Errorf("%s: no training rows", path)
	}
	return rows, err
}

// sameWidth checks that every row has as many texts as the first, with at
// least min of them.
func sameWidth(rows []trainRow, least int, why string) error {
	for _, r := range rows {
		if len(r.texts) < least {
			return fmt.Errorf("%s: %d text(s); %s needs at least %d", r.where, len(r.texts), why, least)
		}
		if len(r.texts) != len(rows[0].texts) {
			return fmt.Errorf("%s has %d texts but %s has %d: every row needs the same number of candidates (negatives)",
				r.where, len(r.texts), rows[0].where, len(rows[0].texts))
		}
	}
	return nil
}

// ---------------------------------------------------------------------------
// Pair sources shared by embeddings, colbert and reranker.

type pairFlags struct {
	data      string
	pairs     string
	corpus    string
	field     string
	exclude   string
	sections  string
	query     string
	target    string
	index     string
	minRel    float64
	k1, b     float64
	negatives int
	negSkip   int
	negPool   int
	negMaxRel float64
	maxPairs  int
	teacher   string
}

func (p *pairFlags) register(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVar(&p.data, "data", "", "training rows, JSON Lines (formats below)")
	fs.StringVar(&p.pairs, "pairs", "", "mine pairs from --corpus instead: sections | bm25 | sections,bm25")
	fs.StringVar(&p.corpus, "corpus", "", "abstracts to mine pairs (and hard negatives) from: JSON Lines {\"id\", \"text\"} or text, optionally .gz")
	fs.StringVar(&p.field, "field", "text", "JSON Lines field of --corpus holding the text")
	fs.StringVar(&p.exclude, "exclude-ids-from", "auto", "drop --corpus records with integer id >= N; \"auto\": the PubMed Sections held-out tail for pubmed_abstracts.jsonl.gz, nothing otherwise; \"none\": keep all")
	fs.StringVar(&p.sections, "sections", mining.DefaultSectionPairs, "section pairs ANCHOR:POSITIVE,... for --pairs sections (fields: a section name, text, lead, lead:N; A|B falls back to B)")
	fs.StringVar(&p.query, "bm25-query", "BACKGROUND|lead", "--pairs bm25: the field each abstract is searched with (the anchor)")
	fs.StringVar(&p.target, "bm25-target", "", "--pairs bm25: the field of the matched abstract used as the positive (default: --bm25-query)")
	fs.StringVar(&p.index, "index-field", "text", "the field of every abstract that BM25 indexes (and hard negatives of --data rows are made of)")
	fs.Float64Var(&p.minRel, "bm25-min-rel", 0.3, "--pairs bm25: keep a match when its score is at least this fraction of the anchor abstract's own score")
	fs.Float64Var(&p.k1, "bm25-k1", mining.DefaultK1, "BM25 k1")
	fs.Float64Var(&p.b, "bm25-b", mining.DefaultB, "BM25 b")
	fs.IntVar(&p.negatives, "hard-negatives", 0, "BM25 hard negatives per pair, mined from --corpus")
	fs.IntVar(&p.negSkip, "negative-skip", 3, "skip this many top BM25 ranks before taking negatives (likely false negatives)")
	fs.IntVar(&p.negPool, "negative-pool", 0, "draw the negatives at random (seeded) from this many ranks after the skipped ones (0: take the next ones)")
	fs.Float64Var(&p.negMaxRel, "negative-max-rel", 0.95, "drop candidates scoring at least this fraction of the positive's score")
	fs.IntVar(&p.maxPairs, "max-pairs", 0, "use at most this many pairs (a seeded sample; 0: all)")
	fs.StringVar(&p.teacher, "teacher", "", "teacher model folder: embeddings for mse; scores for kl (a cross-encoder's logits, a ColBERT's MaxSim or a bi-encoder's dot product)")
}

// rows returns the training rows: the --data file, or pairs mined from the
// corpus; with --hard-negatives, BM25 negatives are added to each row.
func (p *pairFlags) rows(cmd *cobra.Command, seed uint64) ([]trainRow, error) {
	w := cmd.ErrOrStderr()
	switch {
	case p.data != "" && p.pairs != "":
		return nil, errors.New("give --data FILE or --pairs KIND --corpus FILE, not both")
	case p.data == "" && p.pairs == "":
		return nil, errors.New("give --data FILE, or --pairs sections|bm25 with --corpus FILE")
	case p.pairs != "" && p.corpus == "":
		return nil, errors.New("--pairs needs --corpus FILE to mine from")
	case p.negatives > 0 && p.corpus == "":
		return nil, errors.New("--hard-negatives needs --corpus FILE to mine them from")
	case p.negatives < 0:
		return nil, errors.New("--hard-negatives must be >= 0")
	case p.corpus != "" && p.pairs == "" && p.negatives == 0:
		return nil, errors.New("--corpus is read only with --pairs or --hard-negatives")
	}
	if p.data != "" {
		rows, err := readRows(p.data)
		if err != nil {
			return nil, err
		}
		rows = mining.Sample(rows, p.maxPairs, seed)
		fmt.Fprintf(w, "%d training rows from %s\n", len(rows), p.data)
		if p.negatives == 0 {
			return rows, nil
		}
		docs, err := p.docs(w)
		if err != nil {
			return nil, err
		}
		indexField, err := mining.ParseField(p.index)
		if err != nil {
			return nil, err
		}
		pairs := make([]mining.Pair, len(rows))
		for i, r := range rows {
			if !r.positiveFirst || len(r.texts) != 2 {
				return nil, fmt.Errorf("%s: --hard-negatives adds negatives to (anchor, positive) rows; this row has %d texts", r.where, len(r.texts))
			}
			pairs[i] = mining.Pair{Anchor: r.texts[0], Positive: r.texts[1], AnchorDoc: -1, PositiveDoc: -1, PositiveField: indexField}
		}
		m := mining.NewMiner(docs, indexField, p.k1, p.b)
		return p.withNegatives(w, m, pairs, seed)
	}

	kinds := strings.Split(p.pairs, ",")
	for i, k := range kinds {
		kinds[i] = strings.TrimSpace(k)
		if kinds[i] != "sections" && kinds[i] != "bm25" {
			return nil, fmt.Errorf("--pairs %q: want sections, bm25 or sections,bm25", p.pairs)
		}
	}
	indexField, err := mining.ParseField(p.index)
	if err != nil {
		return nil, fmt.Errorf("--index-field: %w", err)
	}
	docs, err := p.docs(w)
	if err != nil {
		return nil, err
	}
	var pairs []mining.Pair
	var m *mining.Miner
	miner := func() *mining.Miner {
		if m == nil {
			start := time.Now()
			m = mining.NewMiner(docs, indexField, p.k1, p.b)
			fmt.Fprintf(w, "BM25 index of %d documents (%d terms, %.0f tokens on average) in %s\n",
				len(docs), m.Index.Terms(), m.Index.AvgLen(), time.Since(start).Round(time.Millisecond))
		}
		return m
	}
	for _, kind := range kinds {
		start := time.Now()
		switch kind {
		case "sections":
			specs, err := mining.ParseSectionPairs(p.sections)
			if err != nil {
				return nil, fmt.Errorf("--sections: %w", err)
			}
			got := mining.SectionPairs(docs, specs)
			fmt.Fprintf(w, "%d section pairs (%s) in %s\n", len(got), p.sections, time.Since(start).Round(time.Millisecond))
			pairs = append(pairs, got...)
		case "bm25":
			q, err := mining.ParseField(p.query)
			if err != nil {
				return nil, fmt.Errorf("--bm25-query: %w", err)
			}
			var t mining.Field
			if p.target != "" {
				if t, err = mining.ParseField(p.target); err != nil {
					return nil, fmt.Errorf("--bm25-target: %w", err)
				}
			}
			if p.minRel <= 0 || p.minRel > 1 {
				return nil, fmt.Errorf("--bm25-min-rel %v: want a fraction in (0, 1]", p.minRel)
			}
			got := miner().SimilarPairs(mining.SimilarOptions{Query: q, Target: t, MinRel: p.minRel})
			fmt.Fprintf(w, "%d BM25 similar-abstract pairs (query %s, min-rel %.2f) in %s\n", len(got), q, p.minRel, time.Since(start).Round(time.Millisecond))
			pairs = append(pairs, got...)
		}
	}
	if len(pairs) == 0 {
		return nil, fmt.Errorf("no pairs mined from %s", p.corpus)
	}
	if p.maxPairs > 0 && p.maxPairs < len(pairs) {
		pairs = mining.Sample(pairs, p.maxPairs, seed)
		fmt.Fprintf(w, "using a sample of %d pairs (--max-pairs)\n", len(pairs))
	}
	if p.negatives > 0 {
		return p.withNegatives(w, miner(), pairs, seed)
	}
	rows := make([]trainRow, len(pairs))
	for i, pr := range pairs {
		rows[i] = trainRow{texts: []string{pr.Anchor, pr.Positive}, positiveFirst: true, where: fmt.Sprintf("mined pair %d", i+1)}
	}
	return rows, nil
}

// withNegatives mines BM25 hard negatives for pairs and returns the rows
// that got enough of them.
func (p *pairFlags) withNegatives(w io.Writer, m *mining.Miner, pairs []mining.Pair, seed uint64) ([]trainRow, error) {
	start := time.Now()
	skip := p.negSkip
	if skip == 0 {
		skip = -1 // mining's "no skip"
	}
	negs := m.HardNegatives(pairs, mining.NegativeOptions{N: p.negatives, Skip: skip, Pool: p.negPool, MaxRel: p.negMaxRel, Seed: seed})
	var rows []trainRow
	for i, pr := range pairs {
		if negs[i] == nil {
			continue
		}
		rows = append(rows, trainRow{texts: append([]string{pr.Anchor, pr.Positive}, negs[i]...), positiveFirst: true,
			where: fmt.Sprintf("mined pair %d", i+1)})
	}
	fmt.Fprintf(w, "%d of %d pairs got %d hard negatives (skipping the top %d ranks) in %s\n",
		len(rows), len(pairs), p.negatives, max(p.negSkip, 0), time.Since(start).Round(time.Millisecond))
	if len(rows) == 0 {
		return nil, errors.New("no pair got enough hard negatives; lower --hard-negatives or --negative-skip")
	}
	return rows, nil
}

// docs reads the corpus, leaving out the held-out tail (see --exclude-ids-from).
func (p *pairFlags) docs(w io.Writer) ([]mining.Doc, error) {
	start := time.Now()
	cut, err := resolveExclude(p.exclude, p.corpus, p.field, w)
	if err != nil {
		return nil, err
	}
	docs, skipped, err := mining.Load(p.corpus, p.field, cut)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(w, "%d documents from %s", len(docs), p.corpus)
	if cut >= 0 {
		fmt.Fprintf(w, "; %d with ids >= %d left out", skipped, cut)
	}
	fmt.Fprintf(w, " [%s]\n", time.Since(start).Round(time.Millisecond))
	return docs, nil
}

// resolveExclude turns an --exclude-ids-from value into an id cut (-1: keep
// everything). "auto" finds the PubMed Sections evaluation tail when the
// corpus is the pubmed_abstracts bundle, and keeps everything otherwise;
// "none" keeps everything, with a warning for that bundle.
func resolveExclude(spec, corpusPath, field string, w io.Writer) (int64, error) {
	switch spec {
	case "auto", "none":
		if !mining.IsPubMedAbstracts(corpusPath) {
			return -1, nil
		}
		if spec == "none" {
			fmt.Fprintf(w, "WARNING: --exclude-ids-from none: training on the PubMed Sections evaluation abstracts too; do not evaluate this model on PubMed Sections\n")
			return -1, nil
		}
		docs, _, err := mining.Load(corpusPath, field, -1)
		if err != nil {
			return 0, err
		}
		tail, err := mining.HeldOutTailStart(docs)
		if err != nil {
			return 0, fmt.Errorf("%s: finding the held-out tail: %w (give --exclude-ids-from N)", corpusPath, err)
		}
		fmt.Fprintf(w, "excluding ids >= %d of %s (the PubMed Sections evaluation tail)\n", tail, corpusPath)
		return tail, nil
	}
	n, err := strconv.ParseInt(spec, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("--exclude-ids-from %q: want auto, none or an id >= 0", spec)
	}
	return n, nil
}

// ---------------------------------------------------------------------------
// Teachers.

func loadTeacher(dir string) (*bioencoder.Model, error) {
	t, err := loadModel(dir)
	if err != nil {
		return nil, fmt.Errorf("--teacher: %w", err)
	}
	return t, nil
}

// teacherScores fills in the teacher's score of (texts[0], texts[k]) for
// every candidate of every row that has no scores yet: a cross-encoder's
// raw logit (before its activation), a ColBERT's MaxSim, or the dot product
// of a bi-encoder's embeddings (the similarity DistillKLDivLoss uses).
func teacherScores(ctx context.Context, w io.Writer, dir string, rows []trainRow) error {
	var todo []int
	for i, r := range rows {
		if r.scores == nil {
			if len(r.texts) < 2 {
				return fmt.Errorf("%s: a teacher scores (query, document...) rows; this one has one text", r.where)
			}
			todo = append(todo, i)
		}
	}
	if len(todo) == 0 {
		return nil
	}
	if dir == "" {
		return fmt.Errorf("%s has no teacher scores: add \"scores\" to the data or give --teacher DIR", rows[todo[0]].where)
	}
	t, err := loadTeacher(dir)
	if err != nil {
		return err
	}
	start := time.Now()
	switch t.Kind() {
	case bioencoder.CrossEncoder:
		var pairs []bioencoder.Pair
		for _, i := range todo {
			for _, d := range rows[i].texts[1:] {
				pairs = append(pairs, bioencoder.Pair{A: rows[i].texts[0], B: d})
			}
		}
		logits, err := t.Logits(ctx, pairs)
		if err != nil {
			return err
		}
		k := 0
		for _, i := range todo {
			s := make([]float32, len(rows[i].texts)-1)
			for j := range s {
				if len(logits[k]) != 1 {
					return fmt.Errorf("--teacher %s has %d outputs; a cross-encoder teacher needs one", dir, len(logits[k]))
				}
				s[j] = logits[k][0]
				k++
			}
			rows[i].scores = s
		}
	case bioencoder.ColBERT:
		for _, i := range todo {
			s, err := t.Score(ctx, rows[i].texts[:1], rows[i].texts[1:])
			if err != nil {
				return err
			}
			rows[i].scores = s[0]
		}
	case bioencoder.SentenceTransformer, bioencoder.Encoder:
		var queries, docs []string
		for _, i := range todo {
			queries = append(queries, rows[i].texts[0])
			docs = append(docs, rows[i].texts[1:]...)
		}
		qv, err := t.EmbedQuery(ctx, queries)
		if err != nil {
			return err
		}
		dv, err := t.EmbedDocument(ctx, docs)
		if err != nil {
			return err
		}
		k := 0
		for n, i := range todo {
			s := make([]float32, len(rows[i].texts)-1)
			for j := range s {
				s[j] = dot(qv[n], dv[k])
				k++
			}
			rows[i].scores = s
		}
	default:
		return fmt.Errorf("--teacher %s is a %v; kl needs a cross-encoder, ColBERT or embeddings teacher", dir, t.Kind())
	}
	fmt.Fprintf(w, "teacher %s (%v) scored %d rows in %s\n", dir, t.Kind(), len(todo), time.Since(start).Round(time.Millisecond))
	return nil
}

func dot(a, b []float32) float32 {
	var s float64
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return float32(s)
}

// ---------------------------------------------------------------------------
// bioenc train embeddings

var embTrain struct {
	trainFlags
	src         pairFlags
	model       string
	loss        string
	pooling     string
	dense       int
	normalize   bool
	scale       float64
	temperature float64
	maxLen      int
}

var trainEmbeddingsCmd = &cobra.Command{
	Use:   "embeddings",
	Short: "Train a sentence-transformers embeddings model (MNRL, MSE distillation, KL distillation)",
	Long: `Train a sentence embeddings model. Any encoder folder becomes a sentence-transformers folder
(Transformer + Pooling [+ Dense] [+ Normalize]); a sentence-transformers folder keeps its modules
unless --pooling, --dense or --normalize change them.

Losses (sentence-transformers'):
  mnrl  MultipleNegativesRankingLoss: (anchor, positive, negatives...) rows; cross-entropy over
        --scale x cosine against every positive and negative of the batch.
  mse   MSELoss: the student embedding regresses a teacher embedding, from the data file
        ({"text", "embedding"}) or from --teacher DIR (any embeddings model). If the widths differ a
        Dense projection to the teacher's width is added (or give --dense).
  kl    DistillKLDivLoss: (query, documents...) rows with teacher scores, from the data file
        ("scores") or --teacher DIR (a cross-encoder: raw logits).

Instead of --data, --pairs mines pairs from a corpus of structured abstracts (--corpus):
  sections  (BACKGROUND, CONCLUSIONS), (BACKGROUND, RESULTS), (RESULTS, CONCLUSIONS) of each abstract (--sections)
  bm25      each abstract's BACKGROUND and that of the other abstract BM25 ranks best for it, when its
            score is at least --bm25-min-rel of the abstract's own score
--hard-negatives N adds N BM25 negatives per pair (the positive's field of other abstracts ranked
high for the anchor, after skipping the top --negative-skip ranks). For pubmed_abstracts.jsonl.gz
the PubMed Sections evaluation tail is excluded by default (--exclude-ids-from auto).

` + rowFormats + `

Examples:
  bioenc train embeddings --model pretrained/ --pairs sections,bm25 --corpus pubmed_abstracts.jsonl.gz \
      --hard-negatives 1 --steps 2000 --batch-size 32 --lr 5e-5 --out embed/
  bioenc train embeddings --model small/ --loss mse --teacher big-embeddings/ --pairs sections --corpus abstracts.jsonl.gz --out distilled/
  bioenc train embeddings --model embed/ --loss kl --data scored.jsonl --out embed-kl/`,
	Args: cobra.NoArgs,
	RunE: func(cmd *cobra.Command, args []string) error {
		f := &embTrain
		if f.model == "" {
			return errors.New("--model is required")
		}
		if f.o.Out == "" {
			return errors.New("--out is required")
		}
		switch f.loss {
		case "mnrl", "mse", "kl":
		default:
			return fmt.Errorf("--loss %q: want mnrl, mse or kl", f.loss)
		}
		rows, err := f.src.rows(cmd, f.o.Seed)
		if err != nil {
			return err
		}
		var data []train.EmbedExample
		teacherDim, teacherUnit := 0, false
		switch f.loss {
		case "mnrl":
			if err := sameWidth(rows, 2, "mnrl (anchor, positive[, negatives])"); err != nil {
				return err
			}
			for _, r := range rows {
				data = append(data, train.EmbedExample{Texts: r.texts})
			}
		case "kl":
			if err := sameWidth(rows, 2, "kl (query, documents)"); err != nil {
				return err
			}
			if err := teacherScores(cmd.Context(), cmd.ErrOrStderr(), f.src.teacher, rows); err != nil {
				return err
			}
			for _, r := range rows {
				data = append(data, train.EmbedExample{Texts: r.texts, Scores: r.scores})
			}
		case "mse":
			if data, err = mseExamples(cmd, rows, f.src.teacher); err != nil {
				return err
			}
			teacherDim, teacherUnit = len(data[0].Target), unitVectors(data)
		}
		m, err := embeddingsModel(cmd, teacherDim, teacherUnit)
		if err != nil {
			return err
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "training %s (%d-d embeddings, %s parameters) with %s on %d rows\n",
			f.model, m.Dim(), thousands(int64(paramCount(m))), f.loss, len(data))
		task := &train.Embeddings{Model: m, Objective: f.loss, Scale: float32(f.scale), Temperature: f.temperature, Data: data}
		return f.run(cmd, task)
	},
}

func paramCount(m *bioencoder.Model) int {
	n := 0
	for _, ps := range m.Params() {
		n += len(ps.W)
	}
	return n
}

// mseExamples makes one example per text with its teacher embedding: from
// the row ("embedding", which covers every text of the row) or from the
// teacher model.
func mseExamples(cmd *cobra.Command, rows []trainRow, teacher string) ([]train.EmbedExample, error) {
	var data []train.EmbedExample
	var need []string
	seen := map[string]bool{}
	for _, r := range rows {
		if r.embedding != nil {
			data = append(data, train.EmbedExample{Texts: r.texts[:1], Target: r.embedding})
			for _, t := range r.texts[1:] {
				data = append(data, train.EmbedExample{Texts: []string{t}, Target: r.embedding})
			}
			continue
		}
		for _, t := range r.texts {
			if !seen[t] {
				seen[t] = true
				need = append(need, t)
			}
		}
	}
	if len(need) > 0 {
		if teacher == "" {
			return nil, errors.New("mse needs teacher embeddings: \"embedding\" in every data row, or --teacher DIR")
		}
		t, err := loadTeacher(teacher)
		if err != nil {
			return nil, err
		}
		start := time.Now()
		vecs, err := t.Embed(cmd.Context(), need)
		if err != nil {
			return nil, fmt.Errorf("--teacher %s: %w", teacher, err)
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "teacher %s embedded %d texts (%d-d) in %s\n", teacher, len(need), t.Dim(), time.Since(start).Round(time.Millisecond))
		for i, s := range need {
			data = append(data, train.EmbedExample{Texts: []string{s}, Target: vecs[i]})
		}
	}
	for i := range data {
		if len(data[i].Target) != len(data[0].Target) {
			return nil, fmt.Errorf("teacher embeddings of different widths (%d and %d)", len(data[0].Target), len(data[i].Target))
		}
	}
	return data, nil
}

// unitVectors reports whether every target has L2 norm 1 (the teacher
// normalises its embeddings).
func unitVectors(data []train.EmbedExample) bool {
	for _, d := range data {
		var s float64
		for _, v := range d.Target {
			s += float64(v) * float64(v)
		}
		if math.Abs(math.Sqrt(s)-1) > 1e-3 {
			return false
		}
	}
	return true
}

// embeddingsModel loads --model as a sentence-transformers model, building
// the modules when it is not one (or when flags change them). teacherDim >
// 0 is the width an mse student must produce; teacherUnit says whether the
// teacher's embeddings are normalised (the student's default then follows).
func embeddingsModel(cmd *cobra.Command, teacherDim int, teacherUnit bool) (*bioencoder.Model, error) {
	f := &embTrain
	fl := cmd.Flags()
	w := cmd.ErrOrStderr()
	m, err := loadWithMaxLength(f.model, f.maxLen)
	if err != nil {
		return nil, err
	}
	pool, dense, normalize := f.pooling, f.dense, f.normalize
	if teacherDim > 0 && !fl.Changed("normalize") {
		normalize = teacherUnit
	}
	if m.Kind() == bioencoder.SentenceTransformer {
		curPool, curNorm, err := stModules(m.Dir())
		if err != nil {
			return nil, err
		}
		rebuild := fl.Changed("pooling") && pool != curPool || fl.Changed("dense") ||
			normalize != curNorm && (fl.Changed("normalize") || teacherDim > 0) ||
			teacherDim > 0 && m.Dim() != teacherDim
		if !rebuild {
			return m, nil
		}
		if !fl.Changed("pooling") {
			if curPool == "" {
				return nil, fmt.Errorf("%s pools with several modes; give --pooling to rebuild its modules", m.Dir())
			}
			pool = curPool
		}
		fmt.Fprintf(w, "rebuilding the sentence-transformers modules of %s (pooling %s, normalize %v; any Dense layer is replaced)\n", m.Dir(), pool, normalize)
	} else {
		fmt.Fprintf(w, "making %s (a %v) a sentence-transformers model\n", m.Dir(), m.Kind())
	}
	if pool == "" {
		pool = "mean"
	}
	if teacherDim > 0 {
		switch {
		case dense > 0 && dense != teacherDim:
			return nil, fmt.Errorf("--dense %d differs from the teacher's %d dimensions", dense, teacherDim)
		case dense == 0 && m.Config().HiddenSize != teacherDim:
			dense = teacherDim
			fmt.Fprintf(w, "adding a Dense projection %d -> %d to match the teacher\n", m.Config().HiddenSize, dense)
		}
	}
	if err := m.MakeSentenceTransformer(pool, dense, normalize, f.o.Seed); err != nil {
		return nil, err
	}
	return m, nil
}

// stModules reads the pooling mode ("" when several are on) and whether a
// Normalize module is present from a sentence-transformers folder.
func stModules(dir string) (pool string, normalize bool, err error) {
	mods, err := config.LoadModules(dir)
	if err != nil {
		return "", false, err
	}
	for _, md := range mods {
		switch md.Type {
		case config.ModPooling:
			p, err := config.LoadPooling(filepath.Join(dir, md.Path))
			if err != nil {
				return "", false, err
			}
			if p.Modes() == 1 {
				switch {
				case p.Mean:
					pool = "mean"
				case p.CLS:
					pool = "cls"
				case p.Max:
					pool = "max"
				}
			}
		case config.ModNormalize:
			normalize = true
		}
	}
	return pool, normalize, nil
}

func loadWithMaxLength(dir string, maxLen int, opts ...bioencoder.Option) (*bioencoder.Model, error) {
	if maxLen > 0 {
		opts = append(opts, bioencoder.WithMaxLength(maxLen))
	}
	if dir == "" {
		return nil, errors.New("--model is required")
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("model folder %s does not exist or is not a folder", dir)
	}
	return bioencoder.Load(dir, opts...)
}

// ---------------------------------------------------------------------------
// bioenc train colbert

var colTrain struct {
	trainFlags
	src            pairFlags
	model, loss    string
	dim            int
	queryLength    int
	documentLength int
	maxLen         int
}

var trainColBERTCmd = &cobra.Command{
	Use:   "colbert",
	Short: "Train a PyLate ColBERT model (contrastive, or KL distillation of teacher scores)",
	Long: `Train a late-interaction (ColBERT) model and save it as a PyLate folder. An encoder that is not a
ColBERT model yet gets the "[Q] " / "[D] " prefix tokens and a bias-free Dense projection to --dim
(--query-length and --document-length set the lengths PyLate encodes with).

Losses (PyLate's):
  contrastive  cross-entropy over MaxSim scores against every document of the batch, the query's
               own first document being the target: (query, positive, negatives...) rows.
  kl           Distillation: min-max normalised MaxSim scores against teacher scores ("scores" in the
               data or --teacher DIR, a cross-encoder's logits).

Pairs come from --data or are mined with --pairs/--corpus as for 'bioenc train embeddings' (see its
help); --hard-negatives adds BM25 negatives.

` + rowFormats + `

Example:
  bioenc train colbert --model pretrained/ --pairs sections --corpus pubmed_abstracts.jsonl.gz \
      --hard-negatives 1 --dim 128 --steps 2000 --out colbert/`,
	Args: cobra.NoArgs,
	RunE: func(cmd *cobra.Command, args []string) error {
		f := &colTrain
		if f.model == "" {
			return errors.New("--model is required")
		}
		if f.o.Out == "" {
			return errors.New("--out is required")
		}
		if f.loss != "contrastive" && f.loss != "kl" {
			return fmt.Errorf("--loss %q: want contrastive or kl", f.loss)
		}
		rows, err := f.src.rows(cmd, f.o.Seed)
		if err != nil {
			return err
		}
		if err := sameWidth(rows, 2, f.loss+" (query, documents)"); err != nil {
			return err
		}
		if f.loss == "kl" {
			if len(rows[0].texts) < 3 {
				return errors.New("colbert kl normalises each query's scores over its documents: give at least two documents per query (e.g. --hard-negatives 2)")
			}
			if err := teacherScores(cmd.Context(), cmd.ErrOrStderr(), f.src.teacher, rows); err != nil {
				return err
			}
		}
		m, err := loadWithMaxLength(f.model, f.maxLen)
		if err != nil {
			return err
		}
		if m.Kind() != bioencoder.ColBERT {
			if f.dim <= 0 || f.queryLength < 2 || f.documentLength < 2 {
				return errors.New("--dim must be positive and --query-length, --document-length at least 2")
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "making %s (a %v) a ColBERT model: dim %d, query length %d, document length %d\n",
				m.Dir(), m.Kind(), f.dim, f.queryLength, f.documentLength)
			if err := os.MkdirAll(f.o.Out, 0o755); err != nil {
				return err
			}
			if err := m.MakeColBERT(f.dim, f.queryLength, f.documentLength, f.o.Seed, filepath.Join(f.o.Out, ".colbert-tokenizer")); err != nil {
				return err
			}
		} else if cmd.Flags().Changed("dim") || cmd.Flags().Changed("query-length") || cmd.Flags().Changed("document-length") {
			fmt.Fprintf(cmd.ErrOrStderr(), "note: %s is a ColBERT model already; --dim, --query-length and --document-length are ignored\n", m.Dir())
		}
		data := make([]train.EmbedExample, len(rows))
		for i, r := range rows {
			data[i] = train.EmbedExample{Texts: r.texts, Scores: r.scores}
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "training %s (%s parameters) with %s on %d rows\n", f.model, thousands(int64(paramCount(m))), f.loss, len(data))
		return f.run(cmd, train.NewColBERT(m, f.loss, data))
	},
}

// ---------------------------------------------------------------------------
// bioenc train reranker

var rrTrain struct {
	trainFlags
	src         pairFlags
	model, loss string
	temperature float64
	maxLen      int
}

var trainRerankerCmd = &cobra.Command{
	Use:   "reranker",
	Short: "Train a cross-encoder reranker (binary cross-entropy, or listwise KL distillation)",
	Long: `Train a cross-encoder that scores (query, document) pairs. An encoder that is not a cross-encoder
gets a fresh one-output classification head (Sigmoid activation, as sentence-transformers' CrossEncoder).

Losses:
  bce  BinaryCrossEntropyLoss on each pair's logit. Labels come from "label"/"labels" in the data; rows
       given as (anchor, positive, negatives...) - and mined pairs - are labelled 1 for the positive
       and 0 for every negative (add BM25 negatives with --hard-negatives).
  kl   listwise distillation: KL between softmax(teacher/T) and softmax(logits/T) over each query's
       documents; teacher scores from the data ("scores") or --teacher DIR.

Pairs come from --data or are mined with --pairs/--corpus as for 'bioenc train embeddings'.

` + rowFormats + `

Example:
  bioenc train reranker --model pretrained/ --pairs sections --corpus pubmed_abstracts.jsonl.gz \
      --hard-negatives 3 --steps 2000 --out reranker/`,
	Args: cobra.NoArgs,
	RunE: func(cmd *cobra.Command, args []string) error {
		f := &rrTrain
		if f.model == "" {
			return errors.New("--model is required")
		}
		if f.o.Out == "" {
			return errors.New("--out is required")
		}
		rows, err := f.src.rows(cmd, f.o.Seed)
		if err != nil {
			return err
		}
		data := make([]train.RerankExample, len(rows))
		switch f.loss {
		case "bce":
			for i, r := range rows {
				if len(r.texts) < 2 {
					return fmt.Errorf("%s: a reranker row needs a query and at least one document", r.where)
				}
				labels := r.labels
				if labels == nil {
					if !r.positiveFirst {
						return fmt.Errorf("%s: bce needs \"label\"/\"labels\" for (query, document) rows", r.where)
					}
					labels = make([]float32, len(r.texts)-1)
					labels[0] = 1
				}
				for _, l := range labels {
					if l < 0 || l > 1 {
						return fmt.Errorf("%s: label %v is not in [0, 1]", r.where, l)
					}
				}
				data[i] = train.RerankExample{Query: r.texts[0], Docs: r.texts[1:], Labels: labels}
			}
		case "kl":
			if err := sameWidth(rows, 3, "kl (a query with at least two documents)"); err != nil {
				return err
			}
			if err := teacherScores(cmd.Context(), cmd.ErrOrStderr(), f.src.teacher, rows); err != nil {
				return err
			}
			for i, r := range rows {
				data[i] = train.RerankExample{Query: r.texts[0], Docs: r.texts[1:], Labels: r.scores}
			}
		default:
			return fmt.Errorf("--loss %q: want bce or kl", f.loss)
		}
		m, err := loadWithMaxLength(f.model, f.maxLen)
		if err != nil {
			return err
		}
		if m.Kind() != bioencoder.CrossEncoder {
			fmt.Fprintf(cmd.ErrOrStderr(), "adding a cross-encoder head to %s (a %v)\n", f.model, m.Kind())
			if m, err = bioencoder.NewHead(f.model, bioencoder.CrossEncoder, nil, f.o.Seed, maxLenOpts(f.maxLen)...); err != nil {
				return err
			}
		}
		task := train.NewReranker(m, f.loss, data)
		task.Temperature = f.temperature
		fmt.Fprintf(cmd.ErrOrStderr(), "training %s (%s parameters) with %s on %d rows\n", f.model, thousands(int64(paramCount(m))), f.loss, len(data))
		return f.run(cmd, task)
	},
}

func maxLenOpts(n int) []bioencoder.Option {
	if n > 0 {
		return []bioencoder.Option{bioencoder.WithMaxLength(n)}
	}
	return nil
}

// ---------------------------------------------------------------------------
// bioenc train classifier

var clsTrain struct {
	trainFlags
	model, data, dev      string
	textField, pairField  string
	labelField, labelList string
	maxLen                int
}

// labelledRow is one classification example as read.
type labelledRow struct {
	text, pair, label string
	where             string
}

var trainClassifierCmd = &cobra.Command{
	Use:   "classifier",
	Short: "Fine-tune a sequence classifier on a labelled CSV or JSON Lines file",
	Long: `Fine-tune a sequence classifier (cross-entropy) from an encoder folder: a fresh classification head
is added (a classifier folder with the same labels is trained further). The data is a CSV file with a
header row, or JSON Lines (detected from the name: .csv / .tsv / .jsonl, else from the content),
optionally gzip'd; --text-field and --label-field name the columns (--pair-field adds a second text
for pair classification). Label names are kept as the model's id2label: the sorted distinct values
(numerically when they are all numbers), or the order given by --labels a,b,c. With --dev, accuracy
and loss on that file are logged at --eval-every and at the end.

Examples:
  bioenc train classifier --model pretrained/ --data medical_tc_test.csv.gz \
      --text-field medical_abstract --label-field condition_label --epochs 3 --out medical-cls/
  bioenc train classifier --model pretrained/ --data chemprot_train.jsonl.gz --dev chemprot_dev.jsonl.gz --out chemprot/`,
	Args: cobra.NoArgs,
	RunE: func(cmd *cobra.Command, args []string) error {
		f := &clsTrain
		if f.model == "" || f.data == "" {
			return errors.New("--model and --data are required")
		}
		if f.o.Out == "" {
			return errors.New("--out is required")
		}
		rows, err := readLabelled(f.data, f.textField, f.pairField, f.labelField)
		if err != nil {
			return err
		}
		names, err := labelNames(rows, f.labelList)
		if err != nil {
			return err
		}
		texts, labels, err := classExamples(rows, names)
		if err != nil {
			return err
		}
		var dev struct {
			texts  []bioencoder.Pair
			labels []int
		}
		if f.dev != "" {
			drows, err := readLabelled(f.dev, f.textField, f.pairField, f.labelField)
			if err != nil {
				return err
			}
			if dev.texts, dev.labels, err = classExamples(drows, names); err != nil {
				return err
			}
		}
		m, err := headModel(cmd, f.model, bioencoder.Classifier, names, f.o.Seed, f.maxLen)
		if err != nil {
			return err
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "%d examples, %d labels %q\n", len(texts), len(names), names)
		var task train.Task = train.NewClassifier(m, texts, labels)
		if f.dev != "" {
			task = &evalTask{Task: task, eval: func(ctx context.Context) (map[string]float64, error) {
				return classifierDev(ctx, m, dev.texts, dev.labels)
			}}
		}
		return f.run(cmd, task)
	},
}

// readLabelled reads (text[, pair], label) rows from a CSV (header row) or
// JSON Lines file.
func readLabelled(path, textField, pairField, labelField string) ([]labelledRow, error) {
	name := strings.ToLower(strings.TrimSuffix(strings.ToLower(path), ".gz"))
	jsonl := strings.HasSuffix(name, ".jsonl") || strings.HasSuffix(name, ".json") || strings.HasSuffix(name, ".ndjson")
	isCSV := strings.HasSuffix(name, ".csv") || strings.HasSuffix(name, ".tsv")
	if !jsonl && !isCSV {
		r, closeFn, err := openData(path)
		if err != nil {
			return nil, err
		}
		head, _ := bufio.NewReader(r).Peek(1 << 10)
		closeFn()
		jsonl = len(bytes.TrimSpace(head)) > 0 && bytes.TrimSpace(head)[0] == '{'
	}
	var rows []labelledRow
	var err error
	if jsonl {
		rows, err = readLabelledJSONL(path, textField, pairField, labelField)
	} else {
		rows, err = readLabelledCSV(path, strings.HasSuffix(name, ".tsv"), textField, pairField, labelField)
	}
	if err == nil && len(rows) == 0 {
		err = fmt.Errorf("%s: no examples", path)
	}
	return rows, err
}

func readLabelledJSONL(path, textField, pairField, labelField string) ([]labelledRow, error) {
	var rows []labelledRow
	err := eachLine(path, func(n int, b []byte) error {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(b, &m); err != nil {
			return fmt.Errorf("not a JSON object: %v", err)
		}
		get := func(field string) (string, error) {
			raw, ok := m[field]
			if !ok || string(raw) == "null" {
				return "", fmt.Errorf("no %q field", field)
			}
			var s string
			if json.Unmarshal(raw, &s) == nil {
				return s, nil
			}
			switch raw[0] {
			case '{', '[':
				return "", fmt.Errorf("field %q is not a string, number or boolean", field)
			}
			return string(raw), nil // a number or boolean, as written
		}
		var r labelledRow
		var err error
		if r.text, err = get(textField); err != nil {
			return err
		}
		if r.label, err = get(labelField); err != nil {
			return err
		}
		if pairField != "" {
			if r.pair, err = get(pairField); err != nil {
				return err
			}
		}
		r.where = fmt.Sprintf("%s:%d", path, n)
		rows = append(rows, r)
		return nil
	})
	return rows, err
}

func readLabelledCSV(path string, tsv bool, textField, pairField, labelField string) ([]labelledRow, error) {
	in, closeFn, err := openData(path)
	if err != nil {
		return nil, err
	}
	defer closeFn()
	cr := csv.NewReader(in)
	if tsv {
		cr.Comma = '\t'
	}
	head, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("%s: header: %w", path, err)
	}
	col := func(name string) (int, error) {
		for i, h := range head {
			if strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")) == name {
				return i, nil
			}
		}
		return 0, fmt.Errorf("%s: no column %q in the header %q", path, name, head)
	}
	ti, err := col(textField)
	if err != nil {
		return nil, err
	}
	li, err := col(labelField)
	if err != nil {
		return nil, err
	}
	pi := -1
	if pairField != "" {
		if pi, err = col(pairField); err != nil {
			return nil, err
		}
	}
	var rows []labelledRow
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		line, _ := cr.FieldPos(0)
		r := labelledRow{text: rec[ti], label: strings.TrimSpace(rec[li]), where: fmt.Sprintf("%s:%d", path, line)}
		if pi >= 0 {
			r.pair = rec[pi]
		}
		rows = append(rows, r)
	}
	return rows, nil
}

// labelNames returns the label list: --labels as given, or the sorted
// distinct labels of the data (numerically when all are numbers).
func labelNames(rows []labelledRow, list string) ([]string, error) {
	if list != "" {
		var names []string
		seen := map[string]bool{}
		for _, n := range strings.Split(list, ",") {
			n = strings.TrimSpace(n)
			if n == "" || seen[n] {
				return nil, fmt.Errorf("--labels %q: empty or repeated label %q", list, n)
			}
			seen[n] = true
			names = append(names, n)
		}
		return names, nil
	}
	set := map[string]bool{}
	for _, r := range rows {
		set[r.label] = true
	}
	names := make([]string, 0, len(set))
	numeric := true
	for n := range set {
		names = append(names, n)
		if _, err := strconv.ParseFloat(n, 64); err != nil {
			numeric = false
		}
	}
	sort.Slice(names, func(i, j int) bool {
		if numeric {
			a, _ := strconv.ParseFloat(names[i], 64)
			b, _ := strconv.ParseFloat(names[j], 64)
			if a != b {
				return a < b
			}
		}
		return names[i] < names[j]
	})
	if len(names) < 2 {
		return nil, fmt.Errorf("the data has %d distinct label(s); a classifier needs at least 2", len(names))
	}
	return names, nil
}

func classExamples(rows []labelledRow, names []string) ([]bioencoder.Pair, []int, error) {
	index := map[string]int{}
	for i, n := range names {
		index[n] = i
	}
	texts := make([]bioencoder.Pair, len(rows))
	labels := make([]int, len(rows))
	for i, r := range rows {
		l, ok := index[r.label]
		if !ok {
			return nil, nil, fmt.Errorf("%s: label %q is not one of %q", r.where, r.label, names)
		}
		texts[i], labels[i] = bioencoder.Pair{A: r.text, B: r.pair}, l
	}
	return texts, labels, nil
}

// headModel adds a fresh head of kind with labels to the encoder in dir,
// or continues with dir itself when it already is such a model with the
// same labels.
func headModel(cmd *cobra.Command, dir string, kind bioencoder.Kind, labels []string, seed uint64, maxLen int) (*bioencoder.Model, error) {
	m, err := loadWithMaxLength(dir, maxLen)
	if err != nil {
		return nil, err
	}
	if m.Kind() == kind && slices.Equal(m.Config().ID2Label, labels) {
		fmt.Fprintf(cmd.ErrOrStderr(), "continuing to train %s (a %v with the same labels)\n", dir, kind)
		return m, nil
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "adding a fresh %v head to %s\n", kind, dir)
	return bioencoder.NewHead(dir, kind, labels, seed, maxLenOpts(maxLen)...)
}

// evalTask adds held-out evaluation to a task.
type evalTask struct {
	train.Task
	eval func(ctx context.Context) (map[string]float64, error)
}

func (e *evalTask) Evaluate(ctx context.Context) (map[string]float64, error) { return e.eval(ctx) }

// classifierDev is accuracy and mean cross-entropy on dev data.
func classifierDev(ctx context.Context, m *bioencoder.Model, texts []bioencoder.Pair, labels []int) (map[string]float64, error) {
	logits, err := m.Logits(ctx, texts)
	if err != nil {
		return nil, err
	}
	correct, loss := 0, 0.0
	for i, l := range logits {
		mx := math.Inf(-1)
		best := 0
		for j, v := range l {
			if float64(v) > mx {
				mx, best = float64(v), j
			}
		}
		s := 0.0
		for _, v := range l {
			s += math.Exp(float64(v) - mx)
		}
		loss += mx + math.Log(s) - float64(l[labels[i]])
		if best == labels[i] {
			correct++
		}
	}
	n := float64(len(logits))
	return map[string]float64{"dev_accuracy": float64(correct) / n, "dev_loss": loss / n}, nil
}

// ---------------------------------------------------------------------------
// bioenc train ner

var nerTrain struct {
	trainFlags
	model, data, dev, scheme string
	maxLen                   int
}

var trainNERCmd = &cobra.Command{
	Use:   "ner",
	Short: "Fine-tune a token classifier (NER) on IOB/IOB2 word<TAB>tag files",
	Long: `Fine-tune a token classifier from an encoder folder on "word<TAB>tag" lines with blank lines between
sentences (IOB or IOB2 tags, optionally gzip'd). Each word's label goes to its first sub-token; the
other sub-tokens take no part in the loss. The label list is O first, then the other tags of the
training (and --dev) data, sorted. With --dev, entity-level precision, recall and F1 (exact span and
type; --scheme iob2 strict or iob lenient decoding) are logged at --eval-every and at the end.

Example:
  bioenc train ner --model pretrained/ --data ncbi_disease_train.tsv.gz --dev ncbi_disease_devel.tsv.gz \
      --epochs 3 --out ner/`,
	Args: cobra.NoArgs,
	RunE: func(cmd *cobra.Command, args []string) error {
		f := &nerTrain
		if f.model == "" || f.data == "" {
			return errors.New("--model and --data are required")
		}
		if f.o.Out == "" {
			return errors.New("--out is required")
		}
		var scheme eval.Scheme
		switch f.scheme {
		case "iob2":
			scheme = eval.IOB2
		case "iob":
			scheme = eval.IOB
		default:
			return fmt.Errorf("--scheme %q: want iob2 or iob", f.scheme)
		}
		sents, err := readIOBFile(f.data)
		if err != nil {
			return err
		}
		var dev []eval.Sentence
		if f.dev != "" {
			if dev, err = readIOBFile(f.dev); err != nil {
				return err
			}
		}
		tags := tagList(sents, dev)
		index := map[string]int{}
		for i, t := range tags {
			index[t] = i
		}
		words := make([][]string, len(sents))
		labels := make([][]int, len(sents))
		for i, s := range sents {
			words[i] = s.Words
			labels[i] = make([]int, len(s.Tags))
			for j, t := range s.Tags {
				labels[i][j] = index[t]
			}
		}
		m, err := headModel(cmd, f.model, bioencoder.TokenClassifier, tags, f.o.Seed, f.maxLen)
		if err != nil {
			return err
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "%d sentences, labels %q\n", len(sents), tags)
		var task train.Task = train.NewTagger(m, words, labels)
		if len(dev) > 0 {
			task = &evalTask{Task: task, eval: func(ctx context.Context) (map[string]float64, error) {
				return nerDev(ctx, m, tags, dev, scheme)
			}}
		}
		return f.run(cmd, task)
	},
}

func readIOBFile(path string) ([]eval.Sentence, error) {
	r, closeFn, err := openData(path)
	if err != nil {
		return nil, err
	}
	defer closeFn()
	s, err := eval.ReadIOB(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// tagList is O followed by the other tags of the data, sorted.
func tagList(sets ...[]eval.Sentence) []string {
	set := map[string]bool{}
	for _, ss := range sets {
		for _, s := range ss {
			for _, t := range s.Tags {
				if t != "O" {
					set[t] = true
				}
			}
		}
	}
	tags := make([]string, 0, len(set)+1)
	for t := range set {
		tags = append(tags, t)
	}
	sort.Strings(tags)
	return append([]string{"O"}, tags...)
}

// nerDev tags the dev sentences (each word by its first sub-token; words
// cut off by truncation get O) and scores entities.
func nerDev(ctx context.Context, m *bioencoder.Model, tags []string, dev []eval.Sentence, scheme eval.Scheme) (map[string]float64, error) {
	var ws tensor.Workspace
	g := nn.NewGraph(&ws, false)
	gold := make([][]string, len(dev))
	pred := make([][]string, len(dev))
	const chunk = 32
	for lo := 0; lo < len(dev); lo += chunk {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		hi := min(lo+chunk, len(dev))
		sents := make([][]string, hi-lo)
		for i := range sents {
			sents[i] = dev[lo+i].Words
		}
		g.Reset()
		logits, first, _, err := m.WordLogitsGraph(g, sents)
		if err != nil {
			return nil, err
		}
		for i := range first {
			p := make([]string, len(first[i]))
			for j, row := range first[i] {
				p[j] = "O"
				if row >= 0 {
					r := logits.Data[row*logits.Cols : (row+1)*logits.Cols]
					best := 0
					for k, v := range r {
						if v > r[best] {
							best = k
						}
					}
					p[j] = tags[best]
				}
			}
			gold[lo+i], pred[lo+i] = dev[lo+i].Tags, p
		}
	}
	prf, err := eval.EntityPRF(gold, pred, scheme)
	if err != nil {
		return nil, err
	}
	return map[string]float64{"dev_precision": prf.Precision, "dev_recall": prf.Recall, "dev_f1": prf.F1}, nil
}

// ---------------------------------------------------------------------------

func init() {
	{
		f := &embTrain
		f.register(trainEmbeddingsCmd, 5e-5, 16)
		f.src.register(trainEmbeddingsCmd)
		fs := trainEmbeddingsCmd.Flags()
		modelFlag(trainEmbeddingsCmd, &f.model)
		fs.StringVar(&f.loss, "loss", "mnrl", "mnrl | mse | kl")
		fs.StringVar(&f.pooling, "pooling", "", "mean | cls | max (default: the folder's, or mean)")
		fs.IntVar(&f.dense, "dense", 0, "add a Dense projection to this many dimensions (mse: the teacher's width)")
		fs.BoolVar(&f.normalize, "normalize", true, "end with a Normalize module (mse: follows the teacher unless given)")
		fs.Float64Var(&f.scale, "scale", 20, "mnrl: similarity scale (1/temperature)")
		fs.Float64Var(&f.temperature, "temperature", 1, "kl: softmax temperature")
		fs.IntVar(&f.maxLen, "max-length", 0, "tokens per text (0: the model's max_seq_length); saved with the model")
		trainCmd.AddCommand(trainEmbeddingsCmd)
	}
	{
		f := &colTrain
		f.register(trainColBERTCmd, 5e-5, 16)
		f.src.register(trainColBERTCmd)
		fs := trainColBERTCmd.Flags()
		modelFlag(trainColBERTCmd, &f.model)
		fs.StringVar(&f.loss, "loss", "contrastive", "contrastive | kl")
		fs.IntVar(&f.dim, "dim", 128, "token vector width of a new ColBERT projection")
		fs.IntVar(&f.queryLength, "query-length", 32, "query tokens of a new ColBERT model (PyLate query_length)")
		fs.IntVar(&f.documentLength, "document-length", 180, "document tokens of a new ColBERT model (PyLate document_length)")
		fs.IntVar(&f.maxLen, "max-length", 0, "tokens per text (0: the model's)")
		trainCmd.AddCommand(trainColBERTCmd)
	}
	{
		f := &rrTrain
		f.register(trainRerankerCmd, 2e-5, 16)
		f.src.register(trainRerankerCmd)
		fs := trainRerankerCmd.Flags()
		modelFlag(trainRerankerCmd, &f.model)
		fs.StringVar(&f.loss, "loss", "bce", "bce | kl")
		fs.Float64Var(&f.temperature, "temperature", 1, "kl: softmax temperature")
		fs.IntVar(&f.maxLen, "max-length", 0, "tokens per (query, document) pair (0: the model's)")
		trainCmd.AddCommand(trainRerankerCmd)
	}
	{
		f := &clsTrain
		f.register(trainClassifierCmd, 5e-5, 16)
		fs := trainClassifierCmd.Flags()
		modelFlag(trainClassifierCmd, &f.model)
		fs.StringVar(&f.data, "data", "", "training examples: .csv (header row) or .jsonl, optionally .gz")
		fs.StringVar(&f.dev, "dev", "", "held-out examples in the same format, for accuracy during training")
		fs.StringVar(&f.textField, "text-field", "text", "column / field holding the text")
		fs.StringVar(&f.pairField, "pair-field", "", "column / field holding a second text (pair classification)")
		fs.StringVar(&f.labelField, "label-field", "label", "column / field holding the label")
		fs.StringVar(&f.labelList, "labels", "", "label names in id order, comma-separated (default: sorted distinct values)")
		fs.IntVar(&f.maxLen, "max-length", 0, "tokens per example (0: the model's)")
		trainCmd.AddCommand(trainClassifierCmd)
	}
	{
		f := &nerTrain
		f.register(trainNERCmd, 5e-5, 16)
		fs := trainNERCmd.Flags()
		modelFlag(trainNERCmd, &f.model)
		fs.StringVar(&f.data, "data", "", "training sentences: word<TAB>tag lines, blank lines between sentences (.gz ok)")
		fs.StringVar(&f.dev, "dev", "", "held-out sentences in the same format, for entity F1 during training")
		fs.StringVar(&f.scheme, "scheme", "iob2", "entity decoding for --dev scores: iob2 (strict) or iob (lenient, IOB1)")
		fs.IntVar(&f.maxLen, "max-length", 0, "tokens per sentence (0: the model's)")
		trainCmd.AddCommand(trainNERCmd)
	}
}
