package index

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"bioencoder"
	"bioencoder/internal/atomicfile"
	"bioencoder/kernels"
)

// Doc is a document to index. Metadata must marshal to a JSON object.
type Doc struct {
	ID       string         `json:"id"`
	Text     string         `json:"text"`
	Metadata map[string]any `json:"metadata,omitempty"`
}

// Hit is a search result. Numbers in Metadata are json.Number, so they
// keep the exact text they were indexed with.
type Hit struct {
	ID       string         `json:"id"`
	Score    float32        `json:"score"`
	Text     string         `json:"text"`
	Metadata map[string]any `json:"metadata,omitempty"`
}

// Options configure Build. Zero values take the defaults.
type Options struct {
	M              int     // links per node (default 16; 2M at level 0)
	EfConstruction int     // beam width while inserting (default 200)
	EfSearch       int     // beam width while searching (default 100)
	Seed           uint64  // level draws (default 1)
	CompactRatio   float64 // rebuild when deleted/total exceeds this (default 0.25; < 0: never)
	BatchSize      int     // texts per model call (default 64)
	Overwrite      bool    // replace an index already in the folder
	Progress       func(Progress)
}

// Progress reports a long step: Stage is "embed" or "index" (linking the
// graph); Done of Total units (documents or vectors).
type Progress struct {
	Stage       string
	Done, Total int
}

// OpenOptions configure Open.
type OpenOptions struct {
	// Model is an already loaded model to use; ModelDir a folder to load
	// instead of the path the index remembers. Either must fingerprint
	// like the model the index was built with.
	Model    *bioencoder.Model
	ModelDir string
	// WithoutModel opens the index for Delete, Compact and inspection
	// only: no model is loaded, and Search and Add fail.
	WithoutModel bool
	BatchSize    int
	Progress     func(Progress)
}

// SearchOptions refine a search.
type SearchOptions struct {
	K        int  // results wanted (required, > 0)
	Exact    bool // brute force over every document instead of the graph
	EfSearch int  // graph beam width (0: the index's default; raised to K)
	// Reranker, a cross-encoder, rescores the first RerankDepth results
	// (default K) and the best K of them are returned with its scores.
	Reranker    *bioencoder.Model
	RerankDepth int
}

// Info describes an open index.
type Info struct {
	Dir            string `json:"dir"`
	ModelPath      string `json:"model_path"`
	ModelKind      string `json:"model_kind"`
	Fingerprint    string `json:"fingerprint"`
	Mode           string `json:"mode"`
	Similarity     string `json:"similarity"`
	Dim            int    `json:"dim"`
	Docs           int    `json:"docs"`    // live documents
	Deleted        int    `json:"deleted"` // tombstones awaiting compaction
	Vectors        int    `json:"vectors"` // graph nodes (ColBERT: token vectors)
	Segments       int    `json:"segments"`
	Generation     uint64 `json:"generation"`
	M              int    `json:"m"`
	EfConstruction int    `json:"ef_construction"`
	EfSearch       int    `json:"ef_search"`
	Created        string `json:"created"`
	Updated        string `json:"updated"`
}

var (
	// ErrClosed is returned by every method of a closed Index.
	ErrClosed = errors.New("index: closed")
	// ErrModelMismatch is wrapped by the error for a model whose
	// fingerprint differs from the index's.
	ErrModelMismatch = errors.New("model does not match the index")
)

const lockName = "LOCK"

var errNoModel = errors.New("index: opened without a model (OpenOptions.WithoutModel)")

// Index is an open index folder. Searches run concurrently with each other
// and with one writer (Add, Delete, Compact): a writer links new vectors
// under a short exclusive lock and writes files while searches go on.
type Index struct {
	dir       string
	model     *bioencoder.Model
	fp        Fingerprint
	batch     int
	progress  func(Progress)
	mu        sync.RWMutex // guards st and its contents
	st        *state
	wmu       sync.Mutex // one writer at a time
	broken    error      // set when memory could not be brought back in line with disk
	closeOnce sync.Once
}

// state is the in-memory image of one generation of the index.
type state struct {
	man       *manifest
	multi     bool
	dim       int
	metric    metric
	normalize bool // cosine: vectors are stored (and queries searched) unit-length

	ids    []string
	texts  []string
	meta   [][]byte // JSON object or nil
	del    bitset
	nDel   int
	byID   map[string]uint32 // live documents only
	vecs   []float32         // dense: one row per slot; ColBERT: one per token
	tokOff []uint32          // ColBERT: slot → first token (len slots+1)
	tokDoc []uint32          // ColBERT: token → slot
	g      *graph
}

func (st *state) slots() int { return len(st.ids) }

func (st *state) nodes() int { return len(st.vecs) / st.dim }

// live reports whether a graph node belongs to a document not deleted.
func (st *state) deletedNode(n uint32) bool {
	if st.multi {
		return st.del.has(int(st.tokDoc[n]))
	}
	return st.del.has(int(n))
}

type bitset []uint64

func (b *bitset) grow(n int) {
	for len(*b)*64 < n {
		*b = append(*b, 0)
	}
}
func (b bitset) has(i int) bool { return i>>6 < len(b) && b[i>>6]&(1<<(i&63)) != 0 }
func (b bitset) set(i int)      { b[i>>6] |= 1 << (i & 63) }

// parseMetric maps a manifest similarity to the graph metric.
func parseMetric(sim, mode string) (mt metric, normalize bool, err error) {
	if mode == modeColBERT {
		if sim != "maxsim" {
			return 0, false, fmt.Errorf("ColBERT index with similarity %q", sim)
		}
		return metricDot, false, nil
	}
	switch sim {
	case "cosine":
		return metricDot, true, nil
	case "dot":
		return metricDot, false, nil
	case "euclidean":
		return metricEuclidean, false, nil
	case "manhattan":
		return metricManhattan, false, nil
	}
	return 0, false, fmt.Errorf("unknown similarity %q", sim)
}

// modelMode checks that m can fill an index and returns the mode and
// similarity name it implies.
func modelMode(m *bioencoder.Model) (mode, sim string, err error) {
	switch m.Kind() {
	case bioencoder.ColBERT:
		return modeColBERT, "maxsim", nil
	case bioencoder.SentenceTransformer, bioencoder.Encoder:
		sim = strings.ToLower(m.SimilarityName())
		switch sim {
		case "", "cosine":
			sim = "cosine"
		case "dot", "dot_product":
			sim = "dot"
		case "euclidean", "manhattan":
		default:
			return "", "", fmt.Errorf("index: %s: unknown similarity function %q", m.Dir(), m.SimilarityName())
		}
		return modeDense, sim, nil
	}
	return "", "", fmt.Errorf("index: %s is a %s model; an index needs a sentence-transformers, encoder or ColBERT model", m.Dir(), m.Kind())
}

func newState(man *manifest) (*state, error) {
	mt, norm, err := parseMetric(man.Similarity, man.Mode)
	if err != nil {
		return nil, err
	}
	st := &state{man: man, multi: man.Mode == modeColBERT, dim: man.Dim, metric: mt, normalize: norm,
		byID: map[string]uint32{}}
	if st.multi {
		st.tokOff = []uint32{0}
	}
	st.g = newGraph(man.Dim, man.HNSW.M, man.HNSW.EfConstruction, mt, man.HNSW.Seed)
	return st, nil
}

// encoded is a batch of documents' vectors: one row each (dense) or
// ntok[i] rows each (ColBERT), laid end to end.
type encoded struct {
	vecs []float32
	ntok []uint32
}

// encodeDocs runs the model over texts in batches.
func encodeDocs(ctx context.Context, m *bioencoder.Model, texts []string, dim int, multi, normalize bool, batch int, progress func(Progress)) (encoded, error) {
	var e encoded
	if batch <= 0 {
		batch = 64
	}
	for lo := 0; lo < len(texts); lo += batch {
		if err := ctx.Err(); err != nil {
			return e, err
		}
		hi := min(lo+batch, len(texts))
		if multi {
			toks, err := m.EncodeColBERT(ctx, texts[lo:hi], false)
			if err != nil {
				return e, err
			}
			for i, t := range toks {
				for _, v := range t {
					if len(v) != dim {
						return e, fmt.Errorf("index: document %d: token vector of %d dimensions, want %d", lo+i, len(v), dim)
					}
					e.vecs = append(e.vecs, v...)
				}
				e.ntok = append(e.ntok, uint32(len(t)))
			}
		} else {
			vs, err := m.EmbedDocument(ctx, texts[lo:hi])
			if err != nil {
				return e, err
			}
			for i, v := range vs {
				if len(v) != dim {
					return e, fmt.Errorf("index: document %d: vector of %d dimensions, want %d", lo+i, len(v), dim)
				}
				e.vecs = append(e.vecs, v...)
			}
		}
		if progress != nil {
			progress(Progress{"embed", hi, len(texts)})
		}
	}
	if normalize {
		kernels.L2Normalize(e.vecs, dim)
	}
	return e, nil
}

// checkDocs validates a batch and marshals its metadata.
func checkDocs(docs []Doc) ([][]byte, error) {
	seen := make(map[string]int, len(docs))
	metas := make([][]byte, len(docs))
	for i, d := range docs {
		if d.ID == "" {
			return nil, fmt.Errorf("index: document %d has an empty id", i)
		}
		if !utf8.ValidString(d.ID) {
			return nil, fmt.Errorf("index: document %d: id is not valid UTF-8", i)
		}
		if !utf8.ValidString(d.Text) {
			return nil, fmt.Errorf("index: document %q: text is not valid UTF-8", d.ID)
		}
		if j, ok := seen[d.ID]; ok {
			return nil, fmt.Errorf("index: documents %d and %d have the same id %q", j, i, d.ID)
		}
		seen[d.ID] = i
		if len(d.Metadata) > 0 {
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false)
			if err := enc.Encode(d.Metadata); err != nil {
				return nil, fmt.Errorf("index: document %q: metadata: %v", d.ID, err)
			}
			metas[i] = bytes.TrimSpace(buf.Bytes())
		}
	}
	return metas, nil
}

// fits checks that e's vectors still fit the graph's uint32 node ids.
func (st *state) fits(e encoded) error {
	if uint64(st.nodes())+uint64(len(e.vecs)/st.dim) >= noNode {
		return fmt.Errorf("index: %d more vectors would exceed the %d an index holds", len(e.vecs)/st.dim, uint64(noNode-1))
	}
	return nil
}

// appendDocs adds documents and their vectors to st without linking them.
// The caller holds the write lock (or owns st alone).
func (st *state) appendDocs(docs []Doc, metas [][]byte, e encoded) {
	for i, d := range docs {
		st.ids = append(st.ids, d.ID)
		st.texts = append(st.texts, d.Text)
		st.meta = append(st.meta, metas[i])
		if st.multi {
			slot := uint32(len(st.ids) - 1)
			for range e.ntok[i] {
				st.tokDoc = append(st.tokDoc, slot)
			}
			st.tokOff = append(st.tokOff, st.tokOff[len(st.tokOff)-1]+e.ntok[i])
		}
	}
	st.vecs = append(st.vecs, e.vecs...)
	st.del.grow(len(st.ids))
	st.g.vecs = st.vecs
}

// linkChunk bounds how many nodes are linked per hold of the write lock, so
// searches are not held up for long by a large Add.
const linkChunk = 8192

// link inserts graph nodes up to st.nodes(). With mu set, each chunk is
// linked under mu's write lock.
func (st *state) link(ctx context.Context, mu *sync.RWMutex, progress func(Progress)) error {
	total := st.nodes() - st.g.len()
	start := st.g.len()
	for st.g.len() < st.nodes() {
		if err := ctx.Err(); err != nil {
			return err
		}
		lo := st.g.len()
		hi := min(lo+linkChunk, st.nodes())
		if mu != nil {
			mu.Lock()
		}
		st.g.insertRange(lo, hi, func(done int) {
			if progress != nil {
				progress(Progress{"index", lo - start + done, total})
			}
		})
		if mu != nil {
			mu.Unlock()
		}
	}
	return nil
}

// rebuildIDs indexes the live documents by id.
func (st *state) rebuildIDs(name string) error {
	st.byID = make(map[string]uint32, len(st.ids)-st.nDel)
	for i, id := range st.ids {
		if st.del.has(i) {
			continue
		}
		if _, dup := st.byID[id]; dup {
			return corrupt(name, "id %q is live twice", id)
		}
		st.byID[id] = uint32(i)
	}
	return nil
}

func now() string { return time.Now().UTC().Format(time.RFC3339) }

// Build indexes docs with model m in dir (created if needed) and returns
// the open index. A folder that already holds an index is refused unless
// opt.Overwrite; the old index stays readable until the new one is
// complete.
func Build(ctx context.Context, dir string, m *bioencoder.Model, docs []Doc, opt Options) (*Index, error) {
	mode, sim, err := modelMode(m)
	if err != nil {
		return nil, err
	}
	metas, err := checkDocs(docs)
	if err != nil {
		return nil, err
	}
	o := opt
	if o.M == 0 {
		o.M = 16
	}
	if o.EfConstruction == 0 {
		o.EfConstruction = 200
	}
	if o.EfSearch == 0 {
		o.EfSearch = 100
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.CompactRatio == 0 {
		o.CompactRatio = 0.25
	}
	switch {
	case o.M < 2 || o.M > maxM:
		return nil, fmt.Errorf("index: M = %d is out of range [2, %d]", o.M, maxM)
	case o.EfConstruction < 1 || o.EfSearch < 1 || o.EfConstruction > 1<<20 || o.EfSearch > 1<<20:
		return nil, errors.New("index: efConstruction and efSearch must be in [1, 1048576]")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("index: %w", err)
	}
	unlock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	defer unlock()
	var gen uint64
	if old, err := readManifest(dir); err == nil {
		if !o.Overwrite {
			return nil, fmt.Errorf("index: %s already holds an index (%d documents); add to it, or overwrite it (--force, Options.Overwrite)", dir, old.Docs-old.Deleted)
		}
		gen = old.Generation
	} else if !errors.Is(err, fs.ErrNotExist) {
		if !o.Overwrite {
			return nil, err
		}
		gen = maxGeneration(dir)
	} else if err := checkEmpty(dir); err != nil {
		return nil, err
	}

	fp, err := ComputeFingerprint(ctx, m)
	if err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(m.Dir())
	if err != nil {
		return nil, err
	}
	t := now()
	man := &manifest{Format: formatName, Version: formatVersion, Generation: gen, Created: t, Updated: t,
		Model: modelInfo{Path: abs, Kind: m.Kind().String(), Fingerprint: fp}, Mode: mode, Similarity: sim,
		Dim: m.Dim(), HNSW: hnswInfo{M: o.M, EfConstruction: o.EfConstruction, EfSearch: o.EfSearch, Seed: o.Seed},
		CompactRatio: o.CompactRatio}
	st, err := newState(man)
	if err != nil {
		return nil, err
	}
	texts := make([]string, len(docs))
	for i, d := range docs {
		texts[i] = d.Text
	}
	e, err := encodeDocs(ctx, m, texts, st.dim, st.multi, st.normalize, o.BatchSize, o.Progress)
	if err != nil {
		return nil, err
	}
	if err := st.fits(e); err != nil {
		return nil, err
	}
	st.appendDocs(docs, metas, e)
	if err := st.rebuildIDs(dir); err != nil {
		return nil, err
	}
	if err := st.link(ctx, nil, o.Progress); err != nil {
		return nil, err
	}
	nm, err := commit(dir, st, commitPlan{newSegment: true, replaceSegments: true, graph: true})
	if err != nil {
		return nil, err
	}
	st.man = nm
	cleanup(dir, nm)
	return &Index{dir: dir, model: m, fp: fp, batch: o.BatchSize, progress: o.Progress, st: st}, nil
}

// checkEmpty refuses to build in a folder holding anything but index files
// (from a build that crashed before its first commit).
func checkEmpty(dir string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("index: %w", err)
	}
	for _, e := range ents {
		if n := e.Name(); n != lockName && !dataFileRE.MatchString(n) && !isTemp(n) {
			return fmt.Errorf("index: %s is not empty (it holds %s) and is not an index folder", dir, n)
		}
	}
	return nil
}

// isTemp matches atomicfile's temporary names for index files
// (".NAME.tmp-RANDOM").
func isTemp(name string) bool {
	i := strings.Index(name, ".tmp-")
	if !strings.HasPrefix(name, ".") || i < 1 {
		return false
	}
	base := name[1:i]
	return base == manifestName || dataFileRE.MatchString(base)
}

// maxGeneration is the highest generation among the folder's data files.
func maxGeneration(dir string) uint64 {
	var g uint64
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if m := dataFileRE.FindStringSubmatch(e.Name()); m != nil {
			if n, err := strconv.ParseUint(m[2], 10, 64); err == nil && n > g {
				g = n
			}
		}
	}
	return g
}

func readManifest(dir string) (*manifest, error) {
	p := filepath.Join(dir, manifestName)
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	return decodeManifest(p, b)
}

// Open opens the index in dir with the model it was built with (or the
// one opt names, which must fingerprint the same).
func Open(ctx context.Context, dir string, opt OpenOptions) (*Index, error) {
	man, err := readManifest(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			if _, serr := os.Stat(dir); serr != nil {
				return nil, fmt.Errorf("index: %s does not exist", dir)
			}
			return nil, fmt.Errorf("index: %s holds no index (no %s)", dir, manifestName)
		}
		return nil, err
	}
	m := opt.Model
	if m == nil && !opt.WithoutModel {
		path := opt.ModelDir
		if path == "" {
			path = man.Model.Path
		}
		if m, err = bioencoder.Load(path); err != nil {
			return nil, fmt.Errorf("index: %s: cannot load its model: %w (point to the model with --model / OpenOptions.ModelDir)", dir, err)
		}
	}
	fp := man.Model.Fingerprint
	if m != nil {
		if fp, err = checkModel(ctx, dir, m, man); err != nil {
			return nil, err
		}
	}
	ix := &Index{dir: dir, model: m, fp: fp, batch: opt.BatchSize, progress: opt.Progress}
	if ix.st, err = loadLatest(dir, man); err != nil {
		return nil, err
	}
	return ix, nil
}

// checkModel refuses a model that cannot have built the index.
func checkModel(ctx context.Context, dir string, m *bioencoder.Model, man *manifest) (Fingerprint, error) {
	mode, sim, err := modelMode(m)
	if err != nil {
		return Fingerprint{}, err
	}
	if mode != man.Mode || sim != man.Similarity || m.Dim() != man.Dim {
		return Fingerprint{}, fmt.Errorf("index: %s was built with a %s model (%s, %d dimensions); %s is %s (%s, %d dimensions): %w",
			dir, man.Model.Kind, man.Similarity, man.Dim, m.Dir(), m.Kind(), sim, m.Dim(), ErrModelMismatch)
	}
	fp, err := ComputeFingerprint(ctx, m)
	if err != nil {
		return Fingerprint{}, err
	}
	if why := man.Model.Fingerprint.Mismatch(fp); why != "" {
		return Fingerprint{}, fmt.Errorf("index: %s was built with model %s (fingerprint %s); %s has fingerprint %s: %s: %w",
			dir, man.Model.Path, man.Model.Fingerprint.ID, m.Dir(), fp.ID, why, ErrModelMismatch)
	}
	return fp, nil
}

// loadLatest loads the generation man names, starting over if a writer in
// another process replaced it (and removed its files) meanwhile.
func loadLatest(dir string, man *manifest) (*state, error) {
	for try := 0; ; try++ {
		st, err := loadState(dir, man)
		if err == nil || try == 5 || !errors.Is(err, fs.ErrNotExist) {
			return st, err
		}
		next, rerr := readManifest(dir)
		if rerr != nil || next.Generation == man.Generation {
			return nil, err
		}
		if next.Model.Fingerprint.Mismatch(man.Model.Fingerprint) != "" {
			return nil, fmt.Errorf("index: %s was rebuilt with another model meanwhile: %w", dir, ErrModelMismatch)
		}
		man = next
	}
}

// loadState reads every data file man names.
func loadState(dir string, man *manifest) (*state, error) {
	st, err := newState(man)
	if err != nil {
		return nil, corrupt(filepath.Join(dir, manifestName), "%v", err)
	}
	open := func(ref fileRef, kind uint32) (*container, *os.File, error) {
		p := filepath.Join(dir, ref.File)
		c, f, err := openContainer(p, p, kind)
		if err != nil {
			if errors.Is(err, ErrCorrupt) || errors.Is(err, ErrVersion) {
				return nil, nil, err
			}
			return nil, nil, fmt.Errorf("index: %w", err)
		}
		if st, _ := f.Stat(); st.Size() != ref.Size {
			f.Close()
			return nil, nil, corrupt(p, "has %d bytes, the manifest says %d", st.Size(), ref.Size)
		}
		return c, f, nil
	}
	for _, ref := range man.Segments {
		c, f, err := open(ref, kindSegment)
		if err != nil {
			return nil, err
		}
		err = readSegment(c, st, ref)
		f.Close()
		if err != nil {
			return nil, err
		}
	}
	if st.slots() != man.Docs {
		return nil, corrupt(filepath.Join(dir, manifestName), "segments hold %d documents, the manifest says %d", st.slots(), man.Docs)
	}
	st.del.grow(st.slots())
	if st.multi {
		st.tokDoc = make([]uint32, 0, st.nodes())
		for i := range st.slots() {
			for range st.tokOff[i+1] - st.tokOff[i] {
				st.tokDoc = append(st.tokDoc, uint32(i))
			}
		}
	}
	if man.Tombstones != nil {
		c, f, err := open(*man.Tombstones, kindTombstones)
		if err != nil {
			return nil, err
		}
		err = readTombstones(c, st, man.Deleted)
		f.Close()
		if err != nil {
			return nil, err
		}
	}
	if err := st.rebuildIDs(filepath.Join(dir, manifestName)); err != nil {
		return nil, err
	}
	c, f, err := open(man.Graph, kindGraph)
	if err != nil {
		return nil, err
	}
	st.g, err = readGraph(c, st.nodes(), st.dim, st.metric)
	f.Close()
	if err != nil {
		return nil, err
	}
	if st.g.m != man.HNSW.M {
		return nil, corrupt(c.name, "graph M = %d, the manifest says %d", st.g.m, man.HNSW.M)
	}
	st.g.vecs = st.vecs
	return st, nil
}

// Verify checks an index folder without loading its model: every file's
// magic, version and checksums, and that the files agree with each other.
// It returns the number of live documents.
func Verify(dir string) (docs int, err error) {
	man, err := readManifest(dir)
	if err != nil {
		return 0, err
	}
	st, err := loadLatest(dir, man)
	if err != nil {
		return 0, err
	}
	return len(st.byID), nil
}

// commitPlan says what changed since the last commit.
type commitPlan struct {
	newSegment      bool // write slots [segLo, all) as a new segment
	segLo           int
	replaceSegments bool   // the new segment replaces all others (build, compaction)
	graph           bool   // the graph changed
	modelPath       string // where the model was loaded from, if known
}

// commitHook, when set (tests), runs after each file of a commit is
// written: crash tests exit there, failure tests return an error.
var commitHook func(step string) error

// commit writes the files of a new generation and then the manifest that
// names them, the commit point: until the manifest's rename the folder
// still describes the previous generation, whose files are untouched.
func commit(dir string, st *state, p commitPlan) (*manifest, error) {
	nm := *st.man
	nm.Generation++
	nm.Updated = now()
	nm.Segments = append([]fileRef(nil), st.man.Segments...)
	if p.modelPath != "" {
		// A model found elsewhere (same fingerprint) is remembered there.
		nm.Model.Path = p.modelPath
	}
	write := func(name string, fill func(w io.Writer) error) (int64, error) {
		p := filepath.Join(dir, name)
		if err := atomicfile.WriteFunc(p, fill); err != nil {
			return 0, fmt.Errorf("index: %w", err)
		}
		fi, err := os.Stat(p)
		if err != nil {
			return 0, fmt.Errorf("index: %w", err)
		}
		if commitHook != nil {
			if err := commitHook(name); err != nil {
				return 0, err
			}
		}
		return fi.Size(), nil
	}
	if p.newSegment {
		lo, hi := p.segLo, st.slots()
		name := fmt.Sprintf("seg-%06d.dat", nm.Generation)
		size, err := write(name, func(w io.Writer) error { return writeSegment(w, st, lo, hi) })
		if err != nil {
			return nil, err
		}
		vecs := hi - lo
		if st.multi {
			vecs = int(st.tokOff[hi] - st.tokOff[lo])
		}
		ref := fileRef{File: name, Size: size, Docs: hi - lo, Vectors: vecs}
		if p.replaceSegments {
			nm.Segments = nil
		}
		nm.Segments = append(nm.Segments, ref)
	}
	if p.graph {
		name := fmt.Sprintf("graph-%06d.dat", nm.Generation)
		size, err := write(name, func(w io.Writer) error { return writeGraph(w, st.g) })
		if err != nil {
			return nil, err
		}
		nm.Graph = fileRef{File: name, Size: size}
	}
	nm.Docs, nm.Deleted = st.slots(), st.nDel
	// Deletions only ever grow a set, so a changed count is a changed set.
	if st.nDel != st.man.Deleted || p.replaceSegments {
		nm.Tombstones = nil
		if st.nDel > 0 {
			name := fmt.Sprintf("tomb-%06d.dat", nm.Generation)
			size, err := write(name, func(w io.Writer) error { return writeTombstones(w, st) })
			if err != nil {
				return nil, err
			}
			nm.Tombstones = &fileRef{File: name, Size: size, Count: st.nDel}
		}
	}
	p2 := filepath.Join(dir, manifestName)
	if err := atomicfile.WriteFunc(p2, func(w io.Writer) error { return encodeManifest(w, &nm) }); err != nil {
		return nil, fmt.Errorf("index: %w", err)
	}
	if commitHook != nil {
		commitHook(manifestName) // after the commit point: only a crash matters
	}
	return &nm, nil
}

// cleanup removes files no manifest names: the previous generation's and
// leftovers of crashed writers. Only a writer holding the lock calls it.
func cleanup(dir string, man *manifest) {
	keep := map[string]bool{man.Graph.File: true}
	for _, s := range man.Segments {
		keep[s.File] = true
	}
	if man.Tombstones != nil {
		keep[man.Tombstones.File] = true
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		n := e.Name()
		if (dataFileRE.MatchString(n) && !keep[n]) || isTemp(n) {
			os.Remove(filepath.Join(dir, n))
		}
	}
	atomicfile.SyncDir(dir)
}

// begin starts a write: one writer per Index and per folder, and the
// in-memory state brought up to date with what other processes committed.
func (ix *Index) begin(ctx context.Context) (end func(), err error) {
	ix.wmu.Lock()
	if err := ix.usable(); err != nil {
		ix.wmu.Unlock()
		return nil, err
	}
	unlock, err := lockDir(ix.dir)
	if err != nil {
		ix.wmu.Unlock()
		return nil, err
	}
	end = func() { unlock(); ix.wmu.Unlock() }
	man, err := readManifest(ix.dir)
	if err != nil {
		end()
		return nil, err
	}
	if man.Generation != ix.st.man.Generation {
		if why := man.Model.Fingerprint.Mismatch(ix.fp); why != "" {
			end()
			return nil, fmt.Errorf("index: %s was rebuilt with another model (%s): %w", ix.dir, why, ErrModelMismatch)
		}
		st, err := loadState(ix.dir, man)
		if err != nil {
			end()
			return nil, err
		}
		ix.mu.Lock()
		ix.st = st
		ix.mu.Unlock()
	}
	return end, nil
}

// params reads what encoding a query or document needs.
func (ix *Index) params() (dim int, multi, normalize bool, err error) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if ix.st == nil {
		return 0, false, false, ErrClosed
	}
	return ix.st.dim, ix.st.multi, ix.st.normalize, ix.broken
}

func (ix *Index) usable() error {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if ix.st == nil {
		return ErrClosed
	}
	return ix.broken
}

// recover reloads the committed state after a failed write, so memory
// matches disk again.
func (ix *Index) recover(cause error) error {
	man, err := readManifest(ix.dir)
	var st *state
	if err == nil {
		st, err = loadState(ix.dir, man)
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if err != nil {
		ix.broken = fmt.Errorf("index: %s: reopen after a failed write (%v) failed: %w", ix.dir, cause, err)
		return cause
	}
	ix.st = st
	return cause
}

// Add indexes docs. A document whose id is already in the index replaces
// it.
func (ix *Index) Add(ctx context.Context, docs []Doc) error {
	_, err := ix.Upsert(ctx, docs)
	return err
}

// Upsert is Add that also reports how many existing documents were
// replaced.
func (ix *Index) Upsert(ctx context.Context, docs []Doc) (replaced int, err error) {
	if err := ix.usable(); err != nil {
		return 0, err
	}
	if len(docs) == 0 {
		return 0, nil
	}
	if ix.model == nil {
		return 0, errNoModel
	}
	metas, err := checkDocs(docs)
	if err != nil {
		return 0, err
	}
	dim, multi, norm, err := ix.params()
	if err != nil {
		return 0, err
	}
	texts := make([]string, len(docs))
	for i, d := range docs {
		texts[i] = d.Text
	}
	e, err := encodeDocs(ctx, ix.model, texts, dim, multi, norm, ix.batch, ix.progress)
	if err != nil {
		return 0, err
	}
	end, err := ix.begin(ctx)
	if err != nil {
		return 0, err
	}
	defer end()
	st := ix.st
	if err := st.fits(e); err != nil {
		return 0, err
	}
	lo := st.slots()
	ix.mu.Lock()
	st.appendDocs(docs, metas, e)
	ix.mu.Unlock()
	if err := st.link(ctx, &ix.mu, ix.progress); err != nil {
		return 0, ix.recover(err)
	}
	ix.mu.Lock()
	for i, d := range docs {
		if old, ok := st.byID[d.ID]; ok {
			st.del.set(int(old))
			st.nDel++
			replaced++
		}
		st.byID[d.ID] = uint32(lo + i)
	}
	ix.mu.Unlock()
	path, _ := filepath.Abs(ix.model.Dir())
	nm, err := commit(ix.dir, st, commitPlan{newSegment: true, segLo: lo, graph: true, modelPath: path})
	if err != nil {
		return 0, ix.recover(err)
	}
	ix.mu.Lock()
	st.man = nm
	ix.mu.Unlock()
	cleanup(ix.dir, nm)
	return replaced, ix.maybeCompact(ctx)
}

// Delete removes documents by id; ids not in the index are ignored.
func (ix *Index) Delete(ctx context.Context, ids []string) error {
	_, err := ix.Remove(ctx, ids)
	return err
}

// Remove is Delete that reports how many documents were deleted.
func (ix *Index) Remove(ctx context.Context, ids []string) (int, error) {
	end, err := ix.begin(ctx)
	if err != nil {
		return 0, err
	}
	defer end()
	st := ix.st
	n := 0
	ix.mu.Lock()
	for _, id := range ids {
		if slot, ok := st.byID[id]; ok {
			st.del.set(int(slot))
			st.nDel++
			delete(st.byID, id)
			n++
		}
	}
	ix.mu.Unlock()
	if n == 0 {
		return 0, nil
	}
	nm, err := commit(ix.dir, st, commitPlan{})
	if err != nil {
		return 0, ix.recover(err)
	}
	ix.mu.Lock()
	st.man = nm
	ix.mu.Unlock()
	cleanup(ix.dir, nm)
	return n, ix.maybeCompact(ctx)
}

// maybeCompact compacts when tombstones exceed the index's ratio. The
// caller holds the writer locks.
func (ix *Index) maybeCompact(ctx context.Context) error {
	st := ix.st
	r := st.man.CompactRatio
	if r <= 0 || st.nDel == 0 || float64(st.nDel) <= r*float64(st.slots()) {
		return nil
	}
	if err := ix.compactLocked(ctx); err != nil {
		return fmt.Errorf("index: the change is saved, but compacting %s failed: %w", ix.dir, err)
	}
	return nil
}

// Compact rewrites the index without its deleted documents: one segment
// and a graph rebuilt from the live vectors (no model calls).
func (ix *Index) Compact(ctx context.Context) error {
	end, err := ix.begin(ctx)
	if err != nil {
		return err
	}
	defer end()
	return ix.compactLocked(ctx)
}

func (ix *Index) compactLocked(ctx context.Context) error {
	old := ix.st
	st, err := newState(old.man)
	if err != nil {
		return err
	}
	var docs []Doc
	var metas [][]byte
	var e encoded
	for i := range old.slots() {
		if old.del.has(i) {
			continue
		}
		docs = append(docs, Doc{ID: old.ids[i], Text: old.texts[i]})
		metas = append(metas, old.meta[i])
		if old.multi {
			a, b := old.tokOff[i], old.tokOff[i+1]
			e.vecs = append(e.vecs, old.vecs[int(a)*old.dim:int(b)*old.dim]...)
			e.ntok = append(e.ntok, b-a)
		} else {
			e.vecs = append(e.vecs, old.vecs[i*old.dim:(i+1)*old.dim]...)
		}
	}
	st.appendDocs(docs, metas, e)
	if err := st.rebuildIDs(ix.dir); err != nil {
		return err
	}
	// Readers keep using the old state while the new graph is built.
	if err := st.link(ctx, nil, ix.progress); err != nil {
		return err
	}
	nm, err := commit(ix.dir, st, commitPlan{newSegment: true, replaceSegments: true, graph: true})
	if err != nil {
		return err // nothing in memory changed
	}
	st.man = nm
	ix.mu.Lock()
	ix.st = st
	ix.mu.Unlock()
	cleanup(ix.dir, nm)
	return nil
}

// Close releases the index. Searches in flight finish first.
func (ix *Index) Close() error {
	ix.closeOnce.Do(func() {
		ix.wmu.Lock()
		ix.mu.Lock()
		ix.st = nil
		ix.mu.Unlock()
		ix.wmu.Unlock()
	})
	return nil
}

// Model is the model the index embeds with (nil if opened without one).
func (ix *Index) Model() *bioencoder.Model { return ix.model }

// Dir is the index folder.
func (ix *Index) Dir() string { return ix.dir }

// Len is the number of live documents.
func (ix *Index) Len() int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if ix.st == nil {
		return 0
	}
	return len(ix.st.byID)
}

// Get returns a live document by id.
func (ix *Index) Get(id string) (Doc, bool) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if ix.st == nil {
		return Doc{}, false
	}
	slot, ok := ix.st.byID[id]
	if !ok {
		return Doc{}, false
	}
	meta, _ := decodeMeta(ix.st.meta[slot])
	return Doc{ID: id, Text: ix.st.texts[slot], Metadata: meta}, true
}

// IDs lists the live documents' ids in insertion order.
func (ix *Index) IDs() []string {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if ix.st == nil {
		return nil
	}
	out := make([]string, 0, len(ix.st.byID))
	for i, id := range ix.st.ids {
		if !ix.st.del.has(i) {
			out = append(out, id)
		}
	}
	return out
}

// Info describes the index.
func (ix *Index) Info() Info {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	st := ix.st
	if st == nil {
		return Info{Dir: ix.dir}
	}
	m := st.man
	return Info{Dir: ix.dir, ModelPath: m.Model.Path, ModelKind: m.Model.Kind, Fingerprint: m.Model.Fingerprint.ID,
		Mode: m.Mode, Similarity: m.Similarity, Dim: m.Dim, Docs: len(st.byID), Deleted: st.nDel,
		Vectors: st.nodes(), Segments: len(m.Segments), Generation: m.Generation, M: m.HNSW.M,
		EfConstruction: m.HNSW.EfConstruction, EfSearch: m.HNSW.EfSearch, Created: m.Created, Updated: m.Updated}
}

func decodeMeta(b []byte) (map[string]any, error) {
	if len(b) == 0 {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	return m, nil
}
