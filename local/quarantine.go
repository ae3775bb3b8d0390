package local

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"

	"provisioner"
	"provisioner/local/cluster"
	"provisioner/sqlite"
)

// known is cluster.Known on the store: a cluster is known when it has a
// record. A failed lookup is an error, so the cluster is adopted, never
// quarantined for a store hiccup.
func known(store provisioner.Store) cluster.Known {
	return func(ctx context.Context, name string) (bool, error) {
		_, err := store.GetCluster(ctx, name)
		switch provisioner.ErrorCode(err) {
		case "":
			return true, nil
		case provisioner.ENOTFOUND:
			return false, nil
		}
		return false, err
	}
}

// logAdoption reports what the start-up adoption found.
func logAdoption(r cluster.AdoptResult, log *slog.Logger) {
	if len(r.Adopted) > 0 {
		log.Info("re-adopted local clusters", "clusters", r.Adopted)
	}
	if len(r.Quarantined) > 0 {
		log.Warn("quarantined local clusters: running without a record, left running and not managed; "+
			"list them with `provisioner quarantine --data DIR`, destroy one with `provisioner quarantine destroy NAME --data DIR` once serve is stopped",
			"clusters", r.Quarantined)
	}
	if r.Err != nil {
		log.Error("cleaning up the dead local clusters of the last run", "err", r.Err)
	}
	log.Info("local clusters adopted", "adopted", len(r.Adopted), "quarantined", len(r.Quarantined))
}

// Quarantined lists the clusters with local state under the data
// directory data and no record in its database: those a service on it
// quarantines, and `provisioner quarantine` lists. It creates no database.
func Quarantined(ctx context.Context, data string) ([]string, error) {
	names, err := cluster.Names(filepath.Join(data, clustersDir))
	if err != nil {
		return nil, err
	}
	path := filepath.Join(data, dbName)
	if fi, err := os.Stat(path); err != nil || fi.Size() == 0 {
		return names, nil // no database: nothing is recorded (and none is created here)
	}
	store, err := sqlite.Open(path)
	if err != nil {
		return nil, err
	}
	defer store.Close()
	isKnown := known(store)
	var out []string
	for _, n := range names {
		ok, err := isKnown(ctx, n)
		if err != nil {
			return nil, err
		}
		if !ok {
			out = append(out, n)
		}
	}
	return out, nil
}

// DestroyQuarantined stops the processes of the quarantined cluster name
// under data and removes its state, for `provisioner quarantine destroy`.
// It takes the data directory's lock, so it is refused while a service
// runs there; a cluster that has a record is refused too (ENOTFOUND).
func DestroyQuarantined(ctx context.Context, data, name string) error {
	unlock, err := lockData(data)
	if err != nil {
		return err
	}
	defer unlock()
	names, err := Quarantined(ctx, data)
	if err != nil {
		return err
	}
	found := false
	for _, n := range names {
		found = found || n == name
	}
	if !found {
		return provisioner.Errorf(provisioner.ENOTFOUND,
			"%s is not a cluster without a record under %s (a recorded cluster is destroyed with `provisioner destroy`)", name, data)
	}
	// Destroy starts nothing; the driver needs a command only to be valid.
	d, err := cluster.New(cluster.Config{Dir: filepath.Join(data, clustersDir), Issuer: "http://127.0.0.1",
		Command: "false", Logger: nil})
	if err != nil {
		return err
	}
	return d.Destroy(ctx, name)
}
