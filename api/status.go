package api

import (
	"net/http"

	"provisioner"
)

// statusFor is the HTTP status of each domain error code.
var statusFor = map[string]int{
	provisioner.EINVALID:      http.StatusBadRequest,
	provisioner.EEXPIRED:      http.StatusBadRequest,
	provisioner.EUNAUTHORIZED: http.StatusUnauthorized,
	provisioner.ESIGREQUIRED:  http.StatusUnauthorized,
	provisioner.EBADSIGNATURE: http.StatusUnauthorized,
	provisioner.EFORBIDDEN:    http.StatusForbidden,
	provisioner.EDENIED:       http.StatusForbidden,
	provisioner.ELIMIT:        http.StatusForbidden,
	provisioner.ENOTFOUND:     http.StatusNotFound,
	provisioner.ECONFLICT:     http.StatusConflict,
	provisioner.ESCHEDULED:    http.StatusConflict,
	provisioner.ETOOLATE:      http.StatusConflict,
	provisioner.EFAILED:       http.StatusConflict,
	provisioner.ETOOLARGE:     http.StatusRequestEntityTooLarge,
	provisioner.EUNSUPPORTED:  http.StatusUnsupportedMediaType,
	provisioner.ERATELIMITED:  http.StatusTooManyRequests,
	provisioner.EUNAVAILABLE:  http.StatusServiceUnavailable,
	provisioner.ESTORAGEFULL:  http.StatusInsufficientStorage,
	provisioner.EPENDING:      http.StatusAccepted,
	provisioner.ESLOWDOWN:     http.StatusAccepted,
}

// StatusFor maps a domain error code to its HTTP status: the one table the
// provisioner's API and the cluster gateway both answer by. Any other code
// (EINTERNAL, ESTORAGECORRUPT, none) is 500.
func StatusFor(code string) int {
	if s, ok := statusFor[code]; ok {
		return s
	}
	return http.StatusInternalServerError
}
