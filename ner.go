package bioencoder

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"unicode/utf8"

	"bioencoder/config"
	"bioencoder/tokenizer"
)

// Aggregation is how Entities merges token predictions, as the
// aggregation_strategy of transformers' token-classification pipeline.
type Aggregation int

const (
	// AggregateNone reports every token whose label is not "O".
	AggregateNone Aggregation = iota
	// AggregateSimple groups adjacent tokens with the same tag (B-X starts a
	// new group, I-X or a bare X continues one), averaging their scores.
	AggregateSimple
	// AggregateFirst labels each word with its first token's label, then
	// groups words as AggregateSimple does.
	AggregateFirst
	// AggregateAverage labels each word by its tokens' averaged label
	// probabilities, then groups words.
	AggregateAverage
	// AggregateMax labels each word with the label of its most confident
	// token, then groups words.
	AggregateMax
)

var aggregationNames = [...]string{"none", "simple", "first", "average", "max"}

func (a Aggregation) String() string {
	if a >= 0 && int(a) < len(aggregationNames) {
		return aggregationNames[a]
	}
	return fmt.Sprintf("Aggregation(%d)", int(a))
}

// ParseAggregation reads a strategy name: none, simple, first, average, max
// (any case).
func ParseAggregation(s string) (Aggregation, error) {
	for i, n := range aggregationNames {
		if strings.EqualFold(s, n) {
			return Aggregation(i), nil
		}
	}
	return 0, fmt.Errorf("bioencoder: unknown aggregation %q (want none, simple, first, average or max)", s)
}

// Entity is one result of the token-classification pipeline: a token
// (AggregateNone) or a group of tokens or words.
type Entity struct {
	// Label is the predicted label: "entity" of a token (AggregateNone), or
	// "entity_group" of a group - the label without its B-/I- prefix.
	Label string
	Score float32 // the label's probability (averaged over a group)
	Word  string  // the token, or the group's tokens joined by the decoder
	// Start and End delimit the entity in the original text, in Unicode
	// code points (Python string indices).
	Start, End int
	// Index is the token's position in the encoding (special tokens
	// included) for AggregateNone, and -1 for groups.
	Index int
}

// Grouped reports whether e is a group (any aggregation but none).
func (e Entity) Grouped() bool { return e.Index < 0 }

// MarshalJSON writes the keys the pipeline returns: entity, score, index,
// word, start, end for tokens; entity_group, score, word, start, end for
// groups.
func (e Entity) MarshalJSON() ([]byte, error) {
	if e.Grouped() {
		return json.Marshal(struct {
			Group string  `json:"entity_group"`
			Score float32 `json:"score"`
			Word  string  `json:"word"`
			Start int     `json:"start"`
			End   int     `json:"end"`
		}{e.Label, e.Score, e.Word, e.Start, e.End})
	}
	return json.Marshal(struct {
		Entity string  `json:"entity"`
		Score  float32 `json:"score"`
		Index  int     `json:"index"`
		Word   string  `json:"word"`
		Start  int     `json:"start"`
		End    int     `json:"end"`
	}{e.Label, e.Score, e.Index, e.Word, e.Start, e.End})
}

// ignoredLabel is the pipeline's default ignore_labels.
const ignoredLabel = "O"

// Entities runs a token classifier on each text and returns its entities
// with the semantics of transformers' token-classification pipeline:
// softmax over the labels of every non-special token, then the aggregation
// strategy, then entities labelled "O" dropped. Texts are encoded with
// special tokens and truncated to the model's limit (unless
// WithTruncation(false)). Words, for first/average/max, follow the
// pipeline's rule: with a word-aware tokenizer (a continuing-subword prefix
// such as WordPiece's "##") a token is inside a word when its string is
// not as long as the text it covers; otherwise when it does not follow a
// space.
func (m *Model) Entities(ctx context.Context, texts []string, agg Aggregation) ([][]Entity, error) {
	if m.net.Task() != config.TokenClassification {
		return nil, fmt.Errorf("bioencoder: %s has no token-classification head (it is a %s model); NER needs a ...ForTokenClassification checkpoint", m.dir, m.kind)
	}
	if agg < AggregateNone || agg > AggregateMax {
		return nil, fmt.Errorf("bioencoder: unknown aggregation %v", agg)
	}
	in := make([]tokenizer.Input, len(texts))
	for i, t := range texts {
		in[i] = tokenizer.Input{Text: t}
	}
	encs, err := m.encode(in, m.maxLen)
	if err != nil {
		return nil, err
	}
	out := make([][]Entity, len(encs))
	err = m.forEachBatch(ctx, lengths(encs), func(r *runner, lo, hi int) error {
		b := m.batchOf(encs[lo:hi])
		h, err := m.net.Encode(r.g, b, nil)
		if err != nil {
			return err
		}
		lg, err := m.net.TokenLogits(r.g, h)
		if err != nil {
			return err
		}
		for i := lo; i < hi; i++ {
			s, e := b.Seq(i - lo)
			out[i] = m.entities(texts[i], encs[i], lg.Data[s*lg.Cols:e*lg.Cols], lg.Cols, agg)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// preEntity is one non-special token with its label probabilities
// (gather_pre_entities).
type preEntity struct {
	word       string
	scores     []float64
	start, end int
	index      int
	subword    bool
}

// entities post-processes one text's logits [tokens, labels].
func (m *Model) entities(text string, e *tokenizer.Encoding, logits []float32, labels int, agg Aggregation) []Entity {
	pre := m.gatherPreEntities(text, e, logits, labels)
	var ents []Entity
	switch agg {
	case AggregateNone, AggregateSimple:
		for _, p := range pre {
			best := argmax(p.scores)
			ents = append(ents, Entity{Label: m.label(best), Score: float32(p.scores[best]), Word: p.word,
				Start: p.start, End: p.end, Index: p.index})
		}
	default:
		ents = m.aggregateWords(pre, agg)
	}
	if agg != AggregateNone {
		ents = m.groupEntities(ents)
	}
	kept := ents[:0]
	for _, x := range ents {
		if x.Label != ignoredLabel {
			kept = append(kept, x)
		}
	}
	if len(kept) == 0 {
		return []Entity{}
	}
	return kept
}

func (m *Model) gatherPreEntities(text string, e *tokenizer.Encoding, logits []float32, labels int) []preEntity {
	runes := []rune(text) // offsets are code points
	wordAware := m.tok.ContinuingSubwordPrefix() != ""
	unk, hasUnk := m.tok.UNKID()
	var pre []preEntity
	for t, id := range e.IDs {
		if t >= len(e.SpecialTokensMask) || t >= len(e.Offsets) || e.SpecialTokensMask[t] == 1 {
			continue
		}
		word, _ := m.tok.IDToToken(id)
		start, end := e.Offsets[t][0], e.Offsets[t][1]
		start, end = min(max(start, 0), len(runes)), min(max(end, 0), len(runes))
		ref := string(runes[start:max(start, end)])
		var subword bool
		if wordAware {
			subword = utf8.RuneCountInString(word) != utf8.RuneCountInString(ref)
		} else {
			subword = start > 0 && runes[start-1] != ' ' && (start >= len(runes) || runes[start] != ' ')
		}
		if hasUnk && id == unk {
			word, subword = ref, false
		}
		pre = append(pre, preEntity{word: word, scores: softmaxRow(logits[t*labels : (t+1)*labels]), start: start,
			end: end, index: t, subword: subword})
	}
	return pre
}

// aggregateWords merges each word's tokens (a token that is not a subword
// starts a word) into one entity labelled by the strategy.
func (m *Model) aggregateWords(pre []preEntity, agg Aggregation) []Entity {
	var out []Entity
	for lo := 0; lo < len(pre); {
		hi := lo + 1
		for hi < len(pre) && pre[hi].subword {
			hi++
		}
		out = append(out, m.aggregateWord(pre[lo:hi], agg))
		lo = hi
	}
	return out
}

func (m *Model) aggregateWord(toks []preEntity, agg Aggregation) Entity {
	words := make([]string, len(toks))
	for i, t := range toks {
		words[i] = t.word
	}
	var scores []float64
	switch agg {
	case AggregateFirst:
		scores = toks[0].scores
	case AggregateMax:
		best, bestP := 0, math.Inf(-1)
		for i, t := range toks {
			if p := t.scores[argmax(t.scores)]; p > bestP { // first token wins ties, as Python's max
				best, bestP = i, p
			}
		}
		scores = toks[best].scores
	case AggregateAverage:
		scores = make([]float64, len(toks[0].scores))
		for _, t := range toks {
			for j, p := range t.scores {
				scores[j] += p
			}
		}
		for j := range scores {
			scores[j] /= float64(len(toks))
		}
	}
	best := argmax(scores)
	return Entity{Label: m.label(best), Score: float32(scores[best]), Word: m.tok.ConvertTokensToString(words),
		Start: toks[0].start, End: toks[len(toks)-1].end, Index: -1}
}

// tagOf splits a label into its B/I marker and tag; a label without a B-
// or I- prefix continues like an I-.
func tagOf(label string) (bi byte, tag string) {
	if strings.HasPrefix(label, "B-") {
		return 'B', label[2:]
	}
	if strings.HasPrefix(label, "I-") {
		return 'I', label[2:]
	}
	return 'I', label
}

// groupEntities merges adjacent entities of the same tag unless the later
// one begins a new entity (B-).
func (m *Model) groupEntities(ents []Entity) []Entity {
	var out []Entity
	for lo := 0; lo < len(ents); {
		_, tag := tagOf(ents[lo].Label)
		hi := lo + 1
		for hi < len(ents) {
			bi, t := tagOf(ents[hi].Label)
			if t != tag || bi == 'B' {
				break
			}
			hi++
		}
		out = append(out, groupOf(m.tok, ents[lo:hi]))
		lo = hi
	}
	return out
}

// groupOf is one group: the label after the first "-" of the first
// member's label (the pipeline's split("-", 1)[-1]), the mean score, the
// members' words joined by the decoder.
func groupOf(tok *tokenizer.Tokenizer, g []Entity) Entity {
	label := g[0].Label
	if _, after, ok := strings.Cut(label, "-"); ok {
		label = after
	}
	var sum float64
	words := make([]string, len(g))
	for i, x := range g {
		sum += float64(x.Score)
		words[i] = x.Word
	}
	return Entity{Label: label, Score: float32(sum / float64(len(g))), Word: tok.ConvertTokensToString(words),
		Start: g[0].Start, End: g[len(g)-1].End, Index: -1}
}

// softmaxRow returns the probabilities of one row of logits, in float64.
func softmaxRow(x []float32) []float64 {
	mx := math.Inf(-1)
	for _, v := range x {
		mx = max(mx, float64(v))
	}
	out := make([]float64, len(x))
	var sum float64
	for i, v := range x {
		out[i] = math.Exp(float64(v) - mx)
		sum += out[i]
	}
	for i := range out {
		out[i] /= sum
	}
	return out
}

// argmax is the index of the largest value (the first on ties, as numpy).
func argmax(x []float64) int {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return best
}
