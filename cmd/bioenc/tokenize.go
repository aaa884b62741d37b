package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"bioencoder/tokenizer"
)

// tokenize: JSON Lines in ({"text": ..., "pair": ...}), one encoding per line out.
var tokenizeFlags struct {
	path      string
	maxLength int
	noSpecial bool
}

var tokenizeCmd = &cobra.Command{
	Use:   "tokenize",
	Short: "Encode JSON Lines {\"text\", \"pair\"} from stdin with a tokenizer.json or model folder",
	Long: `tokenize reads JSON Lines from stdin, each {"text": "...", "pair": "..."} (pair optional or
null), and writes one JSON line per input with ids, tokens, type_ids, attention_mask,
special_tokens_mask and offsets (Unicode code points, as Python's return_offsets_mapping).
--max-length N truncates longest-first with the special tokens counted inside N.`,
	Args: cobra.NoArgs,
	RunE: func(cmd *cobra.Command, args []string) error {
		tk, err := tokenizer.Load(tokenizeFlags.path)
		if err != nil {
			return err
		}
		opts := tokenizer.Options{AddSpecialTokens: !tokenizeFlags.noSpecial, MaxLength: tokenizeFlags.maxLength}
		if opts.MaxLength < 0 {
			return fmt.Errorf("--max-length must not be negative")
		}
		return runTokenize(tk, opts, cmd.InOrStdin(), cmd.OutOrStdout())
	},
}

// tokenizeBatch is how many lines are encoded together (in parallel).
const tokenizeBatch = 512

func runTokenize(tk *tokenizer.Tokenizer, opts tokenizer.Options, in io.Reader, out io.Writer) error {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 1<<30)
	w := bufio.NewWriter(out)
	defer w.Flush()
	var batch []tokenizer.Input
	line := 0
	first := 0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		encs, err := tk.EncodeBatch(batch, opts)
		if err != nil {
			return fmt.Errorf("lines %d-%d: %w", first, line, err)
		}
		var buf []byte
		for _, e := range encs {
			buf = appendEncodingJSON(buf[:0], e)
			if _, err := w.Write(buf); err != nil {
				return err
			}
		}
		batch = batch[:0]
		return nil
	}
	for sc.Scan() {
		line++
		b := sc.Bytes()
		if len(trimSpace(b)) == 0 {
			continue
		}
		var rec struct {
			Text *string `json:"text"`
			Pair *string `json:"pair"`
		}
		if err := json.Unmarshal(b, &rec); err != nil {
			return fmt.Errorf("stdin line %d: %w", line, err)
		}
		if rec.Text == nil {
			return fmt.Errorf("stdin line %d: no \"text\" field", line)
		}
		if len(batch) == 0 {
			first = line
		}
		in := tokenizer.Input{Text: *rec.Text}
		if rec.Pair != nil {
			in.Pair, in.HasPair = *rec.Pair, true
		}
		batch = append(batch, in)
		if len(batch) == tokenizeBatch {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("stdin: %w", err)
	}
	return flush()
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\r') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

// appendEncodingJSON writes one output line by hand (encoding/json would
// reflect over every field of every line).
func appendEncodingJSON(b []byte, e *tokenizer.Encoding) []byte {
	ints := func(b []byte, key string, v []int) []byte {
		b = append(b, '"')
		b = append(b, key...)
		b = append(b, `":[`...)
		for i, x := range v {
			if i > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendInt(b, int64(x), 10)
		}
		return append(b, ']')
	}
	b = append(b, '{')
	b = ints(b, "ids", e.IDs)
	b = append(b, `,"tokens":[`...)
	for i, t := range e.Tokens {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, t)
	}
	b = append(b, ']', ',')
	b = ints(b, "type_ids", e.TypeIDs)
	b = append(b, ',')
	b = ints(b, "attention_mask", e.AttentionMask)
	b = append(b, ',')
	b = ints(b, "special_tokens_mask", e.SpecialTokensMask)
	b = append(b, `,"offsets":[`...)
	for i, o := range e.Offsets {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '[')
		b = strconv.AppendInt(b, int64(o[0]), 10)
		b = append(b, ',')
		b = strconv.AppendInt(b, int64(o[1]), 10)
		b = append(b, ']')
	}
	return append(b, "]}\n"...)
}

// appendJSONString quotes s as JSON; invalid UTF-8 becomes U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c < 0x20 || c == 0x7f:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			b = append(b, `\ufffd`...)
		case r == 0x2028 || r == 0x2029:
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&15])
		default:
			b = append(b, s[i:i+n]...)
		}
		i += n
	}
	return append(b, '"')
}

// detokenize: JSON Lines {"ids": [...]} in, {"text": "..."} out.
var detokenizeFlags struct {
	path        string
	skipSpecial bool
}

var detokenizeCmd = &cobra.Command{
	Use:   "detokenize",
	Short: "Decode JSON Lines {\"ids\": [...]} from stdin into {\"text\": ...}",
	Args:  cobra.NoArgs,
	RunE: func(cmd *cobra.Command, args []string) error {
		tk, err := tokenizer.Load(detokenizeFlags.path)
		if err != nil {
			return err
		}
		sc := bufio.NewScanner(cmd.InOrStdin())
		sc.Buffer(make([]byte, 1<<20), 1<<30)
		w := bufio.NewWriter(cmd.OutOrStdout())
		defer w.Flush()
		line := 0
		var buf []byte
		for sc.Scan() {
			line++
			if len(trimSpace(sc.Bytes())) == 0 {
				continue
			}
			var rec struct {
				IDs *[]int `json:"ids"`
			}
			if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
				return fmt.Errorf("stdin line %d: %w", line, err)
			}
			if rec.IDs == nil {
				return fmt.Errorf("stdin line %d: no \"ids\" field", line)
			}
			buf = append(buf[:0], `{"text":`...)
			buf = appendJSONString(buf, tk.Decode(*rec.IDs, detokenizeFlags.skipSpecial))
			buf = append(buf, "}\n"...)
			if _, err := w.Write(buf); err != nil {
				return err
			}
		}
		if err := sc.Err(); err != nil {
			return fmt.Errorf("stdin: %w", err)
		}
		return nil
	},
}

func init() {
	f := tokenizeCmd.Flags()
	f.StringVar(&tokenizeFlags.path, "tokenizer", "", "tokenizer.json file or model folder (required)")
	f.IntVar(&tokenizeFlags.maxLength, "max-length", 0, "truncate to N tokens, special tokens included (0 = no truncation)")
	f.BoolVar(&tokenizeFlags.noSpecial, "no-special-tokens", false, "do not add [CLS]/[SEP] (or the model's equivalents)")
	_ = tokenizeCmd.MarkFlagRequired("tokenizer")
	root.AddCommand(tokenizeCmd)

	d := detokenizeCmd.Flags()
	d.StringVar(&detokenizeFlags.path, "tokenizer", "", "tokenizer.json file or model folder (required)")
	d.BoolVar(&detokenizeFlags.skipSpecial, "skip-special-tokens", false, "leave special tokens out of the text")
	_ = detokenizeCmd.MarkFlagRequired("tokenizer")
	root.AddCommand(detokenizeCmd)
}
