package serve

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
)

// input is one element of an "inputs"/"input" batch: a text or, as TEI and
// OpenAI allow, the token ids of one sequence.
type input struct {
	text  string
	ids   []int
	isIDs bool
}

// inputs decodes the polymorphic "inputs" field: a string, an array of
// strings, an array of token ids (one sequence), or an array mixing strings
// and arrays of token ids.
type inputs struct {
	items  []input
	single bool // the field was one string or one id array
	set    bool
}

func (x *inputs) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	x.set = true
	switch {
	case len(b) == 0 || string(b) == "null":
		return fieldErr("expected a string, an array of strings or an array of token ids, got null")
	case b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return fieldErr("%v", err)
		}
		x.items, x.single = []input{{text: s}}, true
		return nil
	case b[0] != '[':
		return fieldErr("expected a string, an array of strings or an array of token ids, got %s", jsonKind(b))
	}
	var elems []json.RawMessage
	if err := json.Unmarshal(b, &elems); err != nil {
		return fieldErr("%v", err)
	}
	x.items = make([]input, 0, len(elems))
	if len(elems) > 0 && isNumber(elems[0]) {
		ids, err := decodeIDs(b)
		if err != nil {
			return err
		}
		x.items, x.single = []input{{ids: ids, isIDs: true}}, true
		return nil
	}
	for i, e := range elems {
		e = bytes.TrimSpace(e)
		switch {
		case len(e) > 0 && e[0] == '"':
			var s string
			if err := json.Unmarshal(e, &s); err != nil {
				return fieldErr("element %d: %v", i, err)
			}
			x.items = append(x.items, input{text: s})
		case len(e) > 0 && e[0] == '[':
			ids, err := decodeIDs(e)
			if err != nil {
				return fieldErr("element %d: %v", i, err)
			}
			x.items = append(x.items, input{ids: ids, isIDs: true})
		default:
			return fieldErr("element %d: expected a string or an array of token ids, got %s", i, jsonKind(e))
		}
	}
	return nil
}

func decodeIDs(b []byte) ([]int, error) {
	var ids []int
	if err := json.Unmarshal(b, &ids); err != nil {
		return nil, fieldErr("expected an array of non-negative integer token ids")
	}
	for i, id := range ids {
		if id < 0 {
			return nil, fieldErr("token id %d at position %d is negative", id, i)
		}
	}
	return ids, nil
}

func isNumber(b json.RawMessage) bool {
	b = bytes.TrimSpace(b)
	return len(b) > 0 && (b[0] == '-' || (b[0] >= '0' && b[0] <= '9'))
}

func jsonKind(b []byte) string {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return "nothing"
	}
	switch b[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

// texts decodes a field that is a string or an array of strings.
type texts struct {
	list   []string
	single bool
	set    bool
}

func (x *texts) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	x.set = true
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return fieldErr("%v", err)
		}
		x.list, x.single = []string{s}, true
		return nil
	}
	if len(b) == 0 || b[0] != '[' {
		return fieldErr("expected a string or an array of strings, got %s", jsonKind(b))
	}
	if err := json.Unmarshal(b, &x.list); err != nil {
		return fieldErr("expected a string or an array of strings")
	}
	if x.list == nil {
		x.list = []string{}
	}
	return nil
}

// idLists decodes token ids: one array, or an array of arrays.
type idLists struct {
	lists  [][]int
	single bool
	set    bool
}

func (x *idLists) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	x.set = true
	if len(b) == 0 || b[0] != '[' {
		return fieldErr("expected an array of token ids or an array of arrays of token ids, got %s", jsonKind(b))
	}
	var elems []json.RawMessage
	if err := json.Unmarshal(b, &elems); err != nil {
		return fieldErr("%v", err)
	}
	if len(elems) > 0 && isNumber(elems[0]) {
		ids, err := decodeIDs(b)
		if err != nil {
			return err
		}
		x.lists, x.single = [][]int{ids}, true
		return nil
	}
	x.lists = make([][]int, 0, len(elems))
	for i, e := range elems {
		ids, err := decodeIDs(e)
		if err != nil {
			return fieldErr("element %d: %v", i, err)
		}
		x.lists = append(x.lists, ids)
	}
	return nil
}

// pairInputs decodes TEI's /predict "inputs": a string, a pair
// [string, string], or a batch [[string] | [string, string], ...].
type pairInputs struct {
	items  [][2]string
	hasB   []bool
	single bool
	set    bool
}

func (x *pairInputs) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	x.set = true
	const want = "a string, a pair of strings [string, string] or a batch [[string] | [string, string], ...]"
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return fieldErr("%v", err)
		}
		x.items, x.hasB, x.single = [][2]string{{s, ""}}, []bool{false}, true
		return nil
	}
	if len(b) == 0 || b[0] != '[' {
		return fieldErr("expected %s, got %s", want, jsonKind(b))
	}
	var elems []json.RawMessage
	if err := json.Unmarshal(b, &elems); err != nil {
		return fieldErr("%v", err)
	}
	if len(elems) > 0 && bytes.TrimSpace(elems[0])[0] == '"' {
		var ss []string
		if err := json.Unmarshal(b, &ss); err != nil || len(ss) > 2 {
			return fieldErr("expected %s", want)
		}
		x.single = true
		if len(ss) == 1 {
			x.items, x.hasB = [][2]string{{ss[0], ""}}, []bool{false}
		} else {
			x.items, x.hasB = [][2]string{{ss[0], ss[1]}}, []bool{true}
		}
		return nil
	}
	for i, e := range elems {
		var ss []string
		if err := json.Unmarshal(e, &ss); err != nil || len(ss) < 1 || len(ss) > 2 {
			return fieldErr("element %d: expected [string] or [string, string]", i)
		}
		if len(ss) == 1 {
			x.items, x.hasB = append(x.items, [2]string{ss[0], ""}), append(x.hasB, false)
		} else {
			x.items, x.hasB = append(x.items, [2]string{ss[0], ss[1]}), append(x.hasB, true)
		}
	}
	if x.items == nil {
		x.items = [][2]string{}
	}
	return nil
}

// direction is TEI's truncation_direction: "Right" (default) or "Left",
// in any case.
type direction struct{ left bool }

func (d *direction) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fieldErr("expected \"Left\" or \"Right\", got %s", jsonKind(b))
	}
	switch strings.ToLower(s) {
	case "left":
		d.left = true
	case "right":
		d.left = false
	default:
		return fieldErr("expected \"Left\" or \"Right\", got %q", s)
	}
	return nil
}

// fieldError is a decoding error of a field of the right JSON syntax but
// the wrong shape.
type fieldError struct{ msg string }

func (e *fieldError) Error() string { return e.msg }

func fieldErr(format string, a ...any) error { return &fieldError{fmt.Sprintf(format, a...)} }

// decodeBody reads the request body (already size-limited) into the
// struct *v: 400 for JSON that does not parse, 413 for a body over the
// limit, 422 for JSON of the wrong shape, naming the field. Unknown fields
// are ignored, as TEI and OpenAI do.
func decodeBody(r *http.Request, v any) error {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return err // *http.MaxBytesError, or the client went away
	}
	perr := func(format string, a ...any) error {
		return errorf(http.StatusBadRequest, Validation, "invalid_json", "", format, a...)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return perr("request body is empty; expected a JSON object")
	}
	if !json.Valid(body) {
		var x any
		err := json.Unmarshal(body, &x)
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			return perr("malformed JSON at byte %d: %v", syn.Offset, syn)
		}
		return perr("malformed JSON: %v", err)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil || fields == nil {
		return errInvalid("", "request body must be a JSON object, got %s", jsonKind(body))
	}
	rv := reflect.ValueOf(v).Elem()
	rt := rv.Type()
	for i := 0; i < rt.NumField(); i++ {
		name, _, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
		raw, ok := fields[name]
		if name == "" || name == "-" || !ok {
			continue
		}
		if err := json.Unmarshal(raw, rv.Field(i).Addr().Interface()); err != nil {
			return fieldDecodeError(name, err)
		}
	}
	return nil
}

func fieldDecodeError(name string, err error) error {
	var (
		typ *json.UnmarshalTypeError
		fe  *fieldError
	)
	switch {
	case errors.As(err, &fe):
		return errInvalid(name, "field `%s`: %s", name, fe.msg)
	case errors.As(err, &typ):
		at := name
		if typ.Field != "" {
			at = name + "." + typ.Field
		}
		return errInvalid(name, "field `%s`: expected %s, got %s", at, goTypeName(typ.Type.String()), typ.Value)
	}
	return errInvalid(name, "field `%s`: %v", name, err)
}

// goTypeName turns a Go type into the JSON words a client understands.
func goTypeName(t string) string {
	switch {
	case strings.HasPrefix(t, "*"):
		return goTypeName(t[1:])
	case t == "string":
		return "a string"
	case t == "bool":
		return "a boolean"
	case strings.HasPrefix(t, "int") || strings.HasPrefix(t, "uint"):
		return "an integer"
	case strings.HasPrefix(t, "float"):
		return "a number"
	case strings.HasPrefix(t, "[]"):
		return "an array"
	}
	return "an object"
}
