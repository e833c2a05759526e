package daemon

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/credd-dev/credd/apitype"
)

// apiError is an error with an HTTP status and a wire code. Handlers return
// errors; writeError turns them into the one error shape on the wire.
type apiError struct {
	status int
	detail apitype.ErrorDetail
}

func (e *apiError) Error() string { return e.detail.Message }

func errorf(status int, code, msg string) *apiError {
	return &apiError{status: status, detail: apitype.ErrorDetail{Code: code, Message: msg}}
}

func (e *apiError) withHint(h string) *apiError { e.detail.Hint = h; return e }

// handlerFunc is an http.HandlerFunc that returns its error.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

func (d *Daemon) handle(f handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := f(w, r); err != nil {
			d.writeError(w, r, err)
		}
	}
}

func (d *Daemon) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var ae *apiError
	if !errors.As(err, &ae) {
		d.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		ae = errorf(http.StatusInternalServerError, apitype.CodeInternal, err.Error())
	}
	writeJSON(w, ae.status, apitype.ErrorBody{Error: ae.detail})
}

// writeJSON writes v as the response. Credentials, which hold secrets, are
// written by credentialsBody instead.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, err = w.Write(append(b, '\n'))
	return err
}
