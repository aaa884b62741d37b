package main

import (
	"encoding/binary"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// fakeELF returns the smallest ELF64 file debug/elf accepts: a header and,
// if interp, one PT_INTERP program header (what makes a binary dynamic).
func fakeELF(machine uint16, interp bool) []byte {
	b := make([]byte, 64)
	copy(b, "\x7fELF")
	b[4], b[5], b[6] = 2, 1, 1 // 64-bit, little endian, version 1
	le := binary.LittleEndian
	le.PutUint16(b[16:], 2) // ET_EXEC
	le.PutUint16(b[18:], machine)
	le.PutUint32(b[20:], 1)
	le.PutUint16(b[52:], 64) // ehsize
	le.PutUint16(b[54:], 56) // phentsize
	le.PutUint16(b[58:], 64) // shentsize
	if interp {
		le.PutUint64(b[32:], 64) // phoff
		le.PutUint16(b[56:], 1)  // phnum
		ph := make([]byte, 56)
		le.PutUint32(ph[0:], 3) // PT_INTERP
		le.PutUint64(ph[48:], 1)
		b = append(b, ph...)
	}
	return b
}

type entry struct {
	mode         uint32
	major, minor uint32
	data         string
}

// readCpio parses a newc archive, checking the format as the kernel does.
func readCpio(t *testing.T, b []byte) (map[string]entry, []string) {
	t.Helper()
	entries := map[string]entry{}
	var order []string
	off := 0
	field := func(i int) uint32 {
		v, err := strconv.ParseUint(string(b[off+6+8*i:off+14+8*i]), 16, 32)
		if err != nil {
			t.Fatalf("offset %d: field %d: %v", off, i, err)
		}
		return uint32(v)
	}
	for {
		if off+110 > len(b) || string(b[off:off+6]) != "070701" {
			t.Fatalf("offset %d: no newc header", off)
		}
		mode, size, major, minor, nameSize := field(1), int(field(6)), field(9), field(10), int(field(11))
		name := string(b[off+110 : off+110+nameSize-1])
		if b[off+110+nameSize-1] != 0 {
			t.Fatalf("%s: name not NUL-terminated", name)
		}
		off = (off + 110 + nameSize + 3) &^ 3
		data := string(b[off : off+size])
		off = (off + size + 3) &^ 3
		if name == "TRAILER!!!" {
			break
		}
		if _, dup := entries[name]; dup {
			t.Errorf("%s: appears twice", name)
		}
		if dir := filepath.Dir(name); dir != "." {
			if e, ok := entries[dir]; !ok || e.mode&0o170000 != modeDir {
				t.Errorf("%s: parent %s not created before it", name, dir)
			}
		}
		entries[name] = entry{mode, major, minor, data}
		order = append(order, name)
	}
	if len(b)%512 != 0 {
		t.Errorf("archive is %d bytes, want a multiple of 512", len(b))
	}
	return entries, order
}

func TestBuild(t *testing.T) {
	dir := t.TempDir()
	write := func(p, s string, perm os.FileMode) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(s), perm); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(dir, "bin", "k.test")
	write(bin, string(fakeELF(62, false)), 0o755)
	initBin := filepath.Join(dir, "init")
	write(initBin, "init-program", 0o755)
	pkg := filepath.Join(dir, "src", "pkg")
	write(filepath.Join(pkg, "testdata", "a.txt"), "alpha", 0o644)
	write(filepath.Join(pkg, "run.sh"), "#!/bin/sh", 0o755)
	if err := os.Symlink("testdata/a.txt", filepath.Join(pkg, "link")); err != nil {
		t.Fatal(err)
	}
	// A -with given as a symlink to a folder copies the folder's contents.
	alias := filepath.Join(dir, "alias")
	if err := os.Symlink(pkg, alias); err != nil {
		t.Fatal(err)
	}

	out := filepath.Join(dir, "initrd.cpio")
	err := build(out, initBin, pkg, []string{"A=1", "B=x=y"}, []string{pkg, alias},
		[]string{bin, "-test.run", "TestX", "arg with space"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := readCpio(t, b)
	rel := func(p string) string { return strings.TrimPrefix(p, "/") }

	tests := []struct {
		name string
		mode uint32
		data string
	}{
		{"init", modeReg | 0o755, "init-program"},
		{rel(bin), modeReg | 0o755, string(fakeELF(62, false))},
		{rel(filepath.Join(pkg, "testdata", "a.txt")), modeReg | 0o644, "alpha"},
		{rel(filepath.Join(pkg, "run.sh")), modeReg | 0o755, "#!/bin/sh"},
		{rel(filepath.Join(pkg, "link")), modeLnk | 0o777, "testdata/a.txt"},
		{rel(filepath.Join(alias, "testdata", "a.txt")), modeReg | 0o644, "alpha"},
		{"dev/console", modeChr | 0o600, ""},
		{"tmp", modeDir | 0o1777, ""},
	}
	for _, tc := range tests {
		e, ok := got[tc.name]
		if !ok {
			t.Errorf("%s: missing", tc.name)
			continue
		}
		if e.mode != tc.mode || e.data != tc.data {
			t.Errorf("%s: mode %o data %q, want mode %o data %q", tc.name, e.mode, e.data, tc.mode, tc.data)
		}
	}
	if c := got["dev/console"]; c.major != 5 || c.minor != 1 {
		t.Errorf("dev/console is %d:%d, want 5:1", c.major, c.minor)
	}

	var job struct {
		Argv   []string
		Dir    string
		Env    []string
		Output string
	}
	if err := json.Unmarshal([]byte(got[rel(jobPath)].data), &job); err != nil {
		t.Fatalf("%s: %v", jobPath, err)
	}
	wantArgv := []string{bin, "-test.run", "TestX", "arg with space"}
	if strings.Join(job.Argv, "|") != strings.Join(wantArgv, "|") || job.Dir != pkg ||
		strings.Join(job.Env, "|") != "A=1|B=x=y" || job.Output != outputDev {
		t.Errorf("job = %+v, want argv %q dir %s env [A=1 B=x=y] output %s", job, wantArgv, pkg, outputDev)
	}
}

func TestBuildRejects(t *testing.T) {
	dir := t.TempDir()
	mk := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	static := mk("static", fakeELF(62, false))
	initBin := mk("init", []byte("x"))
	tests := []struct {
		name  string
		bin   string
		cwd   string
		env   []string
		withs []string
		want  string
	}{
		{"dynamic", mk("dynamic", fakeELF(62, true)), "", nil, nil, "CGO_ENABLED=0"},
		{"arm64", mk("arm64", fakeELF(183, false)), "", nil, nil, "want x86-64"},
		{"script", mk("script", []byte("#!/bin/sh\n")), "", nil, nil, "not an ELF"},
		{"missing", filepath.Join(dir, "nope"), "", nil, nil, "no such file"},
		{"relative cwd", static, "pkg", nil, nil, "absolute path"},
		{"bad env", static, "", []string{"NOEQUALS"}, nil, "KEY=VALUE"},
		{"with file", static, "", nil, []string{static}, "not a folder"},
		{"with missing", static, "", nil, []string{filepath.Join(dir, "gone")}, "no such file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := build(filepath.Join(dir, tc.name+".cpio"), initBin, tc.cwd, tc.env, tc.withs, []string{tc.bin})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}
