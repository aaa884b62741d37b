package main

// bioenc index build|add|delete|compact|info and bioenc search: a
// persistent semantic index (package bioencoder/index) from the command
// line.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"bioencoder"
	"bioencoder/index"
)

var indexCmd = &cobra.Command{
	Use:   "index",
	Short: "Build and maintain a persistent semantic index (HNSW; ColBERT MaxSim)",
	Long: `index builds a folder holding documents, their vectors and an HNSW graph, for bioenc search.
Dense models (sentence-transformers, plain encoders) get one vector per document; PyLate
ColBERT models one per token, searched by candidate generation and exact MaxSim. The folder
remembers its model (path and fingerprint); every change is atomic, so a crash leaves the
old or the new index, never a broken one.

Input is JSON Lines, one document a line: {"id": "...", "text": "...", "metadata": {...}}.
id may be a string or a number and defaults to the line number; metadata is optional.`,
}

var indexFlags struct {
	model, input, out, index string
	m, efC, efSearch, batch  int
	compactRatio             float64
	force, json              bool
}

var indexBuildCmd = &cobra.Command{
	Use:   "build --model DIR --input DOCS.jsonl --out INDEX",
	Short: "Embed documents and build an index folder",
	Args:  cobra.NoArgs,
	RunE: func(cmd *cobra.Command, args []string) error {
		f := indexFlags
		if f.out == "" {
			return errors.New("--out is required")
		}
		docs, err := readIndexDocs(cmd, f.input)
		if err != nil {
			return err
		}
		m, err := loadModel(f.model)
		if err != nil {
			return err
		}
		ctx, stop := interruptible(cmd)
		defer stop()
		prog := newIndexProgress(cmd.ErrOrStderr())
		t0 := time.Now()
		ix, err := index.Build(ctx, f.out, m, docs, index.Options{M: f.m, EfConstruction: f.efC, EfSearch: f.efSearch,
			BatchSize: f.batch, CompactRatio: f.compactRatio, Overwrite: f.force, Progress: prog.update})
		prog.finish()
		if err != nil {
			return err
		}
		defer ix.Close()
		info := ix.Info()
		fmt.Fprintf(cmd.ErrOrStderr(), "indexed %d documents (%d vectors, %s, %s) in %s in %v\n",
			info.Docs, info.Vectors, info.Mode, info.Similarity, f.out, time.Since(t0).Round(time.Millisecond))
		return nil
	},
}

var indexAddCmd = &cobra.Command{
	Use:   "add --index INDEX --input MORE.jsonl [--model DIR]",
	Short: "Embed and add documents (an existing id is replaced)",
	Args:  cobra.NoArgs,
	RunE: func(cmd *cobra.Command, args []string) error {
		f := indexFlags
		docs, err := readIndexDocs(cmd, f.input)
		if err != nil {
			return err
		}
		prog := newIndexProgress(cmd.ErrOrStderr())
		ix, err := openIndex(cmd, index.OpenOptions{ModelDir: f.model, BatchSize: f.batch, Progress: prog.update})
		if err != nil {
			return err
		}
		defer ix.Close()
		ctx, stop := interruptible(cmd)
		defer stop()
		replaced, err := ix.Upsert(ctx, docs)
		prog.finish()
		if err != nil {
			return err
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "added %d documents (%d replaced existing ids); the index holds %d\n",
			len(docs)-replaced, replaced, ix.Len())
		return nil
	},
}

var indexDeleteCmd = &cobra.Command{
	Use:   "delete --index INDEX ID...",
	Short: "Delete documents by id (tombstones; compacted when they pile up)",
	Args:  cobra.MinimumNArgs(1),
	RunE: func(cmd *cobra.Command, args []string) error {
		ix, err := openIndex(cmd, index.OpenOptions{WithoutModel: true})
		if err != nil {
			return err
		}
		defer ix.Close()
		var missing []string
		for _, id := range args {
			if _, ok := ix.Get(id); !ok {
				missing = append(missing, id)
			}
		}
		n, err := ix.Remove(cmd.Context(), args)
		if err != nil {
			return err
		}
		if len(missing) > 0 {
			fmt.Fprintf(cmd.ErrOrStderr(), "not in the index: %s\n", strings.Join(missing, " "))
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "deleted %d documents; the index holds %d\n", n, ix.Len())
		return nil
	},
}

var indexCompactCmd = &cobra.Command{
	Use:   "compact --index INDEX",
	Short: "Rewrite the index without deleted documents (no model needed)",
	Args:  cobra.NoArgs,
	RunE: func(cmd *cobra.Command, args []string) error {
		prog := newIndexProgress(cmd.ErrOrStderr())
		ix, err := openIndex(cmd, index.OpenOptions{WithoutModel: true, Progress: prog.update})
		if err != nil {
			return err
		}
		defer ix.Close()
		before := ix.Info()
		err = ix.Compact(cmd.Context())
		prog.finish()
		if err != nil {
			return err
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "compacted: %d documents, %d tombstones and %d segments before\n",
			before.Docs, before.Deleted, before.Segments)
		return nil
	},
}

var indexInfoCmd = &cobra.Command{
	Use:   "info --index INDEX [--json]",
	Short: "Describe an index and verify every file's checksums (no model needed)",
	Args:  cobra.NoArgs,
	RunE: func(cmd *cobra.Command, args []string) error {
		ix, err := openIndex(cmd, index.OpenOptions{WithoutModel: true})
		if err != nil {
			return err
		}
		defer ix.Close()
		info := ix.Info()
		out := cmd.OutOrStdout()
		if indexFlags.json {
			enc := json.NewEncoder(out)
			enc.SetIndent("", "  ")
			return enc.Encode(info)
		}
		tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
		for _, r := range [][2]string{
			{"index", info.Dir}, {"model", info.ModelPath}, {"model kind", info.ModelKind},
			{"fingerprint", info.Fingerprint}, {"mode", info.Mode}, {"similarity", info.Similarity},
			{"dimensions", strconv.Itoa(info.Dim)}, {"documents", strconv.Itoa(info.Docs)},
			{"tombstones", strconv.Itoa(info.Deleted)}, {"vectors", strconv.Itoa(info.Vectors)},
			{"segments", strconv.Itoa(info.Segments)}, {"generation", strconv.FormatUint(info.Generation, 10)},
			{"hnsw", fmt.Sprintf("M=%d efConstruction=%d efSearch=%d", info.M, info.EfConstruction, info.EfSearch)},
			{"created", info.Created}, {"updated", info.Updated}, {"checksums", "verified"},
		} {
			fmt.Fprintf(tw, "%s\t%s\n", r[0], r[1])
		}
		return tw.Flush()
	},
}

var searchFlags struct {
	index, model, rerank          string
	k, efSearch, rerankDepth, max int
	exact, json                   bool
}

var searchCmd = &cobra.Command{
	Use:   "search --index INDEX [-k 10] [--rerank CROSS_ENCODER_DIR] [--exact] QUERY",
	Short: "Search an index; a table of rank, score, id and snippet (or --json)",
	Long: `search embeds QUERY with the index's model (its query prompt, if any) and prints the k most
similar documents: by the HNSW graph, or with --exact by brute force over every document.
ColBERT indexes gather candidates from the graph and rank them by exact MaxSim (--exact scores
every document). --rerank rescores the first --rerank-depth results (default k) with a
cross-encoder and keeps the best k. --model points to the index's model when it has moved; a
model whose fingerprint differs from the one the index was built with is refused.`,
	Args: cobra.ExactArgs(1),
	RunE: func(cmd *cobra.Command, args []string) error {
		f := searchFlags
		if f.index == "" {
			return errors.New("--index is required")
		}
		if f.k <= 0 {
			return errors.New("-k must be positive")
		}
		var reranker *bioencoder.Model
		if f.rerank != "" {
			var err error
			if reranker, err = loadModel(f.rerank); err != nil {
				return err
			}
			if k := reranker.Kind(); k != bioencoder.CrossEncoder && k != bioencoder.Classifier {
				return fmt.Errorf("--rerank %s is a %s model, not a cross-encoder", f.rerank, k)
			}
		}
		ix, err := index.Open(cmd.Context(), f.index, index.OpenOptions{ModelDir: f.model})
		if err != nil {
			return err
		}
		defer ix.Close()
		query := args[0]
		hits, err := ix.SearchWith(cmd.Context(), query, index.SearchOptions{K: f.k, Exact: f.exact,
			EfSearch: f.efSearch, Reranker: reranker, RerankDepth: f.rerankDepth})
		if err != nil {
			return err
		}
		out := cmd.OutOrStdout()
		if f.json {
			type row struct {
				Rank int `json:"rank"`
				index.Hit
			}
			rows := make([]row, len(hits))
			for i, h := range hits {
				rows[i] = row{i + 1, h}
			}
			enc := json.NewEncoder(out)
			enc.SetEscapeHTML(false)
			enc.SetIndent("", "  ")
			return enc.Encode(struct {
				Query string `json:"query"`
				Hits  []row  `json:"hits"`
			}{query, rows})
		}
		tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "RANK\tSCORE\tID\tSNIPPET")
		for i, h := range hits {
			fmt.Fprintf(tw, "%d\t%.4f\t%s\t%s\n", i+1, h.Score, snippet(h.ID, 30), snippet(h.Text, f.max))
		}
		return tw.Flush()
	},
}

// snippet puts text on one line (tabs and newlines included, which would
// break the table) and cuts it at n runes.
func snippet(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if n > 0 && utf8.RuneCountInString(s) > n {
		r := []rune(s)
		return strings.TrimSpace(string(r[:n-1])) + "…"
	}
	return s
}

// openIndex opens --index for the index subcommands.
func openIndex(cmd *cobra.Command, o index.OpenOptions) (*index.Index, error) {
	if indexFlags.index == "" {
		return nil, errors.New("--index is required")
	}
	return index.Open(cmd.Context(), indexFlags.index, o)
}

// interruptible cancels long builds on Ctrl-C; the index on disk is left
// as it was.
func interruptible(cmd *cobra.Command) (context.Context, context.CancelFunc) {
	return signal.NotifyContext(cmd.Context(), os.Interrupt)
}

// readIndexDocs reads JSON Lines documents from a file ("-": stdin).
func readIndexDocs(cmd *cobra.Command, path string) ([]index.Doc, error) {
	if path == "" {
		return nil, errors.New("--input is required (a JSON Lines file, or - for stdin)")
	}
	var r io.Reader
	name := path
	if path == "-" {
		r, name = cmd.InOrStdin(), "stdin"
	} else {
		fh, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer fh.Close()
		r = fh
	}
	return parseIndexDocs(r, name)
}

// parseIndexDocs parses {"id", "text", "metadata"} lines. A missing id is
// the line number; ids must be unique. Errors name the file and line.
func parseIndexDocs(r io.Reader, name string) ([]index.Doc, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<30)
	var docs []index.Doc
	lineOf := map[string]int{}
	for n := 1; sc.Scan(); n++ {
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		var l struct {
			ID       json.RawMessage `json:"id"`
			Text     *string         `json:"text"`
			Metadata json.RawMessage `json:"metadata"`
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		if err := dec.Decode(&l); err != nil {
			return nil, fmt.Errorf("%s line %d: not a JSON object: %v", name, n, err)
		}
		if l.Text == nil {
			return nil, fmt.Errorf("%s line %d: no \"text\" field", name, n)
		}
		id, err := docID(l.ID, n)
		if err != nil {
			return nil, fmt.Errorf("%s line %d: %v", name, n, err)
		}
		if first, dup := lineOf[id]; dup {
			return nil, fmt.Errorf("%s line %d: id %q already used on line %d", name, n, id, first)
		}
		lineOf[id] = n
		d := index.Doc{ID: id, Text: *l.Text}
		if m := bytes.TrimSpace(l.Metadata); len(m) > 0 && string(m) != "null" {
			md := json.NewDecoder(bytes.NewReader(m))
			md.UseNumber() // keep numbers exactly as written
			if err := md.Decode(&d.Metadata); err != nil {
				return nil, fmt.Errorf("%s line %d: \"metadata\" must be a JSON object: %v", name, n, err)
			}
		}
		docs = append(docs, d)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	if len(docs) == 0 {
		return nil, fmt.Errorf("%s holds no documents", name)
	}
	return docs, nil
}

// docID accepts a string or a number (kept as written) or nothing (the
// line number).
func docID(raw json.RawMessage, line int) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return strconv.Itoa(line), nil
	}
	switch raw[0] {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", err
		}
		if s == "" {
			return "", errors.New("empty \"id\"")
		}
		return s, nil
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		var n json.Number
		if err := json.Unmarshal(raw, &n); err != nil {
			return "", err
		}
		return n.String(), nil
	}
	return "", fmt.Errorf("\"id\" must be a string or a number, not %s", raw)
}

// indexProgress shows a bar per stage on a terminal and a plain line per
// tenth of the work otherwise.
type indexProgress struct {
	w     io.Writer
	tty   bool
	bar   *progressbar.ProgressBar
	stage string
	shown int
}

func newIndexProgress(w io.Writer) *indexProgress {
	p := &indexProgress{w: w}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.tty = true
	}
	return p
}

var stageNames = map[string]string{"embed": "embedding", "index": "linking"}

func (p *indexProgress) update(pr index.Progress) {
	if pr.Stage != p.stage {
		p.finish()
		p.stage, p.shown = pr.Stage, -1
		if p.tty {
			p.bar = progressbar.NewOptions(pr.Total,
				progressbar.OptionSetWriter(p.w),
				progressbar.OptionSetDescription(stageNames[pr.Stage]),
				progressbar.OptionShowCount(),
				progressbar.OptionSetPredictTime(true),
				progressbar.OptionShowElapsedTimeOnFinish(),
				progressbar.OptionSetWidth(30),
				progressbar.OptionThrottle(100*time.Millisecond),
			)
		}
	}
	if p.bar != nil {
		p.bar.Set(pr.Done)
		return
	}
	if tenth := pr.Done * 10 / max(pr.Total, 1); tenth > p.shown {
		p.shown = tenth
		fmt.Fprintf(p.w, "%s %d/%d\n", stageNames[pr.Stage], pr.Done, pr.Total)
	}
}

func (p *indexProgress) finish() {
	if p.bar != nil {
		p.bar.Finish()
		fmt.Fprintln(p.w)
		p.bar = nil
	}
}

func init() {
	for _, c := range []*cobra.Command{indexAddCmd, indexDeleteCmd, indexCompactCmd, indexInfoCmd} {
		c.Flags().StringVar(&indexFlags.index, "index", "", "index folder (required)")
	}
	fb := indexBuildCmd.Flags()
	modelFlag(indexBuildCmd, &indexFlags.model)
	fb.StringVar(&indexFlags.out, "out", "", "index folder to create (required)")
	fb.IntVar(&indexFlags.m, "m", 16, "HNSW links per node (2M at level 0)")
	fb.IntVar(&indexFlags.efC, "ef-construction", 200, "HNSW beam width while building")
	fb.IntVar(&indexFlags.efSearch, "ef-search", 100, "default HNSW beam width for searches")
	fb.Float64Var(&indexFlags.compactRatio, "compact-ratio", 0.25, "compact when this fraction of documents is deleted (negative: never)")
	fb.BoolVar(&indexFlags.force, "force", false, "replace an index already in --out")
	for _, c := range []*cobra.Command{indexBuildCmd, indexAddCmd} {
		c.Flags().StringVar(&indexFlags.input, "input", "", "JSON Lines documents (- for stdin; required)")
		c.Flags().IntVar(&indexFlags.batch, "batch", 64, "texts per model call")
	}
	indexAddCmd.Flags().StringVar(&indexFlags.model, "model", "", "the index's model, if it has moved (must match its fingerprint)")
	indexInfoCmd.Flags().BoolVar(&indexFlags.json, "json", false, "print JSON")
	indexCmd.AddCommand(indexBuildCmd, indexAddCmd, indexDeleteCmd, indexCompactCmd, indexInfoCmd)
	root.AddCommand(indexCmd)

	fs := searchCmd.Flags()
	fs.StringVar(&searchFlags.index, "index", "", "index folder (required)")
	fs.StringVar(&searchFlags.model, "model", "", "the index's model, if it has moved (must match its fingerprint)")
	fs.IntVarP(&searchFlags.k, "k", "k", 10, "number of results")
	fs.BoolVar(&searchFlags.exact, "exact", false, "brute-force search over every document instead of the graph")
	fs.IntVar(&searchFlags.efSearch, "ef-search", 0, "HNSW beam width (0: the index's default)")
	fs.StringVar(&searchFlags.rerank, "rerank", "", "cross-encoder folder to rerank the results with")
	fs.IntVar(&searchFlags.rerankDepth, "rerank-depth", 0, "results to rerank (default k)")
	fs.IntVar(&searchFlags.max, "width", 80, "snippet width in characters (0: whole text)")
	fs.BoolVar(&searchFlags.json, "json", false, "print JSON: {\"query\", \"hits\": [{rank, id, score, text, metadata}]}")
	root.AddCommand(searchCmd)
}
