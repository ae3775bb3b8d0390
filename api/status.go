package api

import (
	"net/http"

	"provisioner"
)

// StatusFor maps a domain error code to its HTTP status: the one table the
// provisioner's API and the cluster gateway both answer by.
func StatusFor(code string) int {
	switch code {
	case provisioner.EINVALID, provisioner.EEXPIRED:
		return http.StatusBadRequest
	case provisioner.EUNAUTHORIZED, provisioner.ESIGREQUIRED, provisioner.EBADSIGNATURE:
		return http.StatusUnauthorized
	case provisioner.EFORBIDDEN, provisioner.EDENIED:
		return http.StatusForbidden
	case provisioner.ENOTFOUND:
		return http.StatusNotFound
	case provisioner.ECONFLICT, provisioner.ESCHEDULED, provisioner.ETOOLATE, provisioner.EFAILED:
		return http.StatusConflict
	case provisioner.ELIMIT:
		return http.StatusForbidden
	case provisioner.ETOOLARGE:
		return http.StatusRequestEntityTooLarge
	case provisioner.EUNSUPPORTED:
		return http.StatusUnsupportedMediaType
	case provisioner.ERATELIMITED:
		return http.StatusTooManyRequests
	case provisioner.EUNAVAILABLE:
		return http.StatusServiceUnavailable
	case provisioner.ESTORAGEFULL:
		return http.StatusInsufficientStorage
	case provisioner.EPENDING, provisioner.ESLOWDOWN:
		return http.StatusAccepted
	default:
		return http.StatusInternalServerError
	}
}
