// Package local is the embedded backend in one place, as package aws is
// the AWS one: Config (what `provisioner serve`'s flags say) and Open,
// which builds the backend's parts on one data directory and returns them
// as a Backend for cmd/provisioner to wire into the app and the HTTP API:
//
//   - the SQLite store and scheduler (package sqlite), in DATA/provisioner.db;
//   - the RSA keyring that signs tokens (package local/keyring), DATA/keys;
//   - the local cluster driver (package local/cluster) with production's ILB
//     (package local/ilb) or our gateway in front of each cluster,
//     DATA/clusters;
//   - the local job runner (package local/jobs), DATA/jobs, and the file log
//     store (package local/logs), DATA/logs;
//   - GitHub or a static file for identity, affiliates, request signatures.
//
// Open guards the data directory: it takes an exclusive lock on it (a
// second service, or `provisioner quarantine destroy`, on the same
// directory is refused), and refuses a missing or empty database when the
// directory holds clusters or keys of an earlier run unless told to begin
// anew (Config.RecreateDB), in which case the clusters still running are
// quarantined, never destroyed (Quarantined, DestroyQuarantined).
package local
