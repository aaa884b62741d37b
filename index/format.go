package index

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"math"
	"os"
)

// Every file of an index folder is a container:
//
//	offset 0   magic "BIOENCIX" (8 bytes)
//	       8   format version, uint32
//	      12   file kind, uint32 (manifest, segment, graph, tombstones)
//	      16   CRC-32C of bytes 0..15, uint32
//	      20   section payloads, back to back
//	       T   section table: per section {tag u32, crc u32, offset u64, length u64}
//	  end-16   footer: table offset u64, section count u32, CRC-32C of table+footer[0:12] u32
//
// All integers are little-endian. The sections must tile [20, T) exactly and
// the file must end at the footer, so every byte of a file is covered by one
// checksum: a flipped byte anywhere is detected. The table sits at the end so
// a writer streams payloads once, computing each CRC as it goes.

const (
	magic         = "BIOENCIX"
	formatVersion = 1
	headerSize    = 20
	footerSize    = 16
	entrySize     = 24
	maxSections   = 64
)

// File kinds.
const (
	kindManifest   uint32 = 1
	kindSegment    uint32 = 2
	kindGraph      uint32 = 3
	kindTombstones uint32 = 4
)

func kindName(k uint32) string {
	switch k {
	case kindManifest:
		return "manifest"
	case kindSegment:
		return "segment"
	case kindGraph:
		return "graph"
	case kindTombstones:
		return "tombstones"
	}
	return fmt.Sprintf("kind %d", k)
}

// tag makes a section tag from four ASCII characters.
func tag(s string) uint32 { return binary.LittleEndian.Uint32([]byte(s)) }

func tagName(t uint32) string {
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], t)
	for _, c := range b {
		if c < 0x20 || c > 0x7e {
			return fmt.Sprintf("%#08x", t)
		}
	}
	return string(b[:])
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrCorrupt is wrapped by every error about a damaged or foreign file.
var ErrCorrupt = errors.New("index file is corrupt")

// ErrVersion is wrapped by the error for a file of an unknown format version.
var ErrVersion = errors.New("unsupported index format version")

type corruptError struct {
	file string
	msg  string
}

func (e *corruptError) Error() string { return fmt.Sprintf("index: %s: %s", e.file, e.msg) }
func (e *corruptError) Unwrap() error { return ErrCorrupt }

func corrupt(file, format string, args ...any) error {
	return &corruptError{file: file, msg: fmt.Sprintf(format, args...)}
}

type sectionEntry struct {
	tag    uint32
	crc    uint32
	offset uint64
	length uint64
}

// container is an opened, structurally checked file. Section payloads are
// checked against their CRC when read.
type container struct {
	name     string
	r        io.ReaderAt
	kind     uint32
	sections []sectionEntry
}

// readContainer checks the header, footer and table of a file of the given
// size. name is used in errors.
func readContainer(r io.ReaderAt, size int64, name string, wantKind uint32) (*container, error) {
	if size < headerSize+footerSize {
		return nil, corrupt(name, "%d bytes is too short for an index file", size)
	}
	var h [headerSize]byte
	if _, err := r.ReadAt(h[:], 0); err != nil {
		return nil, fmt.Errorf("index: %s: %w", name, err)
	}
	if string(h[:8]) != magic {
		return nil, corrupt(name, "not a bioencoder index file (bad magic %q)", h[:8])
	}
	if got, want := binary.LittleEndian.Uint32(h[16:]), crc32.Checksum(h[:16], castagnoli); got != want {
		return nil, corrupt(name, "header checksum mismatch (stored %08x, computed %08x)", got, want)
	}
	if v := binary.LittleEndian.Uint32(h[8:]); v != formatVersion {
		return nil, fmt.Errorf("index: %s: format version %d, this build reads version %d: %w", name, v, formatVersion, ErrVersion)
	}
	kind := binary.LittleEndian.Uint32(h[12:])
	if kind != wantKind {
		return nil, corrupt(name, "is a %s file, want a %s file", kindName(kind), kindName(wantKind))
	}
	var f [footerSize]byte
	if _, err := r.ReadAt(f[:], size-footerSize); err != nil {
		return nil, fmt.Errorf("index: %s: %w", name, err)
	}
	tableOff := binary.LittleEndian.Uint64(f[0:])
	n := binary.LittleEndian.Uint32(f[8:])
	if n > maxSections {
		return nil, corrupt(name, "section count %d exceeds %d", n, maxSections)
	}
	tableLen := int64(n) * entrySize
	if tableOff != uint64(size-footerSize-tableLen) {
		return nil, corrupt(name, "section table offset %d does not fit a %d-byte file with %d sections", tableOff, size, n)
	}
	table := make([]byte, tableLen)
	if _, err := r.ReadAt(table, int64(tableOff)); err != nil {
		return nil, fmt.Errorf("index: %s: %w", name, err)
	}
	crc := crc32.Update(crc32.Checksum(table, castagnoli), castagnoli, f[:12])
	if got := binary.LittleEndian.Uint32(f[12:]); got != crc {
		return nil, corrupt(name, "section table checksum mismatch (stored %08x, computed %08x)", got, crc)
	}
	c := &container{name: name, r: r, kind: kind, sections: make([]sectionEntry, n)}
	next := uint64(headerSize)
	for i := range c.sections {
		e := table[i*entrySize:]
		s := sectionEntry{
			tag:    binary.LittleEndian.Uint32(e[0:]),
			crc:    binary.LittleEndian.Uint32(e[4:]),
			offset: binary.LittleEndian.Uint64(e[8:]),
			length: binary.LittleEndian.Uint64(e[16:]),
		}
		if s.offset != next || s.length > tableOff-s.offset {
			return nil, corrupt(name, "section %s at %d+%d does not follow the previous section", tagName(s.tag), s.offset, s.length)
		}
		for _, p := range c.sections[:i] {
			if p.tag == s.tag {
				return nil, corrupt(name, "section %s appears twice", tagName(s.tag))
			}
		}
		next = s.offset + s.length
		c.sections[i] = s
	}
	if next != tableOff {
		return nil, corrupt(name, "%d unaccounted bytes before the section table", tableOff-next)
	}
	return c, nil
}

// openContainer opens a file and checks its structure; the caller closes f.
func openContainer(path, name string, wantKind uint32) (*container, *os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	c, err := readContainer(f, st.Size(), name, wantKind)
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return c, f, nil
}

func (c *container) find(t uint32) (sectionEntry, bool) {
	for _, s := range c.sections {
		if s.tag == t {
			return s, true
		}
	}
	return sectionEntry{}, false
}

// length is a section's payload size; missing sections are an error.
func (c *container) length(t uint32) (uint64, error) {
	s, ok := c.find(t)
	if !ok {
		return 0, corrupt(c.name, "missing section %s", tagName(t))
	}
	return s.length, nil
}

// bytes reads and checks a whole section. Its size is bounded by the file's.
func (c *container) bytes(t uint32) ([]byte, error) {
	s, ok := c.find(t)
	if !ok {
		return nil, corrupt(c.name, "missing section %s", tagName(t))
	}
	b := make([]byte, s.length)
	if _, err := c.r.ReadAt(b, int64(s.offset)); err != nil {
		return nil, fmt.Errorf("index: %s: section %s: %w", c.name, tagName(t), err)
	}
	if got := crc32.Checksum(b, castagnoli); got != s.crc {
		return nil, corrupt(c.name, "section %s checksum mismatch (stored %08x, computed %08x)", tagName(t), s.crc, got)
	}
	return b, nil
}

// stream reads a section in chunks, checking its CRC at the end, and
// hands each chunk to fn (chunk sizes are multiples of unit bytes). Large
// arrays are decoded this way without holding the raw bytes and the
// decoded values at once.
func (c *container) stream(t uint32, unit int, fn func(chunk []byte)) error {
	s, ok := c.find(t)
	if !ok {
		return corrupt(c.name, "missing section %s", tagName(t))
	}
	if s.length%uint64(unit) != 0 {
		return corrupt(c.name, "section %s has %d bytes, not a multiple of %d", tagName(t), s.length, unit)
	}
	buf := make([]byte, min(s.length, uint64(1<<20/unit*unit)))
	crc := uint32(0)
	for off := uint64(0); off < s.length; {
		n := min(uint64(len(buf)), s.length-off)
		if _, err := c.r.ReadAt(buf[:n], int64(s.offset+off)); err != nil {
			return fmt.Errorf("index: %s: section %s: %w", c.name, tagName(t), err)
		}
		crc = crc32.Update(crc, castagnoli, buf[:n])
		fn(buf[:n])
		off += n
	}
	if crc != s.crc {
		return corrupt(c.name, "section %s checksum mismatch (stored %08x, computed %08x)", tagName(t), s.crc, crc)
	}
	return nil
}

// float32s reads a section of little-endian float32 values into dst, whose
// length must match the section exactly.
func (c *container) float32s(t uint32, dst []float32) error {
	if n, err := c.length(t); err != nil {
		return err
	} else if n != uint64(len(dst))*4 {
		return corrupt(c.name, "section %s has %d bytes, want %d", tagName(t), n, len(dst)*4)
	}
	i := 0
	return c.stream(t, 4, func(b []byte) {
		for j := 0; j+4 <= len(b); j += 4 {
			dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[j:]))
			i++
		}
	})
}

// uint32s is float32s for uint32 values.
func (c *container) uint32s(t uint32, dst []uint32) error {
	if n, err := c.length(t); err != nil {
		return err
	} else if n != uint64(len(dst))*4 {
		return corrupt(c.name, "section %s has %d bytes, want %d", tagName(t), n, len(dst)*4)
	}
	i := 0
	return c.stream(t, 4, func(b []byte) {
		for j := 0; j+4 <= len(b); j += 4 {
			dst[i] = binary.LittleEndian.Uint32(b[j:])
			i++
		}
	})
}

// containerWriter streams sections to w and writes the table and footer on
// finish.
type containerWriter struct {
	w        io.Writer
	off      uint64
	sections []sectionEntry
	cur      *sectionEntry
	crc      hash.Hash32
	err      error
}

func newContainerWriter(w io.Writer, kind uint32) *containerWriter {
	cw := &containerWriter{w: w, crc: crc32.New(castagnoli)}
	var h [headerSize]byte
	copy(h[:], magic)
	binary.LittleEndian.PutUint32(h[8:], formatVersion)
	binary.LittleEndian.PutUint32(h[12:], kind)
	binary.LittleEndian.PutUint32(h[16:], crc32.Checksum(h[:16], castagnoli))
	cw.raw(h[:])
	return cw
}

func (cw *containerWriter) raw(b []byte) {
	if cw.err != nil {
		return
	}
	_, cw.err = cw.w.Write(b)
	cw.off += uint64(len(b))
}

// begin starts a section; Write appends to it.
func (cw *containerWriter) begin(t uint32) {
	cw.end()
	cw.sections = append(cw.sections, sectionEntry{tag: t, offset: cw.off})
	cw.cur = &cw.sections[len(cw.sections)-1]
	cw.crc.Reset()
}

func (cw *containerWriter) Write(b []byte) (int, error) {
	if cw.cur == nil {
		panic("index: container write outside a section")
	}
	cw.crc.Write(b)
	cw.raw(b)
	return len(b), cw.err
}

func (cw *containerWriter) end() {
	if cw.cur != nil {
		cw.cur.length = cw.off - cw.cur.offset
		cw.cur.crc = cw.crc.Sum32()
		cw.cur = nil
	}
}

// section writes a whole section at once.
func (cw *containerWriter) section(t uint32, b []byte) {
	cw.begin(t)
	cw.Write(b)
	cw.end()
}

// float32s writes a section of little-endian float32 values.
func (cw *containerWriter) float32s(t uint32, v []float32) {
	cw.begin(t)
	var buf [4096]byte
	for len(v) > 0 {
		n := min(len(v), len(buf)/4)
		for i, x := range v[:n] {
			binary.LittleEndian.PutUint32(buf[i*4:], math.Float32bits(x))
		}
		cw.Write(buf[:n*4])
		v = v[n:]
	}
	cw.end()
}

func (cw *containerWriter) uint32s(t uint32, v []uint32) {
	cw.begin(t)
	var buf [4096]byte
	for len(v) > 0 {
		n := min(len(v), len(buf)/4)
		for i, x := range v[:n] {
			binary.LittleEndian.PutUint32(buf[i*4:], x)
		}
		cw.Write(buf[:n*4])
		v = v[n:]
	}
	cw.end()
}

func (cw *containerWriter) finish() error {
	cw.end()
	if len(cw.sections) > maxSections {
		return fmt.Errorf("index: %d sections exceed %d", len(cw.sections), maxSections)
	}
	table := make([]byte, len(cw.sections)*entrySize+footerSize)
	for i, s := range cw.sections {
		e := table[i*entrySize:]
		binary.LittleEndian.PutUint32(e[0:], s.tag)
		binary.LittleEndian.PutUint32(e[4:], s.crc)
		binary.LittleEndian.PutUint64(e[8:], s.offset)
		binary.LittleEndian.PutUint64(e[16:], s.length)
	}
	f := table[len(cw.sections)*entrySize:]
	binary.LittleEndian.PutUint64(f[0:], cw.off)
	binary.LittleEndian.PutUint32(f[8:], uint32(len(cw.sections)))
	binary.LittleEndian.PutUint32(f[12:], crc32.Checksum(table[:len(table)-4], castagnoli))
	cw.raw(table)
	return cw.err
}

// strings streams a section of strings, each a uvarint length and bytes.
func (cw *containerWriter) strings(t uint32, n int, at func(i int) []byte) {
	cw.begin(t)
	bw := bufio.NewWriterSize(cw, 64<<10)
	var lb [binary.MaxVarintLen64]byte
	for i := range n {
		b := at(i)
		bw.Write(lb[:binary.PutUvarint(lb[:], uint64(len(b)))])
		bw.Write(b)
	}
	bw.Flush()
	cw.end()
}

// decodeStrings parses exactly n length-prefixed strings from b.
func decodeStrings(name string, t uint32, b []byte, n int) ([][]byte, error) {
	out := make([][]byte, 0, min(n, len(b)+1))
	for i := range n {
		l, k := binary.Uvarint(b)
		if k <= 0 {
			return nil, corrupt(name, "section %s: entry %d: bad length", tagName(t), i)
		}
		b = b[k:]
		if l > uint64(len(b)) {
			return nil, corrupt(name, "section %s: entry %d: length %d overruns the section", tagName(t), i, l)
		}
		out = append(out, b[:l:l])
		b = b[l:]
	}
	if len(b) != 0 {
		return nil, corrupt(name, "section %s: %d trailing bytes after %d entries", tagName(t), len(b), n)
	}
	return out, nil
}
