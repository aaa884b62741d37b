// Command loadtest drives a bioenc server on this machine with N concurrent
// clients for a fixed time and reports throughput, latency percentiles and
// errors by status. It stops by itself, and only talks to loopback
// addresses.
//
//	go run ./tools/loadtest -url http://127.0.0.1:8080/embed -c 16 -d 20s
//	go run ./tools/loadtest -url http://127.0.0.1:8080/v1/embeddings -api openai -batch 8 -pid $(pgrep -n bioenc)
//
// Each request carries -batch texts drawn in turn from a built-in set of
// biomedical sentences (or the lines of -texts). With -pid, the server's
// peak resident memory (VmHWM) and current RSS are read from /proc at the end.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

var sentences = []string{
	"Aspirin irreversibly inhibits cyclooxygenase-1 and reduces platelet aggregation.",
	"Metformin lowers hepatic glucose production in patients with type 2 diabetes.",
	"The BRCA1 gene encodes a protein involved in DNA double-strand break repair.",
	"Chronic kidney disease is associated with an increased risk of cardiovascular events.",
	"Statins reduce low-density lipoprotein cholesterol by inhibiting HMG-CoA reductase.",
	"Tumor necrosis factor alpha is a key mediator of inflammation in rheumatoid arthritis.",
	"The patient presented with fever, cough and bilateral infiltrates on chest radiography.",
	"Insulin resistance precedes the onset of overt hyperglycemia by several years.",
	"Warfarin requires regular monitoring of the international normalized ratio.",
	"Mutations in the CFTR gene cause cystic fibrosis.",
	"Beta blockers decrease myocardial oxygen demand by lowering heart rate.",
	"SARS-CoV-2 enters host cells through the angiotensin-converting enzyme 2 receptor.",
	"Levothyroxine is the standard treatment for primary hypothyroidism.",
	"Amyloid beta plaques and tau tangles are hallmarks of Alzheimer's disease.",
	"Proton pump inhibitors suppress gastric acid secretion.",
	"The randomized trial found no significant difference in overall survival.",
}

type sample struct {
	status int // 0: transport error
	took   time.Duration
}

func main() {
	target := flag.String("url", "http://127.0.0.1:8080/embed", "endpoint to POST to (loopback only)")
	api := flag.String("api", "tei", "request shape: tei ({\"inputs\": ...}) or openai ({\"input\": ...})")
	clients := flag.Int("c", 16, "concurrent clients")
	dur := flag.Duration("d", 20*time.Second, "how long to send requests (after warm-up)")
	warmup := flag.Duration("warmup", 2*time.Second, "time to send requests before measuring")
	batch := flag.Int("batch", 1, "texts per request")
	textsFile := flag.String("texts", "", "file with one text per line (default: built-in sentences)")
	timeout := flag.Duration("timeout", 30*time.Second, "per-request timeout")
	pid := flag.Int("pid", 0, "server process id: report its peak RSS (VmHWM) from /proc")
	asJSON := flag.Bool("json", false, "print the report as JSON")
	flag.Parse()

	if err := run(*target, *api, *clients, *dur, *warmup, *batch, *textsFile, *timeout, *pid, *asJSON); err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
}

func run(target, api string, clients int, dur, warmup time.Duration, batch int, textsFile string,
	timeout time.Duration, pid int, asJSON bool) error {
	if clients < 1 || clients > 1024 {
		return fmt.Errorf("-c must be between 1 and 1024, got %d", clients)
	}
	if dur <= 0 || dur > 10*time.Minute {
		return fmt.Errorf("-d must be positive and at most 10m, got %v", dur)
	}
	if batch < 1 {
		return fmt.Errorf("-batch must be positive, got %d", batch)
	}
	if api != "tei" && api != "openai" {
		return fmt.Errorf("-api must be tei or openai, got %q", api)
	}
	if err := checkLoopback(target); err != nil {
		return err
	}
	texts := sentences
	if textsFile != "" {
		var err error
		if texts, err = readLines(textsFile); err != nil {
			return err
		}
	}
	bodies := makeBodies(texts, batch, api)

	client := &http.Client{Timeout: timeout, Transport: &http.Transport{
		MaxIdleConns: clients, MaxIdleConnsPerHost: clients, IdleConnTimeout: time.Minute,
	}}
	start := time.Now()
	measureFrom := start.Add(warmup)
	stop := measureFrom.Add(dur)
	ctx, cancel := context.WithDeadline(context.Background(), stop)
	defer cancel()

	// Server CPU time over the measured window: on a shared machine it is
	// steadier than wall-clock throughput.
	cpu0 := make(chan float64, 1)
	if pid > 0 {
		go func() {
			time.Sleep(time.Until(measureFrom))
			cpu0 <- procCPU(pid)
		}()
	}

	var next atomic.Int64
	results := make([][]sample, clients)
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			for ctx.Err() == nil {
				body := bodies[int(next.Add(1))%len(bodies)]
				t0 := time.Now()
				status := post(ctx, client, target, body)
				t1 := time.Now()
				if t0.Before(measureFrom) || t1.After(stop) {
					continue // warm-up, or cut off by the end
				}
				results[c] = append(results[c], sample{status, t1.Sub(t0)})
			}
		}(c)
	}
	wg.Wait()

	var all []sample
	for _, r := range results {
		all = append(all, r...)
	}
	rep := summarize(all, dur, batch)
	rep.URL, rep.Clients, rep.Batch = target, clients, batch
	if pid > 0 {
		rep.ServerPeakRSSMiB, rep.ServerRSSMiB = procMemory(pid)
		rep.ServerCPUSeconds = procCPU(pid) - <-cpu0
		if rep.OK > 0 {
			rep.ServerCPUmsPerRequest = 1000 * rep.ServerCPUSeconds / float64(rep.OK)
		}
	}
	if asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	rep.print(os.Stdout)
	return nil
}

// checkLoopback refuses any target that is not this machine.
func checkLoopback(target string) error {
	u, err := url.Parse(target)
	if err != nil {
		return err
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("-url %s: want http:// or https://", target)
	}
	host := u.Hostname()
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("-url %s: only loopback addresses (127.0.0.0/8, ::1, localhost) may be load-tested", target)
	}
	return nil
}

func readLines(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" {
			out = append(out, line)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s has no text", path)
	}
	return out, nil
}

// makeBodies prepares one request body per starting text, so that the
// clients rotate through the texts without building JSON in the loop.
func makeBodies(texts []string, batch int, api string) [][]byte {
	bodies := make([][]byte, len(texts))
	for i := range texts {
		var in any
		if batch == 1 {
			in = texts[i]
		} else {
			list := make([]string, batch)
			for k := range list {
				list[k] = texts[(i+k)%len(texts)]
			}
			in = list
		}
		key := "inputs"
		if api == "openai" {
			key = "input"
		}
		bodies[i], _ = json.Marshal(map[string]any{key: in})
	}
	return bodies
}

func post(ctx context.Context, client *http.Client, target string, body []byte) int {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return 0
	}
	req.Header.Set("Content-Type", "application/json")
	if key := os.Getenv("BIOENC_API_KEY"); key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := client.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			return -1 // cut off by the end of the run
		}
		return 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

type report struct {
	URL              string         `json:"url"`
	Clients          int            `json:"clients"`
	Batch            int            `json:"batch"`
	Seconds          float64        `json:"seconds"`
	Requests         int            `json:"requests"`
	OK               int            `json:"ok"`
	ErrorsByStatus   map[string]int `json:"errors_by_status"`
	RequestsPerSec   float64        `json:"requests_per_sec"`
	TextsPerSec      float64        `json:"texts_per_sec"`
	P50ms            float64        `json:"p50_ms"`
	P90ms            float64        `json:"p90_ms"`
	P99ms            float64        `json:"p99_ms"`
	Maxms            float64        `json:"max_ms"`
	ServerPeakRSSMiB float64        `json:"server_peak_rss_mib,omitempty"`
	ServerRSSMiB     float64        `json:"server_rss_mib,omitempty"`

	ServerCPUSeconds      float64 `json:"server_cpu_seconds,omitempty"`
	ServerCPUmsPerRequest float64 `json:"server_cpu_ms_per_request,omitempty"`
}

func summarize(all []sample, dur time.Duration, batch int) report {
	rep := report{Seconds: dur.Seconds(), ErrorsByStatus: map[string]int{}}
	var lat []time.Duration
	for _, s := range all {
		if s.status == -1 {
			continue
		}
		rep.Requests++
		if s.status == http.StatusOK {
			rep.OK++
			lat = append(lat, s.took)
			continue
		}
		key := fmt.Sprint(s.status)
		if s.status == 0 {
			key = "transport"
		}
		rep.ErrorsByStatus[key]++
	}
	rep.RequestsPerSec = float64(rep.OK) / dur.Seconds()
	rep.TextsPerSec = rep.RequestsPerSec * float64(batch)
	sort.Slice(lat, func(a, b int) bool { return lat[a] < lat[b] })
	pct := func(p float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		i := int(p*float64(len(lat)-1) + 0.5)
		return float64(lat[i].Microseconds()) / 1000
	}
	rep.P50ms, rep.P90ms, rep.P99ms, rep.Maxms = pct(0.50), pct(0.90), pct(0.99), pct(1)
	return rep
}

func (r report) print(w io.Writer) {
	fmt.Fprintf(w, "url:          %s\n", r.URL)
	fmt.Fprintf(w, "clients:      %d, %d text(s) per request, %.0f s measured\n", r.Clients, r.Batch, r.Seconds)
	fmt.Fprintf(w, "requests:     %d (%d ok)\n", r.Requests, r.OK)
	fmt.Fprintf(w, "throughput:   %.1f req/s, %.1f texts/s\n", r.RequestsPerSec, r.TextsPerSec)
	fmt.Fprintf(w, "latency (ok): p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms\n", r.P50ms, r.P90ms, r.P99ms, r.Maxms)
	if len(r.ErrorsByStatus) == 0 {
		fmt.Fprintln(w, "errors:       none")
	} else {
		keys := make([]string, 0, len(r.ErrorsByStatus))
		for k := range r.ErrorsByStatus {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		fmt.Fprint(w, "errors:      ")
		for _, k := range keys {
			fmt.Fprintf(w, " %s: %d", k, r.ErrorsByStatus[k])
		}
		fmt.Fprintln(w)
	}
	if r.ServerPeakRSSMiB > 0 {
		fmt.Fprintf(w, "server RSS:   peak (VmHWM) %.1f MiB, now %.1f MiB\n", r.ServerPeakRSSMiB, r.ServerRSSMiB)
		fmt.Fprintf(w, "server CPU:   %.1f s over the window, %.3f ms per request\n", r.ServerCPUSeconds, r.ServerCPUmsPerRequest)
	}
}

// procMemory reads VmHWM and VmRSS (MiB) of a process.
func procMemory(pid int) (peak, now float64) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadtest: reading server memory:", err)
		return 0, 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		var kb float64
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			fmt.Sscanf(strings.TrimSpace(v), "%f", &kb)
			peak = kb / 1024
		} else if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			fmt.Sscanf(strings.TrimSpace(v), "%f", &kb)
			now = kb / 1024
		}
	}
	return peak, now
}

// procCPU is the user+system CPU time of a process, in seconds.
func procCPU(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name (field 2) may hold spaces; fields after it are plain.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0
	}
	var ut, st float64
	fmt.Sscanf(f[11], "%f", &ut)
	fmt.Sscanf(f[12], "%f", &st)
	return (ut + st) / 100 // USER_HZ is 100 on Linux
}
