package eval

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
)

func fmtNum(v float64, prec int) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "n/a"
	}
	return fmt.Sprintf("%.*f", prec, v)
}

func table(w io.Writer, head []string, rows [][]string) {
	fmt.Fprintf(w, "| %s |\n", strings.Join(head, " | "))
	fmt.Fprintf(w, "|%s\n", strings.Repeat("---|", len(head)))
	for _, r := range rows {
		fmt.Fprintf(w, "| %s |\n", strings.Join(r, " | "))
	}
}

// SimilarityTables prints Pearson x100 and Spearman x100 tables in the
// shape of EVALUATION.md's (model | dataset... | average).
func SimilarityTables(w io.Writer, reps []SimilarityReport) {
	if len(reps) == 0 {
		return
	}
	head := []string{"model"}
	for _, d := range reps[0].Datasets {
		head = append(head, d.Dataset)
	}
	head = append(head, "average")
	for _, metric := range []string{"Pearson", "Spearman"} {
		fmt.Fprintf(w, "Embedding similarity, %s correlation x 100 (N true + N deranged pairs):\n\n", metric)
		var rows [][]string
		for _, r := range reps {
			row := []string{r.Model}
			for _, d := range r.Datasets {
				v := d.Pearson
				if metric == "Spearman" {
					v = d.Spearman
				}
				row = append(row, fmtNum(float64(v), 2))
			}
			avg := r.AvgPearson
			if metric == "Spearman" {
				avg = r.AvgSpearman
			}
			rows = append(rows, append(row, fmtNum(float64(avg), 2)))
		}
		table(w, head, rows)
		fmt.Fprintln(w)
	}
}

// ClassificationTable prints model | accuracy | loss.
func ClassificationTable(w io.Writer, title string, res []ClassificationResult) {
	fmt.Fprintf(w, "%s:\n\n", title)
	var rows [][]string
	for _, r := range res {
		rows = append(rows, []string{r.Model, fmtNum(r.Accuracy, 4), fmtNum(float64(r.Loss), 4)})
	}
	table(w, []string{"model", "accuracy", "loss"}, rows)
	fmt.Fprintln(w)
}

// NERTable prints model | precision | recall | F1 (test, strict IOB2).
func NERTable(w io.Writer, res []NERResult) {
	fmt.Fprintf(w, "NCBI-disease NER, test entity-level (exact span and type, IOB2):\n\n")
	var rows [][]string
	for _, r := range res {
		rows = append(rows, []string{r.Model, fmtNum(r.Test.Precision, 4), fmtNum(r.Test.Recall, 4), fmtNum(r.Test.F1, 4),
			fmtNum(r.Dev.F1, 4)})
	}
	table(w, []string{"model", "precision", "recall", "F1", "dev F1"}, rows)
	fmt.Fprintln(w)
}

// ChemProtTable prints model | accuracy | micro-F1 (test), with dev accuracy.
func ChemProtTable(w io.Writer, res []ChemProtResult) {
	fmt.Fprintf(w, "ChemProt (13 relation classes, SciBERT split), test; micro-F1 excludes %q:\n\n", ChemProtNegative)
	var rows [][]string
	for _, r := range res {
		rows = append(rows, []string{r.Model, fmtNum(r.Accuracy, 4), fmtNum(r.MicroF1, 4), fmtNum(r.DevAccuracy, 4)})
	}
	table(w, []string{"model", "accuracy", "micro-F1", "dev accuracy"}, rows)
	fmt.Fprintln(w)
}

// FillMaskTable prints model | top-1 | top-k | n.
func FillMaskTable(w io.Writer, res []FillMaskResult) {
	if len(res) == 0 {
		return
	}
	fmt.Fprintf(w, "Fill-mask on held-out abstracts (one masked single-token word each):\n\n")
	var rows [][]string
	for _, r := range res {
		rows = append(rows, []string{r.Model, fmtNum(r.Top1, 4), fmtNum(r.TopK, 4), fmt.Sprint(r.N)})
	}
	table(w, []string{"model", "top-1", fmt.Sprintf("top-%d", res[0].K), "n"}, rows)
	fmt.Fprintln(w)
}

// Report is the JSON result of one `bioenc eval` run.
type Report struct {
	Task           string                 `json:"task"`
	Seed           uint64                 `json:"seed"`
	Limit          int                    `json:"limit,omitempty"`
	Similarity     []SimilarityReport     `json:"similarity,omitempty"`
	Classification []ClassificationResult `json:"classification,omitempty"`
	NER            []NERResult            `json:"ner,omitempty"`
	ChemProt       []ChemProtResult       `json:"chemprot,omitempty"`
	FillMask       []FillMaskResult       `json:"fill_mask,omitempty"`
	Seconds        float64                `json:"seconds"`
}

// WriteJSON writes the report, indented.
func (r *Report) WriteJSON(w io.Writer) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}
