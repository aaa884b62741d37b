package index

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The crash tests re-run this test binary as a child that adds documents
// to an index and dies part way: killed by SIGKILL at a random moment, or
// exiting at a chosen step of the commit.
const (
	envChildDir  = "BIOENC_INDEX_CHILD_DIR"  // index folder
	envChildSeed = "BIOENC_INDEX_CHILD_SEED" // batch to add
	envChildExit = "BIOENC_INDEX_CHILD_EXIT" // file name prefix after whose write to exit(3)
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(envChildDir); dir != "" {
		os.Exit(crashChild(dir))
	}
	os.Exit(m.Run())
}

// crashBatch is the documents child number seed adds: new ones plus
// replacements of two existing ones (so the commit writes tombstones too).
func crashBatch(seed int) []Doc {
	docs := synthDocs(uint64(1000+seed), 600, fmt.Sprintf("b%d_", seed))
	docs = append(docs, Doc{ID: fmt.Sprintf("base%d", seed), Text: fmt.Sprintf("replaced in round %d", seed)},
		Doc{ID: fmt.Sprintf("base%d", 100+seed), Text: fmt.Sprintf("replaced too in round %d", seed)})
	return docs
}

func crashChild(dir string) int {
	seed, _ := strconv.Atoi(os.Getenv(envChildSeed))
	if step := os.Getenv(envChildExit); step != "" {
		commitHook = func(name string) error {
			if strings.HasPrefix(name, step) {
				os.Exit(3)
			}
			return nil
		}
	}
	ctx := context.Background()
	ix, err := Open(ctx, dir, OpenOptions{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 2
	}
	fmt.Println("ready")
	if err := ix.Add(ctx, crashBatch(seed)); err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 2
	}
	return 0
}

// contents maps id → text of every live document of the index in dir.
func contents(t *testing.T, dir string) map[string]string {
	t.Helper()
	ix, err := Open(context.Background(), dir, OpenOptions{Model: fixture(t, "st_embed")})
	if err != nil {
		t.Fatalf("index does not open after the crash: %v", err)
	}
	defer ix.Close()
	out := map[string]string{}
	for _, id := range ix.IDs() {
		d, _ := ix.Get(id)
		out[id] = d.Text
	}
	if _, err := ix.Search(context.Background(), "aspirin", 5); err != nil {
		t.Fatalf("search after the crash: %v", err)
	}
	return out
}

func sameContents(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// startChild runs a child adding batch seed and waits until it is about
// to add.
func startChild(t *testing.T, dir string, seed int, exitAt string) (*exec.Cmd, time.Time) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envChildDir+"="+dir, envChildSeed+"="+strconv.Itoa(seed), envChildExit+"="+exitAt)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "ready\n" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("child did not start: %q %v", line, err)
	}
	return cmd, time.Now()
}

// expectAfter is the content after batch seed is added to old.
func expectAfter(old map[string]string, seed int) map[string]string {
	n := map[string]string{}
	for k, v := range old {
		n[k] = v
	}
	for _, d := range crashBatch(seed) {
		n[d.ID] = d.Text
	}
	return n
}

func newCrashIndex(t *testing.T) string {
	dir := t.TempDir()
	base := synthDocs(77, 300, "base")
	ix, err := Build(context.Background(), dir, fixture(t, "st_embed"), base, Options{CompactRatio: -1})
	if err != nil {
		t.Fatal(err)
	}
	ix.Close()
	return dir
}

func TestCrashAtEachCommitStep(t *testing.T) {
	if testing.Short() {
		t.Skip("re-runs the test binary")
	}
	dir := newCrashIndex(t)
	for i, step := range []string{"seg-", "graph-", "tomb-", manifestName} {
		old := contents(t, dir)
		cmd, _ := startChild(t, dir, i, step)
		err := cmd.Wait()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 3 {
			t.Fatalf("step %s: child ended with %v, want exit status 3", step, err)
		}
		got := contents(t, dir)
		want, what := old, "old"
		if step == manifestName {
			want, what = expectAfter(old, i), "new"
		}
		if !sameContents(got, want) {
			t.Errorf("exit after writing %s: content is neither what it should be (%s, %d docs); got %d docs", step, what, len(want), len(got))
		}
	}
}

func TestKillDuringAdd(t *testing.T) {
	if testing.Short() {
		t.Skip("re-runs the test binary")
	}
	dir := newCrashIndex(t)
	// One undisturbed run measures how long an add takes.
	old := contents(t, dir)
	cmd, t0 := startChild(t, dir, 50, "")
	if err := cmd.Wait(); err != nil {
		t.Fatalf("child: %v", err)
	}
	span := time.Since(t0)
	if got := contents(t, dir); !sameContents(got, expectAfter(old, 50)) {
		t.Fatal("uninterrupted add gave the wrong content")
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	var olds, news int
	for round := range 8 {
		old := contents(t, dir)
		cmd, t0 := startChild(t, dir, round, "")
		delay := time.Duration(rng.Float64() * 2 * float64(span))
		time.Sleep(time.Until(t0.Add(delay)))
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		got := contents(t, dir)
		switch {
		case sameContents(got, old):
			olds++
		case sameContents(got, expectAfter(old, round)):
			news++
		default:
			t.Fatalf("round %d (killed after %v of a %v add): content is neither the old (%d docs) nor the new set; got %d docs",
				round, delay.Round(time.Millisecond), span.Round(time.Millisecond), len(old), len(got))
		}
	}
	t.Logf("add of 602 docs takes %v; 8 SIGKILLs at random moments in [0, 2×add time] left the old content %d times, the new %d times",
		span.Round(time.Millisecond), olds, news)
	// The folder is still writable and holds no leftovers after a commit.
	ix, err := Open(context.Background(), dir, OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := ix.Add(context.Background(), synthDocs(5, 3, "after")); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("leftover %s after a later commit", e.Name())
		}
	}
}

func TestFailedWriteLeavesOldState(t *testing.T) {
	// A write error part way through a commit (disk full, say) leaves
	// memory and disk at the old generation, and the next change works.
	ctx := context.Background()
	m := fixture(t, "st_embed")
	dir := newCrashIndex(t)
	ix, err := Open(ctx, dir, OpenOptions{Model: m})
	if err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, ix, queries)
	ids := liveSet(ix)
	for _, step := range []string{"seg-", "graph-", "tomb-"} {
		commitHook = func(name string) error {
			if strings.HasPrefix(name, step) {
				return fmt.Errorf("injected failure after %s", name)
			}
			return nil
		}
		err := ix.Add(ctx, crashBatch(1))
		commitHook = nil
		if err == nil || !strings.Contains(err.Error(), "injected") {
			t.Fatalf("step %s: Add returned %v", step, err)
		}
		if got := snapshot(t, ix, queries); got != before || liveSet(ix) != ids {
			t.Fatalf("step %s: memory no longer matches the committed index", step)
		}
		if err := ix.Delete(ctx, []string{"base9"}); err != nil {
			t.Fatal(err)
		}
		if _, ok := ix.Get("base9"); ok {
			t.Fatal("delete after a failed add did not take")
		}
		if err := ix.Add(ctx, []Doc{{ID: "base9", Text: "back again"}}); err != nil {
			t.Fatal(err)
		}
	}
	ix2, err := Open(ctx, dir, OpenOptions{Model: m})
	if err != nil {
		t.Fatal(err)
	}
	if liveSet(ix2) != liveSet(ix) || snapshot(t, ix2, queries) != snapshot(t, ix, queries) {
		t.Error("disk and memory differ after failed writes")
	}
	for _, e := range indexFiles(t, dir) {
		if strings.Contains(e, ".tmp-") {
			t.Errorf("leftover %s", e)
		}
	}
}
