package serve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
)

// ErrorType is the "error_type" of a TEI error body. The values and their
// status codes are text-embeddings-inference's.
type ErrorType string

const (
	Validation ErrorType = "validation" // 413 (bad sizes), or the status the apiError carries
	Tokenizer  ErrorType = "tokenizer"  // 422
	Backend    ErrorType = "backend"    // 424
	Overloaded ErrorType = "overloaded" // 429
	Unhealthy  ErrorType = "unhealthy"  // 503
	Empty      ErrorType = "empty"      // 400
)

// apiError is an error that knows its HTTP status and how to describe
// itself to both TEI and OpenAI clients.
type apiError struct {
	Status int
	Type   ErrorType
	Msg    string
	Param  string // OpenAI "param": the request field at fault
	Code   string // OpenAI "code": a short machine-readable reason
}

func (e *apiError) Error() string { return e.Msg }

func errorf(status int, typ ErrorType, code, param, format string, a ...any) *apiError {
	return &apiError{Status: status, Type: typ, Code: code, Param: param, Msg: fmt.Sprintf(format, a...)}
}

// Common errors. Sizes over a limit are 413 as in TEI; JSON that does not
// parse is 400 and JSON of the wrong shape 422 (as axum, TEI's framework,
// answers); an empty batch is 400 "empty".
func errEmpty(field string) *apiError {
	return errorf(http.StatusBadRequest, Empty, "empty_input", field, "`%s` cannot be empty", field)
}

func errBatchSize(n, max int) *apiError {
	return errorf(http.StatusRequestEntityTooLarge, Validation, "too_many_inputs", "",
		"batch size %d > maximum allowed batch size %d", n, max)
}

func errInvalid(param, format string, a ...any) *apiError {
	return errorf(http.StatusUnprocessableEntity, Validation, "invalid_value", param, format, a...)
}

func errWrongKind(name, kind, what string) *apiError {
	return errorf(http.StatusFailedDependency, Backend, "wrong_model_type", "model",
		"model %q is a %s model; %s", name, kind, what)
}

var errOverloaded = errorf(http.StatusTooManyRequests, Overloaded, "overloaded", "", "Model is overloaded")

var errShuttingDown = errorf(http.StatusServiceUnavailable, Unhealthy, "shutting_down", "", "server is shutting down")

// InvalidInput marks an error of an Index as the client's fault, so the
// server answers 422 with its message instead of 424.
func InvalidInput(err error) error {
	if err == nil {
		return nil
	}
	return &invalidInput{err}
}

type invalidInput struct{ err error }

func (e *invalidInput) Error() string { return e.err.Error() }
func (e *invalidInput) Unwrap() error { return e.err }

// asAPIError classifies any error met while serving a request.
func asAPIError(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	var inv *invalidInput
	if errors.As(err, &inv) {
		return errInvalid("", "%s", inv.Error())
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return errorf(http.StatusRequestEntityTooLarge, Validation, "payload_too_large", "",
			"request body is larger than %d bytes", mbe.Limit)
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return errorf(http.StatusGatewayTimeout, Backend, "timeout", "", "request timed out")
	case errors.Is(err, context.Canceled):
		// The client went away; 499 is what nginx logs for that.
		return errorf(499, Backend, "canceled", "", "request canceled")
	}
	return errorf(http.StatusFailedDependency, Backend, "backend_error", "", "%s", err.Error())
}

type teiError struct {
	Error     string    `json:"error"`
	ErrorType ErrorType `json:"error_type"`
}

type openAIError struct {
	Error openAIErrorBody `json:"error"`
}

type openAIErrorBody struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    *string `json:"code"`
}

// openAIType maps a status to the "type" OpenAI uses for it.
func openAIType(status int) string {
	switch {
	case status == http.StatusTooManyRequests:
		return "rate_limit_error"
	case status == http.StatusUnauthorized:
		return "authentication_error"
	case status == http.StatusNotFound:
		return "invalid_request_error"
	case status >= 400 && status < 424 && status != http.StatusFailedDependency:
		return "invalid_request_error"
	}
	return "server_error"
}

func strPtr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// errorBody renders e in the body style of the route: OpenAI routes get
// {"error": {...}}, the others TEI's {"error", "error_type"}.
func errorBody(e *apiError, openAI bool) any {
	if openAI {
		return openAIError{openAIErrorBody{Message: e.Msg, Type: openAIType(e.Status), Param: strPtr(e.Param), Code: strPtr(e.Code)}}
	}
	return teiError{Error: e.Msg, ErrorType: e.Type}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		// NaN or Inf in a result: report it instead of sending half a body.
		status = http.StatusFailedDependency
		b, _ = json.Marshal(teiError{Error: "result cannot be encoded as JSON: " + err.Error(), ErrorType: Backend})
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}
