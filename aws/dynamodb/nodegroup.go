package dynamodb

import (
	"context"
	"fmt"
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"

	"provisioner"
)

// groupsPK is the one partition of node group records; the sort key is
// provisioner.GroupKey (cluster "/" user), so a cluster's groups are one
// begins_with away. Writes are the clusters' compare-and-swap, tombstones
// included.
const groupsPK = "NODEGROUPS"

const attrUser = "user"

func groupWhat(cluster, user string) string {
	return fmt.Sprintf("node group of %q on cluster %q", user, cluster)
}

// GetNodeGroup returns the group with its revision, or ENOTFOUND; the read
// is strongly consistent.
func (s *Store) GetNodeGroup(ctx context.Context, cluster, user string) (provisioner.NodeGroup, error) {
	notFound := provisioner.Errorf(provisioner.ENOTFOUND, "%s not found", groupWhat(cluster, user))
	return getLive(ctx, s, groupsPK, provisioner.GroupKey(cluster, user), cluster != "" && user != "", notFound,
		"read node group", decodeGroup)
}

// PutNodeGroup writes g under PutCluster's compare-and-swap.
func (s *Store) PutNodeGroup(ctx context.Context, g provisioner.NodeGroup) (int64, error) {
	switch {
	case g.Cluster == "" || g.User == "":
		return 0, provisioner.Errorf(provisioner.EINVALID, "node group cluster and user are required")
	case len(g.Key()) > maxKeyPart:
		return 0, provisioner.Errorf(provisioner.EINVALID, "node group names are too long")
	case g.Revision < 0:
		return 0, provisioner.Errorf(provisioner.EINVALID, "node group revision must not be negative")
	}
	it, err := groupItem(g)
	if err != nil {
		return 0, err
	}
	return s.putVersioned(ctx, it, g.Revision, groupWhat(g.Cluster, g.User), "save node group")
}

// groupItem is g's item, without its revision.
func groupItem(g provisioner.NodeGroup) (item, error) {
	it := key(groupsPK, g.Key())
	it.setStr(attrUser, g.User)
	it.setStr(attrCluster, g.Cluster)
	return it, it.setDeployment(g.Deployment)
}

// DeleteNodeGroup tombstones the group if its revision is revision.
func (s *Store) DeleteNodeGroup(ctx context.Context, cluster, user string, revision int64) error {
	if revision < 0 {
		return provisioner.Errorf(provisioner.EINVALID, "node group revision must not be negative")
	}
	if err := checkContext(ctx, "delete node group"); err != nil {
		return err
	}
	sk := provisioner.GroupKey(cluster, user)
	if cluster == "" || user == "" || len(sk) > maxKeyPart {
		return nil
	}
	return s.deleteVersioned(ctx, key(groupsPK, sk), revision, groupWhat(cluster, user), "delete node group")
}

// ListNodeGroups returns the groups of cluster ("": all) from one strongly
// consistent Query, ordered by cluster, then user.
func (s *Store) ListNodeGroups(ctx context.Context, cluster string) ([]provisioner.NodeGroup, error) {
	if err := checkContext(ctx, "list node groups"); err != nil {
		return nil, err
	}
	in := livePartition(s.table, groupsPK)
	if cluster != "" {
		in.KeyConditionExpression = aws.String("#pk = :pk AND begins_with(#sk, :prefix)")
		in.ExpressionAttributeNames["#sk"] = attrSK
		in.ExpressionAttributeValues[":prefix"] = strAV(cluster + "/")
	}
	out, err := queryAll(ctx, s, in, 0, "list node groups", decodeGroup)
	if err != nil {
		return nil, err
	}
	// "a-b/x" sorts before "a/x" by bytes; order as the SQL store does.
	sort.Slice(out, func(i, j int) bool {
		if out[i].Cluster != out[j].Cluster {
			return out[i].Cluster < out[j].Cluster
		}
		return out[i].User < out[j].User
	})
	return out, nil
}

func decodeGroup(it item) (provisioner.NodeGroup, error) {
	d := decoder{it: it}
	g := provisioner.NodeGroup{
		Cluster:    d.str(attrCluster),
		User:       d.str(attrUser),
		Deployment: d.deployment(),
	}
	if d.err != nil {
		return provisioner.NodeGroup{}, d.err
	}
	return g, nil
}
