package index

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// smallIndex builds a tiny index with every kind of file (tombstones too).
func smallIndex(t testing.TB, model string, n int) string {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	ix, err := Build(ctx, dir, fixture(t, model), synthDocs(31, n, "s"), Options{CompactRatio: -1})
	if err != nil {
		t.Fatal(err)
	}
	if err := ix.Delete(ctx, []string{"s1", "s2"}); err != nil {
		t.Fatal(err)
	}
	ix.Close()
	return dir
}

// indexFiles lists the index files of dir (LOCK excluded).
func indexFiles(t testing.TB, dir string) []string {
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if e.Name() != lockName {
			out = append(out, e.Name())
		}
	}
	return out
}

func TestContainerRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	cw := newContainerWriter(&buf, kindSegment)
	cw.section(tag("AAAA"), []byte("hello"))
	cw.float32s(tag("FLTS"), []float32{1, -2.5, 3e-8})
	cw.uint32s(tag("U32S"), make([]uint32, 300000)) // spans several stream chunks
	cw.section(tag("EMPT"), nil)
	if err := cw.finish(); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	c, err := readContainer(bytes.NewReader(data), int64(len(data)), "x", kindSegment)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := c.bytes(tag("AAAA")); err != nil || string(b) != "hello" {
		t.Errorf("AAAA = %q, %v", b, err)
	}
	f := make([]float32, 3)
	if err := c.float32s(tag("FLTS"), f); err != nil || f[1] != -2.5 || f[2] != 3e-8 {
		t.Errorf("FLTS = %v, %v", f, err)
	}
	if err := c.uint32s(tag("U32S"), make([]uint32, 300000)); err != nil {
		t.Error(err)
	}
	if err := c.uint32s(tag("U32S"), make([]uint32, 3)); err == nil {
		t.Error("wrong length accepted")
	}
	if b, err := c.bytes(tag("EMPT")); err != nil || len(b) != 0 {
		t.Errorf("EMPT = %q, %v", b, err)
	}
	if _, err := c.bytes(tag("NONE")); !errors.Is(err, ErrCorrupt) {
		t.Errorf("missing section: %v", err)
	}
	if _, err := readContainer(bytes.NewReader(data), int64(len(data)), "x", kindGraph); !errors.Is(err, ErrCorrupt) {
		t.Errorf("wrong kind: %v", err)
	}
}

// verifyBytes fully checks one file's bytes, as Open would.
func verifyBytes(name string, data []byte) error {
	c, err := readContainer(bytes.NewReader(data), int64(len(data)), name, kindOf(data))
	if err != nil {
		return err
	}
	for _, s := range c.sections {
		if _, err := c.bytes(s.tag); err != nil {
			return err
		}
	}
	return nil
}

func kindOf(data []byte) uint32 {
	if len(data) < 16 {
		return 0
	}
	return binary.LittleEndian.Uint32(data[12:])
}

func TestEveryByteFlipDetected(t *testing.T) {
	for _, model := range []string{"st_embed", "colbert"} {
		dir := smallIndex(t, model, 12)
		for _, name := range indexFiles(t, dir) {
			data, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			if err := verifyBytes(name, data); err != nil {
				t.Fatalf("%s: intact file rejected: %v", name, err)
			}
			for i := range data {
				// Every byte of small files; in large payloads a sample (the
				// header, table and footer are always covered).
				if len(data) > 8192 && i >= 64 && i < len(data)-1024 && i%13 != 0 {
					continue
				}
				for _, bit := range []byte{0x01, 0x80} {
					data[i] ^= bit
					err := verifyBytes(name, data)
					data[i] ^= bit
					if err == nil {
						t.Fatalf("%s %s: flipping bit %#x of byte %d of %d went unnoticed", model, name, bit, i, len(data))
					}
				}
			}
			// Truncation and extension too.
			for _, d := range [][]byte{data[:len(data)-1], append(append([]byte(nil), data...), 0)} {
				if verifyBytes(name, d) == nil {
					t.Fatalf("%s: a file of %d bytes instead of %d was accepted", name, len(d), len(data))
				}
			}
		}
	}
}

func TestCorruptFileRefusedAtOpen(t *testing.T) {
	ctx := context.Background()
	dir := smallIndex(t, "st_embed", 40)
	for _, name := range indexFiles(t, dir) {
		p := filepath.Join(dir, name)
		orig, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, at := range []int{3, 17, len(orig) / 2, len(orig) - 5} {
			bad := append([]byte(nil), orig...)
			bad[at] ^= 0x10
			os.WriteFile(p, bad, 0o644)
			_, err := Open(ctx, dir, OpenOptions{Model: fixture(t, "st_embed")})
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), name) {
				t.Errorf("%s byte %d flipped: Open gave %v, want a corruption error naming the file", name, at, err)
			}
			if _, err := Verify(dir); !errors.Is(err, ErrCorrupt) {
				t.Errorf("%s byte %d flipped: Verify gave %v", name, at, err)
			}
		}
		os.WriteFile(p, orig, 0o644)
	}
	if n, err := Verify(dir); err != nil || n != 38 {
		t.Fatalf("restored index: Verify = %d, %v", n, err)
	}
	// A missing data file is named.
	for _, name := range indexFiles(t, dir) {
		if strings.HasPrefix(name, "graph-") {
			os.Rename(filepath.Join(dir, name), filepath.Join(dir, name+".x"))
			if _, err := Verify(dir); err == nil || !strings.Contains(err.Error(), name) {
				t.Errorf("missing %s: %v", name, err)
			}
		}
	}
}

// fixChecksums recomputes every CRC of a container whose structure is
// intact, so mutated payloads reach the decoders (the fuzz target's second
// mode).
func fixChecksums(data []byte) {
	if len(data) < headerSize+footerSize || string(data[:8]) != magic {
		return
	}
	binary.LittleEndian.PutUint32(data[16:], crc32.Checksum(data[:16], castagnoli))
	f := data[len(data)-footerSize:]
	tableOff := binary.LittleEndian.Uint64(f[0:])
	n := uint64(binary.LittleEndian.Uint32(f[8:]))
	if n > maxSections || tableOff != uint64(len(data)-footerSize)-n*entrySize {
		return
	}
	table := data[tableOff : len(data)-footerSize]
	for i := uint64(0); i < n; i++ {
		e := table[i*entrySize:]
		off, l := binary.LittleEndian.Uint64(e[8:]), binary.LittleEndian.Uint64(e[16:])
		if off <= tableOff && l <= tableOff-off {
			binary.LittleEndian.PutUint32(e[4:], crc32.Checksum(data[off:off+l], castagnoli))
		}
	}
	binary.LittleEndian.PutUint32(f[12:], crc32.Checksum(data[tableOff:len(data)-4], castagnoli))
}

// decodeFile runs the full decoder for whatever kind of file data is.
func decodeFile(data []byte) error {
	r := bytes.NewReader(data)
	switch kindOf(data) {
	case kindManifest:
		_, err := decodeManifest("m", data)
		return err
	case kindSegment:
		c, err := readContainer(r, int64(len(data)), "s", kindSegment)
		if err != nil {
			return err
		}
		h, err := c.bytes(tagSegHeader)
		if err != nil || len(h) != segHeaderSize {
			return fmt.Errorf("header: %v", err)
		}
		dim := int(binary.LittleEndian.Uint32(h[4:]))
		if dim < 1 || dim > maxDim {
			return errors.New("dim")
		}
		mode := modeDense
		if binary.LittleEndian.Uint32(h[8:]) == 1 {
			mode = modeColBERT
		}
		sim := map[string]string{modeDense: "cosine", modeColBERT: "maxsim"}[mode]
		st, err := newState(&manifest{Mode: mode, Similarity: sim, Dim: dim, HNSW: hnswInfo{M: 16, EfConstruction: 10}})
		if err != nil {
			return err
		}
		docs := int(binary.LittleEndian.Uint32(h[0:]))
		vecs := int(binary.LittleEndian.Uint64(h[12:]) & 0x7fffffff)
		return readSegment(c, st, fileRef{Docs: docs, Vectors: vecs})
	case kindGraph:
		c, err := readContainer(r, int64(len(data)), "g", kindGraph)
		if err != nil {
			return err
		}
		h, err := c.bytes(tagGraphHeader)
		if err != nil || len(h) != graphHeaderSize {
			return fmt.Errorf("header: %v", err)
		}
		n := int(binary.LittleEndian.Uint32(h[0:]))
		g, err := readGraph(c, n, 4, metric(binary.LittleEndian.Uint32(h[20:])))
		if err != nil {
			return err
		}
		// A graph that passed validation must be searchable.
		g.vecs = make([]float32, 4*n)
		g.search([]float32{1, 0, 0, 0}, 10, nil)
		return nil
	case kindTombstones:
		c, err := readContainer(r, int64(len(data)), "t", kindTombstones)
		if err != nil {
			return err
		}
		l, err := c.length(tagTomb)
		if err != nil {
			return err
		}
		st := &state{ids: make([]string, 64)}
		st.del.grow(64)
		return readTombstones(c, st, int(l/4))
	}
	return errors.New("unknown kind")
}

// FuzzIndexFile feeds arbitrary bytes to the readers of every index file
// kind; with fix set, checksums are recomputed first so the mutations
// reach the payload decoders. Nothing may panic or allocate beyond the
// input's size.
func FuzzIndexFile(f *testing.F) {
	f.Add([]byte("BIOENCIX"), false)
	f.Fuzz(func(t *testing.T, data []byte, fix bool) {
		if fix {
			data = append([]byte(nil), data...)
			fixChecksums(data)
		}
		decodeFile(data)
	})
}

// TestWriteFuzzSeeds regenerates testdata/fuzz/FuzzIndexFile from real
// index files (BIOENC_WRITE_FUZZ_SEEDS=1).
func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("BIOENC_WRITE_FUZZ_SEEDS") == "" {
		t.Skip("set BIOENC_WRITE_FUZZ_SEEDS=1 to regenerate the seed corpus")
	}
	out := filepath.Join("testdata", "fuzz", "FuzzIndexFile")
	os.MkdirAll(out, 0o755)
	// Small indexes keep the seeds small, which keeps minimisation fast.
	for _, model := range []string{"st_embed", "colbert"} {
		dir := smallIndex(t, model, 4)
		for _, name := range indexFiles(t, dir) {
			data, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			kind := strings.SplitN(name, "-", 2)[0]
			for _, fix := range []bool{false, true} {
				seed := fmt.Sprintf("go test fuzz v1\n[]byte(%s)\nbool(%v)\n", strconv.Quote(string(data)), fix)
				p := filepath.Join(out, fmt.Sprintf("%s-%s-fix%v", model, strings.ToLower(kind), fix))
				if err := os.WriteFile(p, []byte(seed), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
}

func TestSeedsDecode(t *testing.T) {
	// The committed seeds are intact files: each must decode cleanly.
	ents, err := os.ReadDir(filepath.Join("testdata", "fuzz", "FuzzIndexFile"))
	if err != nil || len(ents) == 0 {
		t.Fatalf("no committed seed corpus: %v", err)
	}
	for _, e := range ents {
		b, _ := os.ReadFile(filepath.Join("testdata", "fuzz", "FuzzIndexFile", e.Name()))
		lines := strings.SplitN(string(b), "\n", 3)
		s, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[1], "[]byte("), ")"))
		if err != nil {
			t.Fatalf("%s: %v", e.Name(), err)
		}
		if err := decodeFile([]byte(s)); err != nil {
			t.Errorf("seed %s does not decode: %v", e.Name(), err)
		}
	}
}

func TestVersionRefused(t *testing.T) {
	dir := smallIndex(t, "st_embed", 5)
	p := filepath.Join(dir, manifestName)
	orig, _ := os.ReadFile(p)
	// A newer container version, with a valid header checksum.
	data := append([]byte(nil), orig...)
	binary.LittleEndian.PutUint32(data[8:], formatVersion+1)
	binary.LittleEndian.PutUint32(data[16:], crc32.Checksum(data[:16], castagnoli))
	os.WriteFile(p, data, 0o644)
	if _, err := Verify(dir); !errors.Is(err, ErrVersion) || !strings.Contains(err.Error(), "version 2") {
		t.Errorf("container version 2: %v", err)
	}
	// A newer manifest version inside a valid container.
	m, err := decodeManifest(p, orig)
	if err != nil {
		t.Fatal(err)
	}
	m.Version = 2
	var buf bytes.Buffer
	encodeManifest(&buf, m)
	os.WriteFile(p, buf.Bytes(), 0o644)
	if _, err := Verify(dir); !errors.Is(err, ErrVersion) {
		t.Errorf("manifest version 2: %v", err)
	}
	// A hostile file name.
	m.Version = formatVersion
	m.Graph.File = "../../etc/passwd"
	buf.Reset()
	encodeManifest(&buf, m)
	os.WriteFile(p, buf.Bytes(), 0o644)
	if _, err := Verify(dir); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "bad data file name") {
		t.Errorf("path in manifest: %v", err)
	}
}
