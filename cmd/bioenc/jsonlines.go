package main

// Shared plumbing of the model commands (embed, rerank, colbert, fill-mask,
// classify, ner, similarity): texts from arguments or JSON Lines on stdin,
// model loading with clear errors, JSON Lines out.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"bioencoder"
)

// inputLine is one line of JSON Lines input; each command reads the fields
// it needs.
type inputLine struct {
	Text     *string `json:"text"`
	Pair     *string `json:"pair"`
	Query    *string `json:"query"`
	Document *string `json:"document"`
}

// readInputLines parses JSON Lines (blank lines skipped). Errors name the
// line.
func readInputLines(r io.Reader) ([]inputLine, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<30)
	var out []inputLine
	for n := 1; sc.Scan(); n++ {
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		var l inputLine
		if err := json.Unmarshal(b, &l); err != nil {
			return nil, fmt.Errorf("stdin line %d: not a JSON object: %v", n, err)
		}
		out = append(out, l)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading stdin: %w", err)
	}
	return out, nil
}

// stdinLines reads the command's stdin as JSON Lines, refusing to wait on
// an interactive terminal.
func stdinLines(cmd *cobra.Command) ([]inputLine, error) {
	in := cmd.InOrStdin()
	if f, ok := in.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			return nil, errors.New("no input: pass texts as arguments or JSON Lines on stdin (see --help)")
		}
	}
	lines, err := readInputLines(in)
	if err != nil {
		return nil, err
	}
	if len(lines) == 0 {
		return nil, errors.New("no input: pass texts as arguments or JSON Lines on stdin (see --help)")
	}
	return lines, nil
}

// inputTexts returns the arguments, or else the "text" field of every
// stdin line ("text" or "document" when docs is set).
func inputTexts(cmd *cobra.Command, args []string, docs bool) ([]string, error) {
	if len(args) > 0 {
		return args, nil
	}
	lines, err := stdinLines(cmd)
	if err != nil {
		return nil, err
	}
	texts := make([]string, len(lines))
	for i, l := range lines {
		v, want := l.Text, `"text"`
		if docs {
			want = `"text" or "document"`
			if v == nil {
				v = l.Document
			}
		}
		if v == nil {
			return nil, fmt.Errorf("stdin line %d: no %s field", i+1, want)
		}
		if l.Pair != nil {
			return nil, fmt.Errorf("stdin line %d: %s takes single texts, not pairs", i+1, cmd.Name())
		}
		texts[i] = *v
	}
	return texts, nil
}

// loadModel opens a model folder for a command.
func loadModel(dir string) (*bioencoder.Model, error) {
	if dir == "" {
		return nil, errors.New("--model is required")
	}
	st, err := os.Stat(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("model folder %s does not exist", dir)
		}
		return nil, err
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("%s is not a model folder", dir)
	}
	return bioencoder.Load(dir)
}

// jsonLines writes one JSON value per line (non-ASCII kept, no HTML
// escaping).
type jsonLines struct {
	w   *bufio.Writer
	enc *json.Encoder
}

func newJSONLines(w io.Writer) *jsonLines {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	return &jsonLines{w: bw, enc: enc}
}

func (j *jsonLines) put(v any) error { return j.enc.Encode(v) }

func (j *jsonLines) flush() error { return j.w.Flush() }

// modelFlag adds the --model flag every model command takes.
func modelFlag(c *cobra.Command, dst *string) {
	c.Flags().StringVar(dst, "model", "", "model folder (Hugging Face, sentence-transformers, CrossEncoder or PyLate)")
}

// chunk is how many texts go to the model per call, so output streams and
// memory stays bounded on long inputs.
const chunk = 256
