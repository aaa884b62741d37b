package index

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"bioencoder"
	"bioencoder/internal/testutil"
)

var (
	modelsMu sync.Mutex
	models   = map[string]*bioencoder.Model{}
)

// fixture loads (once per test binary) a model from testdata/golden.
func fixture(t testing.TB, name string) *bioencoder.Model {
	t.Helper()
	modelsMu.Lock()
	defer modelsMu.Unlock()
	if m, ok := models[name]; ok {
		return m
	}
	m, err := bioencoder.Load(testutil.Testdata(t, "golden", name))
	if err != nil {
		t.Fatal(err)
	}
	models[name] = m
	return m
}

var words = strings.Fields(`aspirin platelet aggregation cancer tumor cell protein gene expression patient
therapy clinical trial risk disease infection virus bacteria immune response receptor kinase inhibitor
mutation brca1 insulin diabetes glucose heart failure blood pressure kidney liver lung asthma antibody
vaccine dose treatment outcome mortality survival rate study cohort analysis model mouse rat tissue
inflammation cytokine signaling pathway enzyme metabolism drug toxicity biomarker diagnosis imaging`)

// synthDocs makes n short documents with metadata, deterministically.
func synthDocs(seed uint64, n int, prefix string) []Doc {
	rng := rand.New(rand.NewPCG(seed, 99))
	docs := make([]Doc, n)
	for i := range docs {
		w := make([]string, 5+rng.IntN(12))
		for j := range w {
			w[j] = words[rng.IntN(len(words))]
		}
		docs[i] = Doc{ID: fmt.Sprintf("%s%d", prefix, i), Text: strings.Join(w, " "),
			Metadata: map[string]any{"n": i, "tag": prefix}}
	}
	return docs
}

// abstracts reads the first n PubMed abstracts of the shared data set.
func abstracts(t testing.TB, n int) []Doc {
	t.Helper()
	p := testutil.SharedOrSkip(t, "data", "pubmed_abstracts.jsonl.gz")
	f, err := os.Open(p)
	if err != nil {
		t.Skipf("skipping: %v", err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(zr)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	var docs []Doc
	for sc.Scan() && len(docs) < n {
		var r struct {
			ID   json.Number `json:"id"`
			Text string      `json:"text"`
		}
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		docs = append(docs, Doc{ID: r.ID.String(), Text: r.Text})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(docs) < n {
		t.Skipf("skipping: only %d abstracts in %s", len(docs), p)
	}
	return docs
}

// copyDir copies a folder tree (model fixtures, index folders).
func copyDir(t testing.TB, src, dst string) {
	t.Helper()
	err := filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if info.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.Create(target)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
	if err != nil {
		t.Fatal(err)
	}
}

// snapshot is what an index answers to a fixed set of queries, for
// comparing two indexes exactly.
func snapshot(t testing.TB, ix *Index, queries []string) string {
	t.Helper()
	var b strings.Builder
	for _, q := range queries {
		for _, exact := range []bool{false, true} {
			hits, err := ix.SearchWith(context.Background(), q, SearchOptions{K: 7, Exact: exact})
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&b, "%q exact=%v:", q, exact)
			for _, h := range hits {
				m, _ := json.Marshal(h.Metadata)
				fmt.Fprintf(&b, " %s=%08x/%d/%s", h.ID, fmtBits(h.Score), len(h.Text), m)
			}
			b.WriteByte('\n')
		}
	}
	return b.String()
}

func fmtBits(f float32) uint32 { return math.Float32bits(f) }

// liveSet is the index's live ids, sorted.
func liveSet(ix *Index) string {
	ids := ix.IDs()
	sort.Strings(ids)
	return strings.Join(ids, ",")
}
