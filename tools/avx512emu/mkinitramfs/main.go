// Command mkinitramfs writes the initramfs (an uncompressed "newc" cpio
// archive) that avx512emu boots: /init, the binary to run, the job
// description the init reads, and any host folders the job needs.
//
// It exists so run.sh needs neither cpio(1) nor root: device nodes and
// ownership are written straight into the archive.
//
//	mkinitramfs -o initrd.cpio -init /path/to/init [-cwd DIR] [-env K=V]... [-with DIR]... BINARY [ARGS...]
//
// BINARY and every -with folder appear in the guest at their absolute host
// paths, so test binaries find testdata where the host had it.
package main

import (
	"bufio"
	"debug/elf"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// Must match the init program.
const (
	jobPath   = "/avx512emu/job.json"
	outputDev = "/dev/ttyS1"
)

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

func main() {
	var (
		out, initBin, cwd string
		envs, withs       listFlag
	)
	flag.StringVar(&out, "o", "", "output cpio file (required)")
	flag.StringVar(&initBin, "init", "", "static init binary to install as /init (required)")
	flag.StringVar(&cwd, "cwd", "", "working directory of the job in the guest (default /)")
	flag.Var(&envs, "env", "KEY=VALUE for the job's environment (repeatable)")
	flag.Var(&withs, "with", "host folder to copy into the guest at the same absolute path (repeatable)")
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "usage: mkinitramfs -o FILE -init FILE [-cwd DIR] [-env K=V]... [-with DIR]... BINARY [ARGS...]")
		flag.PrintDefaults()
	}
	flag.Parse()
	if out == "" || initBin == "" || flag.NArg() < 1 {
		flag.Usage()
		os.Exit(2)
	}
	if err := build(out, initBin, cwd, envs, withs, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "mkinitramfs:", err)
		os.Exit(1)
	}
}

func build(out, initBin, cwd string, envs, withs, argv []string) error {
	bin, err := filepath.Abs(argv[0])
	if err != nil {
		return err
	}
	if err := checkStatic(bin); err != nil {
		return err
	}
	for _, e := range envs {
		if !strings.Contains(e, "=") {
			return fmt.Errorf("-env %q: want KEY=VALUE", e)
		}
	}
	if cwd != "" && !filepath.IsAbs(cwd) {
		return fmt.Errorf("-cwd %q: want an absolute path", cwd)
	}
	job, err := json.MarshalIndent(struct {
		Argv   []string `json:"argv"`
		Dir    string   `json:"dir"`
		Env    []string `json:"env"`
		Output string   `json:"output"`
	}{append([]string{bin}, argv[1:]...), cwd, envs, outputDev}, "", "  ")
	if err != nil {
		return err
	}

	f, err := os.Create(out)
	if err != nil {
		return err
	}
	w := newWriter(f)
	w.dir("/dev", 0o755)
	w.node("/dev/console", 0o600|modeChr, 5, 1)
	w.node("/dev/null", 0o666|modeChr, 1, 3)
	w.dir("/root", 0o700)
	w.dir("/tmp", 0o1777)
	w.dir("/proc", 0o755)
	w.dir("/sys", 0o755)
	w.hostFile("/init", initBin, 0o755)
	w.data(jobPath, job, 0o644)
	w.hostFile(bin, bin, 0o755)
	for _, d := range withs {
		abs, err := filepath.Abs(d)
		if err != nil {
			return err
		}
		w.tree(abs)
	}
	if cwd != "" {
		w.dir(cwd, 0o755)
	}
	w.trailer()
	if w.err == nil {
		w.err = w.bw.Flush()
	}
	if err := f.Close(); w.err == nil {
		w.err = err
	}
	return w.err
}

// checkStatic rejects what the guest cannot run: it has no dynamic loader
// and no libraries, only the kernel, /init and the job.
func checkStatic(bin string) error {
	f, err := elf.Open(bin)
	if err != nil {
		return fmt.Errorf("%s: not an ELF executable: %w", bin, err)
	}
	defer f.Close()
	if f.Machine != elf.EM_X86_64 {
		return fmt.Errorf("%s: built for %v, want x86-64 (GOARCH=amd64)", bin, f.Machine)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("%s: dynamically linked; the guest has no libc: rebuild with CGO_ENABLED=0", bin)
		}
	}
	return nil
}

// cpio "newc" mode bits.
const (
	modeDir = 0o040000
	modeReg = 0o100000
	modeLnk = 0o120000
	modeChr = 0o020000
)

type writer struct {
	bw   *bufio.Writer
	off  int64
	ino  int
	seen map[string]bool
	err  error
}

func newWriter(w io.Writer) *writer {
	return &writer{bw: bufio.NewWriterSize(w, 1<<20), ino: 1, seen: map[string]bool{"": true}}
}

// header writes one entry's header and name; the caller writes size bytes
// of data and then w.pad().
func (w *writer) header(name string, mode uint32, size int64, rdevMajor, rdevMinor uint32) {
	if w.err != nil {
		return
	}
	if size > 0xffffffff {
		w.err = fmt.Errorf("%s: %d bytes is too large for a newc cpio entry", name, size)
		return
	}
	w.ino++
	nlink := 1
	if mode&0o170000 == modeDir {
		nlink = 2
	}
	hdr := fmt.Sprintf("070701%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x",
		w.ino, mode, 0, 0, nlink, 0, size, 0, 0, rdevMajor, rdevMinor, len(name)+1, 0)
	w.write([]byte(hdr))
	w.write([]byte(name))
	w.write([]byte{0})
	w.pad()
}

func (w *writer) write(b []byte) {
	if w.err != nil {
		return
	}
	n, err := w.bw.Write(b)
	w.off += int64(n)
	w.err = err
}

func (w *writer) pad() {
	if r := w.off % 4; r != 0 {
		w.write(make([]byte, 4-r))
	}
}

// archiveName turns an absolute guest path into the archive's relative form
// and creates missing parent directories first.
func (w *writer) archiveName(p string) string {
	p = strings.TrimPrefix(path.Clean("/"+filepath.ToSlash(p)), "/")
	if dir := path.Dir(p); dir != "." {
		w.dir("/"+dir, 0o755)
	}
	return p
}

func (w *writer) dir(p string, perm uint32) {
	name := strings.TrimPrefix(path.Clean("/"+filepath.ToSlash(p)), "/")
	if w.seen[name] {
		return
	}
	name = w.archiveName(p)
	w.seen[name] = true
	w.header(name, modeDir|perm, 0, 0, 0)
}

func (w *writer) node(p string, mode, major, minor uint32) {
	name := w.archiveName(p)
	w.seen[name] = true
	w.header(name, mode, 0, major, minor)
}

func (w *writer) data(p string, b []byte, perm uint32) {
	name := w.archiveName(p)
	w.seen[name] = true
	w.header(name, modeReg|perm, int64(len(b)), 0, 0)
	w.write(b)
	w.pad()
}

func (w *writer) hostFile(p, host string, perm uint32) {
	if w.err != nil {
		return
	}
	f, err := os.Open(host)
	if err != nil {
		w.err = err
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		w.err = err
		return
	}
	if !st.Mode().IsRegular() {
		w.err = fmt.Errorf("%s: not a regular file", host)
		return
	}
	name := w.archiveName(p)
	w.seen[name] = true
	w.header(name, modeReg|perm, st.Size(), 0, 0)
	if w.err != nil {
		return
	}
	n, err := io.Copy(w.bw, f)
	w.off += n
	if err == nil && n != st.Size() {
		err = fmt.Errorf("%s: changed size while being copied (%d of %d bytes)", host, n, st.Size())
	}
	if err != nil {
		w.err = err
		return
	}
	w.pad()
}

// tree copies a host folder (files, folders, symlinks; other kinds are
// skipped) to the same absolute path in the archive. If root itself is a
// symlink, its target's contents appear under root.
func (w *writer) tree(root string) {
	if w.err != nil {
		return
	}
	real, err := filepath.EvalSymlinks(root)
	if err != nil {
		w.err = fmt.Errorf("-with: %w", err)
		return
	}
	st, err := os.Stat(real)
	if err != nil {
		w.err = fmt.Errorf("-with: %w", err)
		return
	}
	if !st.IsDir() {
		w.err = fmt.Errorf("-with %s: not a folder", root)
		return
	}
	var paths []string
	err = filepath.WalkDir(real, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		paths = append(paths, p)
		return nil
	})
	if err != nil {
		w.err = fmt.Errorf("-with %s: %w", root, err)
		return
	}
	sort.Strings(paths)
	for _, p := range paths {
		rel, err := filepath.Rel(real, p)
		if err != nil {
			w.err = err
			return
		}
		guest := filepath.Join(root, rel)
		st, err := os.Lstat(p)
		if err != nil {
			w.err = err
			return
		}
		perm := uint32(st.Mode().Perm())
		switch {
		case st.IsDir():
			w.dir(guest, perm|0o200)
		case st.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				w.err = err
				return
			}
			name := w.archiveName(guest)
			w.seen[name] = true
			w.header(name, modeLnk|0o777, int64(len(target)), 0, 0)
			w.write([]byte(target))
			w.pad()
		case st.Mode().IsRegular():
			if !w.seen[strings.TrimPrefix(filepath.ToSlash(guest), "/")] {
				w.hostFile(guest, p, perm)
			}
		}
		if w.err != nil {
			return
		}
	}
}

func (w *writer) trailer() {
	w.header("TRAILER!!!", 0, 0, 0, 0)
	// Round the archive up to a 512-byte block like cpio(1) does.
	if r := w.off % 512; r != 0 && w.err == nil {
		w.write(make([]byte, 512-r))
	}
}
