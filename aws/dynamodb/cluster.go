package dynamodb

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"provisioner"
)

// clustersPK is the one partition of cluster records; the sort key is the
// cluster name.
const clustersPK = "CLUSTERS"

// maxKeyPart bounds a name or ID used in a key: DynamoDB allows sort keys
// of 1,024 bytes and partition keys of 2,048.
const maxKeyPart = 1000

// createAttempts bounds how often PutCluster retries a create over a
// tombstone whose revision is ahead of this machine's clock.
const createAttempts = 5

// Cluster attributes.
const (
	attrIsPublic  = "is_public"
	attrState     = "state"
	attrNodes     = "node_capacity"
	attrVersion   = "version"
	attrEndpoint  = "endpoint"
	attrCreatedBy = "created_by"
	attrCreatedAt = "created_at"
	attrUpdatedAt = "updated_at"
	attrExpiresAt = "expires_at"
	attrDestroyAt = "destroy_at"
	attrOperation = "operation"
	attrReason    = "reason"
	attrTeam      = "team"
)

// GetCluster returns the named cluster with its revision, or ENOTFOUND. The
// read is strongly consistent.
func (s *Store) GetCluster(ctx context.Context, name string) (provisioner.Cluster, error) {
	notFound := provisioner.Errorf(provisioner.ENOTFOUND, "cluster %q not found", name)
	return getLive(ctx, s, clustersPK, name, name != "", notFound, "read cluster", decodeCluster)
}

// getLive reads the record (pk, sk) consistently and decodes it: notFound
// when there is none, only the tombstone of a deleted one, or when no
// record can have that key (named false, or sk too long). The read of
// GetCluster and GetNodeGroup.
func getLive[T any](ctx context.Context, s *Store, pk, sk string, named bool, notFound error, op string,
	decode func(item) (T, error)) (T, error) {
	var zero T
	if err := checkContext(ctx, op); err != nil {
		return zero, err
	}
	if !named || len(sk) > maxKeyPart {
		return zero, notFound
	}
	out, err := s.db.GetItem(ctx, &ddb.GetItemInput{
		TableName:      aws.String(s.table),
		Key:            key(pk, sk),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return zero, storeError(ctx, err, op)
	}
	it := item(out.Item)
	if it == nil || isTombstone(it) {
		return zero, notFound
	}
	return decode(it)
}

// PutCluster writes every field of c if the stored revision is c.Revision
// (0: only if no record exists, or only a tombstone) and returns the new
// revision; otherwise it returns ECONFLICT and changes nothing. The compare
// and the write are one conditional PutItem, so of any number of writers
// holding the same revision, on any number of machines, exactly one wins.
func (s *Store) PutCluster(ctx context.Context, c provisioner.Cluster) (int64, error) {
	switch {
	case c.Name == "":
		return 0, provisioner.Errorf(provisioner.EINVALID, "cluster name is required")
	case len(c.Name) > maxKeyPart:
		return 0, provisioner.Errorf(provisioner.EINVALID, "cluster name is too long")
	case c.Revision < 0:
		return 0, provisioner.Errorf(provisioner.EINVALID, "cluster revision must not be negative")
	}
	it, err := clusterItem(c)
	if err != nil {
		return 0, err
	}
	return s.putVersioned(ctx, it, c.Revision, fmt.Sprintf("cluster %q", c.Name), "save cluster")
}

// putVersioned writes it (with its key) if the stored revision is revision
// (0: only if absent or a tombstone), the compare-and-swap of PutCluster
// and PutNodeGroup; what names the record in errors ("cluster \"x\"").
func (s *Store) putVersioned(ctx context.Context, it item, revision int64, what, op string) (int64, error) {
	if err := checkContext(ctx, op); err != nil {
		return 0, err
	}
	tok := writeToken()
	it.setNum(attrWriteTok, tok)
	prev := revision
	for range createAttempts {
		rev := s.nextRevision(prev)
		it.setNum(attrRevision, rev)
		cond, names, values := versionedCondition(revision, rev)
		_, err := s.db.PutItem(ctx, &ddb.PutItemInput{
			TableName:                           aws.String(s.table),
			Item:                                it,
			ConditionExpression:                 cond,
			ExpressionAttributeNames:            names,
			ExpressionAttributeValues:           values,
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		})
		if err == nil {
			return rev, nil
		}
		old, failed := conditionFailed(err)
		if !failed {
			return 0, storeError(ctx, err, op)
		}
		if ownWrite(old, tok) { // an SDK retry of a write that landed
			return old.num(attrRevision)
		}
		if prev, err = versionedRetry(old, revision, what, err); err != nil {
			return 0, err
		}
	}
	return 0, tombstoneRace(what)
}

// versionedCondition is the condition of a compare-and-swap write of
// revision rev over revision: the stored revision is still revision, or
// (revision 0) there is no record, or a tombstone below rev.
func versionedCondition(revision, rev int64) (*string, map[string]string, item) {
	if revision == 0 {
		return aws.String("attribute_not_exists(#pk) OR (attribute_exists(#del) AND #rev < :rev)"),
			map[string]string{"#pk": attrPK, "#rev": attrRevision, "#del": attrDeleted}, item{":rev": numAV(rev)}
	}
	return aws.String("#rev = :old AND attribute_not_exists(#del)"),
		map[string]string{"#rev": attrRevision, "#del": attrDeleted}, item{":old": numAV(revision)}
}

// versionedRetry reads the failure (cause) of a compare-and-swap expecting
// revision, old being the item that failed it and not the write's own:
// ECONFLICT, or, for a create over a tombstone at or above the new
// revision (this clock is behind the machine that deleted the record),
// the revision to go above.
func versionedRetry(old item, revision int64, what string, cause error) (int64, error) {
	switch {
	case revision != 0 && (old == nil || isTombstone(old)):
		return 0, provisioner.Wrap(provisioner.ECONFLICT, cause, "%s no longer exists", what)
	case revision != 0:
		return 0, provisioner.Wrap(provisioner.ECONFLICT, cause, "%s was changed by another request", what)
	case old == nil || !isTombstone(old):
		return 0, provisioner.Wrap(provisioner.ECONFLICT, cause, "%s already exists", what)
	}
	return old.num(attrRevision)
}

// tombstoneRace is the error of a create that kept meeting newer
// tombstones.
func tombstoneRace(what string) error {
	return provisioner.Errorf(provisioner.ECONFLICT, "%s is being deleted and created again by other requests", what)
}

// DeleteCluster removes the cluster if its revision is revision, else
// returns ECONFLICT. An absent cluster is not an error, so retries
// converge. The record becomes a tombstone that keeps the revision, so the
// cluster's next incarnation starts above it (see the package doc).
func (s *Store) DeleteCluster(ctx context.Context, name string, revision int64) error {
	if revision < 0 {
		return provisioner.Errorf(provisioner.EINVALID, "cluster revision must not be negative")
	}
	if err := checkContext(ctx, "delete cluster"); err != nil {
		return err
	}
	if name == "" || len(name) > maxKeyPart {
		return nil // no such record can exist
	}
	return s.deleteVersioned(ctx, key(clustersPK, name), revision, fmt.Sprintf("cluster %q", name), "delete cluster")
}

// deleteVersioned turns the record at tomb's key into a tombstone if its
// revision is revision: DeleteCluster's and DeleteNodeGroup's rule.
func (s *Store) deleteVersioned(ctx context.Context, tomb item, revision int64, what, op string) error {
	cond, names, values := s.tombstone(tomb, revision)
	_, err := s.db.PutItem(ctx, &ddb.PutItemInput{
		TableName:                           aws.String(s.table),
		Item:                                tomb,
		ConditionExpression:                 cond,
		ExpressionAttributeNames:            names,
		ExpressionAttributeValues:           values,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if err == nil {
		return nil
	}
	old, failed := conditionFailed(err)
	if !failed {
		return storeError(ctx, err, op)
	}
	if old == nil || isTombstone(old) { // absent, or deleted already (by us or another)
		return nil
	}
	return provisioner.Wrap(provisioner.ECONFLICT, err, "%s was changed by another request", what)
}

// tombstone makes tomb (a record's key) the tombstone of a record deleted
// at revision, and returns the condition of writing it: the record is
// still at revision, and not deleted.
func (s *Store) tombstone(tomb item, revision int64) (*string, map[string]string, item) {
	tomb.setNum(attrRevision, revision)
	tomb.setBool(attrDeleted, true)
	tomb.setTTL(s.expiry(s.now()))
	return aws.String("#rev = :rev AND attribute_not_exists(#del)"),
		map[string]string{"#rev": attrRevision, "#del": attrDeleted}, item{":rev": numAV(revision)}
}

// ListClusters returns every cluster ordered by name (byte order), from one
// strongly consistent Query of the clusters partition.
func (s *Store) ListClusters(ctx context.Context) ([]provisioner.Cluster, error) {
	if err := checkContext(ctx, "list clusters"); err != nil {
		return nil, err
	}
	return queryAll(ctx, s, livePartition(s.table, clustersPK), 0, "list clusters", decodeCluster)
}

// livePartition queries the records of partition pk that are not
// tombstones, strongly consistent.
func livePartition(table, pk string) *ddb.QueryInput {
	return &ddb.QueryInput{
		TableName:                 aws.String(table),
		KeyConditionExpression:    aws.String("#pk = :pk"),
		FilterExpression:          aws.String("attribute_not_exists(#del)"),
		ExpressionAttributeNames:  map[string]string{"#pk": attrPK, "#del": attrDeleted},
		ExpressionAttributeValues: item{":pk": strAV(pk)},
		ConsistentRead:            aws.Bool(true),
	}
}

func clusterItem(c provisioner.Cluster) (item, error) {
	it := key(clustersPK, c.Name)
	it.setBool(attrIsPublic, c.IsPublic)
	it.setStr(attrVersion, c.Version)
	it.setStr(attrEndpoint, c.Endpoint)
	it.setStr(attrTeam, c.Team)
	return it, it.setDeployment(c.Deployment)
}

func decodeCluster(it item) (provisioner.Cluster, error) {
	d := decoder{it: it}
	c := provisioner.Cluster{
		Name:       d.str(attrSK),
		IsPublic:   d.boolean(attrIsPublic),
		Version:    d.str(attrVersion),
		Endpoint:   d.str(attrEndpoint),
		Team:       d.str(attrTeam),
		Deployment: d.deployment(),
	}
	if d.err != nil {
		return provisioner.Cluster{}, d.err
	}
	return c, nil
}

// setDeployment stores what a cluster and a node group share; putVersioned
// adds the revision.
func (it item) setDeployment(d provisioner.Deployment) error {
	it.setStr(attrState, string(d.State))
	it.setNum(attrNodes, int64(d.NodeCapacity))
	it.setStr(attrCreatedBy, d.CreatedBy)
	it.setStr(attrOperation, d.Operation)
	it.setStr(attrReason, d.Reason)
	return it.setTimes([]timeAttr{{attrCreatedAt, d.CreatedAt}, {attrUpdatedAt, d.UpdatedAt},
		{attrExpiresAt, d.ExpiresAt}, {attrDestroyAt, d.DestroyAt}})
}

// deployment reads what setDeployment stored, with the revision.
func (d *decoder) deployment() provisioner.Deployment {
	return provisioner.Deployment{
		State:        provisioner.ClusterState(d.str(attrState)),
		NodeCapacity: int(d.num(attrNodes)),
		CreatedBy:    d.str(attrCreatedBy),
		CreatedAt:    d.time(attrCreatedAt),
		UpdatedAt:    d.time(attrUpdatedAt),
		ExpiresAt:    d.time(attrExpiresAt),
		DestroyAt:    d.time(attrDestroyAt),
		Operation:    d.str(attrOperation),
		Reason:       d.str(attrReason),
		Revision:     d.num(attrRevision),
	}
}

// isTombstone reports whether a cluster item records a deleted cluster.
func isTombstone(it item) bool {
	_, ok := it[attrDeleted]
	return ok
}

// ownWrite reports whether old, the item that failed a conditional write,
// is that write itself: the SDK retried a request whose first attempt
// succeeded but whose response was lost.
func ownWrite(old item, tok int64) bool {
	if old == nil {
		return false
	}
	n, err := old.num(attrWriteTok)
	return err == nil && n == tok
}
