package index

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
)

// manifestName is the file that names an index's current data files. It is
// replaced last in every change, so it is the commit point.
const manifestName = "MANIFEST"

var tagManifest = tag("MANF") // JSON

// Modes.
const (
	modeDense   = "dense"
	modeColBERT = "colbert"
)

// manifest is the JSON payload of MANIFEST.
type manifest struct {
	Format     string    `json:"format"`
	Version    int       `json:"version"`
	Generation uint64    `json:"generation"`
	Created    string    `json:"created"`
	Updated    string    `json:"updated"`
	Model      modelInfo `json:"model"`
	Mode       string    `json:"mode"`       // dense | colbert
	Similarity string    `json:"similarity"` // cosine | dot | euclidean | manhattan | maxsim
	Dim        int       `json:"dim"`
	HNSW       hnswInfo  `json:"hnsw"`
	// CompactRatio: deleted/total above which a change rebuilds the index
	// without its tombstones (≤ 0: never automatically).
	CompactRatio float64   `json:"compact_ratio"`
	Segments     []fileRef `json:"segments"`
	Graph        fileRef   `json:"graph"`
	Tombstones   *fileRef  `json:"tombstones,omitempty"`
	Docs         int       `json:"docs"`    // slots, deleted ones included
	Deleted      int       `json:"deleted"` // tombstoned slots
}

type modelInfo struct {
	Path        string      `json:"path"`
	Kind        string      `json:"kind"`
	Fingerprint Fingerprint `json:"fingerprint"`
}

type hnswInfo struct {
	M              int    `json:"m"`
	EfConstruction int    `json:"ef_construction"`
	EfSearch       int    `json:"ef_search"`
	Seed           uint64 `json:"seed"`
}

// fileRef names a data file. Size is checked before the file is parsed.
type fileRef struct {
	File    string `json:"file"`
	Size    int64  `json:"size"`
	Docs    int    `json:"docs,omitempty"`
	Vectors int    `json:"vectors,omitempty"`
	Count   int    `json:"count,omitempty"` // tombstones
}

const formatName = "bioencoder-index"

// dataFileRE is every name a manifest may refer to; anything else (a path,
// "..") is refused, so a hostile manifest cannot point outside the folder.
var dataFileRE = regexp.MustCompile(`^(seg|graph|tomb)-([0-9]{6,20})\.dat$`)

func encodeManifest(w io.Writer, m *manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	cw := newContainerWriter(w, kindManifest)
	cw.section(tagManifest, append(b, '\n'))
	return cw.finish()
}

// decodeManifest parses and checks a MANIFEST file's bytes.
func decodeManifest(name string, data []byte) (*manifest, error) {
	c, err := readContainer(bytes.NewReader(data), int64(len(data)), name, kindManifest)
	if err != nil {
		return nil, err
	}
	b, err := c.bytes(tagManifest)
	if err != nil {
		return nil, err
	}
	return parseManifest(name, b)
}

func parseManifest(name string, b []byte) (*manifest, error) {
	var m manifest
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&m); err != nil {
		return nil, corrupt(name, "manifest JSON: %v", err)
	}
	if m.Format != formatName {
		return nil, corrupt(name, "format %q, want %q", m.Format, formatName)
	}
	if m.Version != formatVersion {
		return nil, fmt.Errorf("index: %s: manifest version %d, this build reads version %d: %w", name, m.Version, formatVersion, ErrVersion)
	}
	switch {
	case m.Mode != modeDense && m.Mode != modeColBERT:
		return nil, corrupt(name, "unknown mode %q", m.Mode)
	case m.Dim < 1 || m.Dim > maxDim:
		return nil, corrupt(name, "dimension %d is out of range [1, %d]", m.Dim, maxDim)
	case m.HNSW.M < 2 || m.HNSW.M > maxM:
		return nil, corrupt(name, "hnsw.m %d is out of range [2, %d]", m.HNSW.M, maxM)
	case m.HNSW.EfConstruction < 1 || m.HNSW.EfSearch < 1:
		return nil, corrupt(name, "hnsw ef values must be positive")
	case m.Docs < 0 || m.Deleted < 0 || m.Deleted > m.Docs:
		return nil, corrupt(name, "document counts %d / %d deleted are inconsistent", m.Docs, m.Deleted)
	case len(m.Segments) > 1<<16:
		return nil, corrupt(name, "%d segments", len(m.Segments))
	}
	if _, _, err := parseMetric(m.Similarity, m.Mode); err != nil {
		return nil, corrupt(name, "%v", err)
	}
	refs := append([]fileRef{m.Graph}, m.Segments...)
	if m.Tombstones != nil {
		refs = append(refs, *m.Tombstones)
	}
	docs := 0
	for _, s := range m.Segments {
		if s.Docs < 0 || s.Vectors < 0 {
			return nil, corrupt(name, "segment %s has negative counts", s.File)
		}
		docs += s.Docs
	}
	if docs != m.Docs {
		return nil, corrupt(name, "segments hold %d documents, the manifest says %d", docs, m.Docs)
	}
	seen := map[string]bool{}
	for _, r := range refs {
		if !dataFileRE.MatchString(r.File) {
			return nil, corrupt(name, "bad data file name %q", r.File)
		}
		if seen[r.File] {
			return nil, corrupt(name, "data file %s is named twice", r.File)
		}
		seen[r.File] = true
		if r.Size < headerSize+footerSize {
			return nil, corrupt(name, "data file %s has impossible size %d", r.File, r.Size)
		}
	}
	if (m.Tombstones == nil) != (m.Deleted == 0) || (m.Tombstones != nil && m.Tombstones.Count != m.Deleted) {
		return nil, corrupt(name, "tombstone count does not match %d deleted documents", m.Deleted)
	}
	return &m, nil
}

// maxDim bounds vector widths read from files.
const maxDim = 1 << 16
