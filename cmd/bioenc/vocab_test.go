package main

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"bioencoder/tokenizer"
)

// TestVocabTrainCommand runs `bioenc vocab train` and `vocab stats` on a
// small gzip'd JSON Lines corpus.
func TestVocabTrainCommand(t *testing.T) {
	dir := t.TempDir()
	var raw bytes.Buffer
	gz := gzip.NewWriter(&raw)
	for i, s := range []string{
		"the cell cycle of the cells", "cells divide; the cycle repeats", "Dividing CELLS cycle again",
		"held out text with unseen zebra words",
	} {
		gz.Write([]byte(`{"id": ` + string(rune('1'+i)) + `, "text": "` + s + `"}` + "\n"))
	}
	gz.Close()
	corpusPath := filepath.Join(dir, "c.jsonl.gz")
	if err := os.WriteFile(corpusPath, raw.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "vocab")
	var stdout bytes.Buffer
	root.SetOut(&stdout)
	root.SetArgs([]string{"vocab", "train", "--corpus", corpusPath, "--out", out, "--vocab-size", "60",
		"--min-frequency", "2", "--special-tokens", "[PAD], [UNK],[CLS],[SEP],[MASK],<x>", "--exclude-ids-from", "4"})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout.String(), "3 documents") || !strings.Contains(stdout.String(), "(1 records with id >= 4 excluded)") {
		t.Errorf("output:\n%s", stdout.String())
	}
	tk, err := tokenizer.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	if id, ok := tk.TokenToID("<x>"); !ok || id != 5 || !tk.IsSpecial(id) {
		t.Errorf("<x> has id %d (%v)", id, ok)
	}
	// The held-out record was not counted: "zebra" has no characters of
	// its own in the vocabulary.
	if _, ok := tk.TokenToID("z"); ok {
		t.Error("excluded text reached the vocabulary")
	}
	if _, ok := tk.TokenToID("cycle"); !ok {
		t.Error("frequent word \"cycle\" was not learned")
	}

	stdout.Reset()
	root.SetArgs([]string{"vocab", "stats", "--corpus", corpusPath, "--exclude-ids-from", "4", "--longest", "3", out})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	if s := stdout.String(); !strings.Contains(s, "3 docs") || !strings.Contains(s, "0.000% [UNK]") || !strings.Contains(s, "longest: ") {
		t.Errorf("stats output:\n%s", s)
	}

	root.SetArgs([]string{"vocab", "train", "--corpus", corpusPath, "--out", out, "--special-tokens", "[PAD]", "--exclude-ids-from", "-1"})
	if err := root.Execute(); err == nil || !strings.Contains(err.Error(), "[UNK]") {
		t.Errorf("missing [UNK]: %v", err)
	}
}
