package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"time"

	"github.com/spf13/cobra"

	"bioencoder/parallel"
	"bioencoder/tokenizer"
)

var benchTokFlags struct {
	path      string
	input     string
	repeat    int
	batch     int
	noSpecial bool
	limit     int
}

var benchTokenizeCmd = &cobra.Command{
	Use:   "tokenize",
	Short: "Measure tokenizer throughput (MB/s, tokens/s) on a text file",
	Long: `bench tokenize encodes every text of --input (gzip'd or plain; JSON Lines with a "text"
field, or plain text lines) with --tokenizer, once to warm up and then --repeat times, and prints
the median MB/s (UTF-8 input bytes) and tokens/s. --threads sets the worker count.`,
	Args: cobra.NoArgs,
	RunE: func(cmd *cobra.Command, args []string) error {
		f := benchTokFlags
		tk, err := tokenizer.Load(f.path)
		if err != nil {
			return err
		}
		texts, err := readBenchTexts(f.input, f.limit)
		if err != nil {
			return err
		}
		if len(texts) == 0 {
			return fmt.Errorf("%s: no texts", f.input)
		}
		if f.batch < 1 || f.repeat < 1 {
			return fmt.Errorf("--batch and --repeat must be positive")
		}
		nbytes := 0
		inputs := make([]tokenizer.Input, len(texts))
		for i, t := range texts {
			nbytes += len(t)
			inputs[i] = tokenizer.Input{Text: t}
		}
		opts := tokenizer.Options{AddSpecialTokens: !f.noSpecial}
		run := func() (time.Duration, int, error) {
			start := time.Now()
			ntok := 0
			for lo := 0; lo < len(inputs); lo += f.batch {
				hi := min(lo+f.batch, len(inputs))
				encs, err := tk.EncodeBatch(inputs[lo:hi], opts)
				if err != nil {
					return 0, 0, err
				}
				for _, e := range encs {
					ntok += e.Len()
				}
			}
			return time.Since(start), ntok, nil
		}
		if _, _, err := run(); err != nil { // warm-up (caches, page faults)
			return err
		}
		var times []time.Duration
		ntok := 0
		for r := 0; r < f.repeat; r++ {
			d, n, err := run()
			if err != nil {
				return err
			}
			times = append(times, d)
			ntok = n
		}
		sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
		med := times[len(times)/2]
		sec := med.Seconds()
		out := cmd.OutOrStdout()
		fmt.Fprintf(out, "tokenizer: %s\ninput: %s (%d texts, %.2f MB, %d tokens)\nthreads: %d  batch: %d  repeats: %d\n",
			f.path, f.input, len(texts), float64(nbytes)/1e6, ntok, parallel.Workers(), f.batch, f.repeat)
		fmt.Fprintf(out, "median %.3f s  %.2f MB/s  %.0f tokens/s  (min %.3f s, max %.3f s)\n",
			sec, float64(nbytes)/1e6/sec, float64(ntok)/sec, times[0].Seconds(), times[len(times)-1].Seconds())
		return nil
	},
}

// readBenchTexts reads texts from a (possibly gzip'd) file: JSON Lines with
// a "text" field, or plain lines.
func readBenchTexts(path string, limit int) ([]string, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	br := bufio.NewReader(fh)
	var r io.Reader = br
	if head, _ := br.Peek(2); len(head) == 2 && head[0] == 0x1f && head[1] == 0x8b {
		gz, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		defer gz.Close()
		r = gz
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<30)
	var texts []string
	line := 0
	for sc.Scan() {
		line++
		b := sc.Bytes()
		if len(bytes.TrimSpace(b)) == 0 {
			continue
		}
		if b[0] == '{' {
			var rec struct {
				Text *string `json:"text"`
			}
			if err := json.Unmarshal(b, &rec); err == nil && rec.Text != nil {
				texts = append(texts, *rec.Text)
			} else if err != nil {
				return nil, fmt.Errorf("%s line %d: %w", path, line, err)
			} else {
				return nil, fmt.Errorf("%s line %d: no \"text\" field", path, line)
			}
		} else {
			texts = append(texts, string(b))
		}
		if limit > 0 && len(texts) >= limit {
			break
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return texts, nil
}

func init() {
	f := benchTokenizeCmd.Flags()
	f.StringVar(&benchTokFlags.path, "tokenizer", "", "tokenizer.json file or model folder (required)")
	f.StringVar(&benchTokFlags.input, "input", "", "texts: JSON Lines with \"text\" or plain lines, gzip'd or not (required)")
	f.IntVar(&benchTokFlags.repeat, "repeat", 5, "timed passes over the input (the median is reported)")
	f.IntVar(&benchTokFlags.batch, "batch", 256, "texts per EncodeBatch call")
	f.BoolVar(&benchTokFlags.noSpecial, "no-special-tokens", false, "do not add special tokens")
	f.IntVar(&benchTokFlags.limit, "limit", 0, "use only the first N texts (0 = all)")
	_ = benchTokenizeCmd.MarkFlagRequired("tokenizer")
	_ = benchTokenizeCmd.MarkFlagRequired("input")
	benchCmd.AddCommand(benchTokenizeCmd)
}
